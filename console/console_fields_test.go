package console_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/internal/quartz"
)

// fieldError is the sentence the page shows next to field; "" when none.
func fieldError(t *testing.T, body, field string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<p class="error" id="err-` + regexp.QuoteMeta(field) + `" role="alert">(.*?)</p>`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return htmlUnescape(m[1])
}

// preview is the answer of GET /cron-jobs/preview.
type preview struct {
	Status string `json:"status"`
	Items  []struct {
		At    string `json:"at"`
		AtUTC string `json:"at_utc"`
	} `json:"items"`
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (s *site) preview(expr, tz string) (int, preview) {
	s.t.Helper()
	status, body, h := s.get("/cron-jobs/preview?" + url.Values{"expression": {expr}, "time_zone": {tz}}.Encode())
	require.Equal(s.t, "application/json; charset=utf-8", h.Get("Content-Type"), body)
	var p preview
	require.NoError(s.t, json.Unmarshal([]byte(body), &p), body)
	return status, p
}

// The cron form's preview: the next 10 triggers of what is typed, in its
// zone and in UTC, from the evaluation the API's upcoming list uses; a bad
// expression or zone answers the API's own sentence for the field it names.
// The new-cron page renders the same list before any script runs.
func TestConsoleCronPreviewFollowsTheExpression(t *testing.T) {
	s := newSite(t)
	s.signIn()
	const expr, tz = "0 30 9 ? * MON-FRI", "Europe/Berlin"
	status, p := s.preview(expr, tz)
	require.Equal(t, http.StatusOK, status, p)
	require.Len(t, p.Items, 10)
	sched, err := quartz.Parse(expr)
	require.NoError(t, err)
	loc, _ := time.LoadLocation(tz)
	want := sched.Upcoming(time.Now().In(loc), 10)
	assert.Equal(t, want[0].Format("2006-01-02 15:04:05 MST"), p.Items[0].At)
	assert.Equal(t, want[9].UTC().Format("2006-01-02 15:04:05 UTC"), p.Items[9].AtUTC)
	assert.Regexp(t, ` 09:30:00 CES?T$`, p.Items[0].At)
	assert.Contains(t, p.Status, "Europe/Berlin")

	// More than once a minute: the floor the create would warn of.
	_, p = s.preview("*/10 * * * * ?", "")
	require.Len(t, p.Items, 10)
	assert.Contains(t, p.Status, "at most once a minute")
	assert.Contains(t, p.Status, "In UTC")

	base := map[string]any{"name": "nightly", "job_definition": "etl", "job_queue": "q", "expression": expr, "time_zone": tz}
	for _, bad := range []struct{ field, expr, tz string }{
		{"expression", "0 61 * * * ?", tz},
		{"expression", "0 0 12 5#3 * ?", tz},
		{"expression", "", tz},
		{"time_zone", expr, "Mars/Olympus"},
	} {
		body := map[string]any{}
		for k, v := range base {
			body[k] = v
		}
		body["expression"], body["time_zone"] = bad.expr, bad.tz
		raw, _ := json.Marshal(body)
		apiStatus, api := s.api(http.MethodPost, "/v1/cron-jobs", string(raw))
		require.Equal(t, http.StatusBadRequest, apiStatus, api)
		status, p = s.preview(bad.expr, bad.tz)
		assert.Equal(t, http.StatusBadRequest, status)
		assert.Equal(t, bad.field, p.Field, bad)
		assert.Equal(t, api["message"], p.Message, "the API's sentence for %q in %q", bad.expr, bad.tz)
		assert.Empty(t, p.Items)
	}

	// Server-rendered: the default expression's 10 triggers on the new page,
	// and a bad expression's sentence next to its field after a submit.
	_, page, _ := s.get("/cron-jobs/new")
	list := regexp.MustCompile(`(?s)<ol id="cron-preview"[^>]*>(.*?)</ol>`).FindStringSubmatch(page)
	require.Len(t, list, 2, page)
	assert.Equal(t, 10, strings.Count(list[1], "<li>"))
	assert.Contains(t, page, `data-cron-preview="/cron-jobs/preview"`)
	status, page, _ = s.post("/cron-jobs", url.Values{"csrf": {s.csrf("/cron-jobs/new")}, "name": {"nightly"}, "expression": {"0 61 * * * ?"},
		"time_zone": {tz}, "job_definition": {"etl"}, "job_queue": {"q"}})
	assert.Equal(t, http.StatusBadRequest, status)
	_, p = s.preview("0 61 * * * ?", tz)
	assert.Equal(t, p.Message, fieldError(t, page, "expression"))
	assert.Contains(t, page, `value="0 61 * * * ?"`, "what was typed stays")
	_, list2 := s.api(http.MethodGet, "/v1/cron-jobs", "")
	assert.Empty(t, list2["data"].(map[string]any)["items"], "nothing written")
}

// The new-job form's retry strategy, array size and dependencies follow
// the API's rules: a bad value shows the API's sentence next to its field,
// keeps what was typed and writes nothing.
func TestConsoleJobFormRefusesWhatTheAPIRefuses(t *testing.T) {
	s := newSite(t)
	s.signIn()
	for _, c := range []struct {
		field string
		form  url.Values
		api   string
	}{
		{"retry_strategy.attempts", url.Values{"retry_strategy.attempts": {"11"}}, `"retry_strategy":{"attempts":11}`},
		{"retry_strategy.attempts", url.Values{"retry_strategy.evaluate_on_exit": {"on_exit_code=3 action=retry"}},
			`"retry_strategy":{"evaluate_on_exit":[{"on_exit_code":"3","action":"retry"}]}`},
		{"retry_strategy.evaluate_on_exit", url.Values{"retry_strategy.attempts": {"3"}, "retry_strategy.evaluate_on_exit": {"on_exit_code=3 action=retry\non_reason=sunspots action=exit"}},
			`"retry_strategy":{"attempts":3,"evaluate_on_exit":[{"on_exit_code":"3","action":"retry"},{"on_reason":"sunspots","action":"exit"}]}`},
		{"retry_strategy.evaluate_on_exit", url.Values{"retry_strategy.attempts": {"3"}, "retry_strategy.evaluate_on_exit": {"on_exit_code=300 action=retry"}},
			`"retry_strategy":{"attempts":3,"evaluate_on_exit":[{"on_exit_code":"300","action":"retry"}]}`},
		{"array_size", url.Values{"array_size": {"10001"}}, `"array_size":10001`},
		{"depends_on", url.Values{"depends_on": {"not-a-job"}}, `"depends_on":[{"job_id":"not-a-job"}]`},
		{"depends_on", url.Values{"depends_on": {"SEQUENTIAL"}}, `"depends_on":[{"type":"SEQUENTIAL"}]`},
		{"depends_on", url.Values{"depends_on": {"0193a1b2-0000-7000-8000-000000000001 whenever"}},
			`"depends_on":[{"job_id":"0193a1b2-0000-7000-8000-000000000001","type":"whenever"}]`},
	} {
		status, api := s.api(http.MethodPost, "/v1/jobs", `{"job_definition":"etl","job_queue":"q",`+c.api+`}`)
		require.Equal(t, http.StatusBadRequest, status, api)
		form := url.Values{"csrf": {s.csrf("/jobs/new")}, "job_definition": {"etl"}, "job_queue": {"q"}, "name": {"typed-name"}}
		for k, v := range c.form {
			form[k] = v
		}
		status, page, _ := s.post("/jobs", form)
		assert.Equal(t, http.StatusBadRequest, status, c.form)
		assert.Equal(t, api["message"], fieldError(t, page, c.field), c.form)
		assert.Contains(t, page, `value="typed-name"`, "what was typed stays")
		for _, v := range c.form {
			assert.Contains(t, page, htmlEscape(v[0]), "what was typed stays")
		}
	}
	// A rule line the form cannot read says how to write one.
	status, page, _ := s.post("/jobs", url.Values{"csrf": {s.csrf("/jobs/new")}, "job_definition": {"etl"}, "job_queue": {"q"},
		"retry_strategy.attempts": {"2"}, "retry_strategy.evaluate_on_exit": {"3 -> retry"}})
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, fieldError(t, page, "retry_strategy.evaluate_on_exit"), "write e.g. on_exit_code=3 action=retry")
	_, list := s.api(http.MethodGet, "/v1/jobs", "")
	assert.Empty(t, list["data"].(map[string]any)["items"], "nothing written")
}

// A definition's retry strategy made in the form is the API's; the revise
// form is prefilled with it, and emptied it goes back to the default.
func TestConsoleDefinitionRetryStrategy(t *testing.T) {
	s := newSite(t)
	s.signIn()
	def := url.Values{"name": {"flaky"}, "type": {"docker"}, "image": {"busybox:1.36"}, "command": {"sh\n-c\nexit 3"}, "timeout_seconds": {"0"},
		"retry_strategy.attempts": {"3"}, "retry_strategy.evaluate_on_exit": {"on_exit_code=3 action=retry\non_exit_code=4 action=exit"}}
	bad := url.Values{"csrf": {s.csrf("/job-definitions/new")}}
	for k, v := range def {
		bad[k] = v
	}
	bad.Set("retry_strategy.attempts", "0")
	status, api := s.api(http.MethodPost, "/v1/job-definitions", `{"name":"flaky","type":"docker","image":"busybox:1.36","retry_strategy":{"attempts":0}}`)
	require.Equal(t, http.StatusBadRequest, status)
	status, page, _ := s.post("/job-definitions", bad)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, api["message"], fieldError(t, page, "retry_strategy.attempts"))

	def.Set("csrf", s.csrf("/job-definitions/new"))
	status, _, h := s.post("/job-definitions", def)
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, "/job-definitions/flaky:1", h.Get("Location"))
	_, got := s.api(http.MethodGet, "/v1/job-definitions/flaky:1", "")
	assert.Equal(t, map[string]any{"attempts": 3.0, "evaluate_on_exit": []any{
		map[string]any{"on_exit_code": "3", "action": "retry"}, map[string]any{"on_exit_code": "4", "action": "exit"}}},
		got["data"].(map[string]any)["retry_strategy"])
	_, page, _ = s.get("/job-definitions/flaky:1")
	assert.Contains(t, page, "up to 3 runs in all")
	assert.Contains(t, page, "<code>on_exit_code=3 action=retry</code>")
	_, page, _ = s.get("/job-definitions/flaky/revise")
	assert.Contains(t, page, ">on_exit_code=3 action=retry\non_exit_code=4 action=exit</textarea>")

	rev := url.Values{"csrf": {s.csrf("/job-definitions/flaky/revise")}, "type": {"docker"}, "image": {"busybox:1.36"}, "command": {"sh\n-c\nexit 3"}, "timeout_seconds": {"0"}}
	status, _, h = s.post("/job-definitions/flaky/revisions", rev)
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, "/job-definitions/flaky:2", h.Get("Location"))
	_, got = s.api(http.MethodGet, "/v1/job-definitions/flaky:2", "")
	assert.Nil(t, got["data"].(map[string]any)["retry_strategy"], "emptied, the revision has the default")
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", `"`, "&#34;", "'", "&#39;", "<", "&lt;", ">", "&gt;").Replace(s)
}
