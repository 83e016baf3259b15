package console

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"daestro/internal/domain"
)

// cronPreview is the next triggers of what a cron job form holds: the
// preview under the form's expression and zone, rendered with the page and
// answered as JSON by GET /cron-jobs/preview while the user types.
type cronPreview struct {
	// Title heads the list.
	Title string `json:"-"`
	// Status says what the times are (their zone, the one-minute floor), or
	// why there are none.
	Status string `json:"status"`
	// Items are the times as the pages show them, soonest first.
	Items []previewTime `json:"items"`
	// Field and Message are a bad value's field and the API's sentence; "" when both are good.
	Field   string `json:"field,omitempty"`
	Message string `json:"message,omitempty"`
}

// previewTime is one trigger in the cron job's zone and in UTC.
type previewTime struct {
	At    string `json:"at"`
	AtUTC string `json:"at_utc"`
}

// cronTime writes a trigger time in its zone, as the cron pages show it.
func cronTime(t time.Time) string { return t.Format("2006-01-02 15:04:05 MST") }

// previewOf checks expression and zone as a cron job's create does
// (domain.PreviewCronTriggers, the evaluation the API's upcoming list is
// bounded by) and lists their next triggers.
func previewOf(title, expression, timeZone string) cronPreview {
	p := cronPreview{Title: title, Items: []previewTime{}}
	up, warnings, err := domain.PreviewCronTriggers(strings.TrimSpace(expression), strings.TrimSpace(timeZone), time.Now(), domain.DefaultCronUpcoming)
	if err != nil {
		f := newForm(nil)
		f.fail(err, "expression", "time_zone")
		p.Field, p.Message = "expression", domain.ErrorMessage(err)
		if f.Err("time_zone") != "" {
			p.Field = "time_zone"
		}
		p.Status = "No triggers: " + p.Message
		return p
	}
	for _, it := range up.Items {
		p.Items = append(p.Items, previewTime{At: cronTime(it.At), AtUTC: when(it.AtUTC)})
	}
	p.Status = "In " + up.TimeZone + ", with the time in UTC in brackets."
	if len(p.Items) == 0 {
		p.Status = "The expression never fires again."
	}
	for _, w := range warnings {
		p.Status += " " + w
	}
	return p
}

// showError puts a bad expression's or zone's sentence next to its
// field, unless the submit already put one there.
func (p cronPreview) showError(f *form) {
	if p.Field != "" && f.Err(p.Field) == "" {
		f.Errors[p.Field] = p.Message
	}
}

// cronPreviewJSON answers the next triggers of ?expression= in ?time_zone=
// for the cron forms' script: 200 with the times, or 400 with the API's
// sentence and the field it names.
func (c *Console) cronPreviewJSON(w http.ResponseWriter, r *http.Request, _ *domain.ConsoleSession) {
	q := r.URL.Query()
	p := previewOf("", q.Get("expression"), q.Get("time_zone"))
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	status := http.StatusOK
	if p.Message != "" {
		status = http.StatusBadRequest
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(p)
}
