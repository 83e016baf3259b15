package console_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/apiserver"
	"daestro/console"
	"daestro/internal/store"
	"daestro/internal/testenv"
	"daestro/service"
)

// site is the API server with its console over a fresh database, and a
// browser-like client (cookie jar, no redirects followed automatically).
type site struct {
	t   *testing.T
	url string
	key string
	c   *http.Client
	// st and projectID are the database and the key's project, for rows
	// the console only shows.
	st        *store.Store
	projectID string
}

func newSite(t *testing.T) *site {
	t.Helper()
	st := testenv.SealingStore(t)
	p, err := st.CreateProject(context.Background(), "acme", "Acme")
	require.NoError(t, err)
	_, key, err := st.CreateAPIKey(context.Background(), p.ID, "test")
	require.NoError(t, err)
	log := testenv.Logger(t)
	srv := httptest.NewServer(apiserver.New(apiserver.Options{Store: st, Logger: log,
		Console: func(svc *service.Service) http.Handler {
			return console.MustNew(console.Options{Store: st, Service: svc, Logger: log})
		}}).Handler())
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	return &site{t: t, url: srv.URL, key: key, st: st, projectID: p.ID, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

func (s *site) get(path string) (int, string, http.Header) {
	s.t.Helper()
	resp, err := s.c.Get(s.url + path)
	require.NoError(s.t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func (s *site) post(path string, form url.Values) (int, string, http.Header) {
	s.t.Helper()
	resp, err := s.c.PostForm(s.url+path, form)
	require.NoError(s.t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is the token of the forms on page.
func (s *site) csrf(page string) string {
	s.t.Helper()
	_, body, _ := s.get(page)
	m := csrfRE.FindStringSubmatch(body)
	require.Len(s.t, m, 2, "no CSRF field on %s: %s", page, body)
	return m[1]
}

func (s *site) signIn() {
	s.t.Helper()
	status, _, h := s.post("/signin", url.Values{"csrf": {s.csrf("/signin")}, "api_key": {s.key}, "next": {"/jobs"}})
	require.Equal(s.t, http.StatusSeeOther, status)
	require.Equal(s.t, "/jobs", h.Get("Location"))
}

// api calls the REST API with the project's key.
func (s *site) api(method, path string, body string) (int, map[string]any) {
	s.t.Helper()
	req, _ := http.NewRequest(method, s.url+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+s.key)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(s.t, err)
	defer resp.Body.Close()
	var env map[string]any
	require.NoError(s.t, json.NewDecoder(resp.Body).Decode(&env))
	return resp.StatusCode, env
}

// Signing in opens a session cookie (HttpOnly, SameSite=Strict) that every
// page needs; a POST without the form's CSRF token is refused and changes
// nothing; signing out ends the session on the server.
func TestSignInSessionAndCSRF(t *testing.T) {
	s := newSite(t)
	status, _, h := s.get("/jobs")
	require.Equal(t, http.StatusSeeOther, status, "signed out, a page asks for sign-in")
	assert.Equal(t, "/signin?next=%2Fjobs", h.Get("Location"))

	// A wrong key says why, next to the field, and opens nothing.
	status, body, _ := s.post("/signin", url.Values{"csrf": {s.csrf("/signin")}, "api_key": {"dst_000000000000_nope"}})
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Contains(t, body, `id="err-api_key"`)
	assert.Contains(t, body, "unknown API key dst_000000000000")
	// The sign-in form has its own CSRF token.
	status, _, _ = s.post("/signin", url.Values{"api_key": {s.key}})
	assert.Equal(t, http.StatusForbidden, status)

	resp, err := s.c.PostForm(s.url+"/signin", url.Values{"csrf": {s.csrf("/signin")}, "api_key": {s.key}})
	require.NoError(t, err)
	resp.Body.Close()
	var session *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "daestro_session" && ck.Value != "" {
			session = ck
		}
	}
	require.NotNil(t, session)
	assert.True(t, session.HttpOnly)
	assert.Equal(t, http.SameSiteStrictMode, session.SameSite)
	assert.Greater(t, session.MaxAge, 0, "the session expires")

	status, body, h = s.get("/")
	require.Equal(t, http.StatusOK, status, body)
	assert.Contains(t, body, "Jobs by state")
	assert.Equal(t, "DENY", h.Get("X-Frame-Options"))

	// No token, or a wrong one: 403 and no queue.
	for _, form := range []url.Values{{"name": {"etl"}}, {"name": {"etl"}, "csrf": {"forged"}}} {
		status, _, _ = s.post("/job-queues", form)
		assert.Equal(t, http.StatusForbidden, status)
	}
	_, list := s.api(http.MethodGet, "/v1/job-queues", "")
	assert.Empty(t, list["data"].(map[string]any)["items"], "a refused POST wrote nothing")

	status, _, _ = s.post("/signout", url.Values{"csrf": {s.csrf("/")}})
	require.Equal(t, http.StatusSeeOther, status)
	status, _, _ = s.get("/")
	assert.Equal(t, http.StatusSeeOther, status, "signed out")
	// The old cookie is dead on the server too.
	req, _ := http.NewRequest(http.MethodGet, s.url+"/", nil)
	req.AddCookie(session)
	resp, err = (&http.Client{CheckRedirect: s.c.CheckRedirect}).Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
}

// A form the API would refuse shows the API's own sentence next to the
// field, keeps what was typed, and writes nothing.
func TestBadFormShowsTheAPIsSentence(t *testing.T) {
	s := newSite(t)
	s.signIn()
	status, api := s.api(http.MethodPost, "/v1/job-queues", `{"name":"my queue","priority":10}`)
	require.Equal(t, http.StatusBadRequest, status)
	sentence := api["message"].(string)

	status, body, _ := s.post("/job-queues", url.Values{"csrf": {s.csrf("/job-queues/new")}, "name": {"my queue"}, "priority": {"10"}, "description": {"kept"}})
	assert.Equal(t, http.StatusBadRequest, status)
	m := regexp.MustCompile(`(?s)<p class="error" id="err-name" role="alert">(.*?)</p>`).FindStringSubmatch(body)
	require.Len(t, m, 2, body)
	assert.Equal(t, sentence, htmlUnescape(m[1]))
	assert.Contains(t, body, `value="my queue"`, "what the user typed stays")
	assert.Contains(t, body, `value="kept"`)
	_, list := s.api(http.MethodGet, "/v1/job-queues", "")
	assert.Empty(t, list["data"].(map[string]any)["items"])

	// The good form creates the queue; a self-hosted env and a definition too.
	status, _, h := s.post("/job-queues", url.Values{"csrf": {s.csrf("/job-queues/new")}, "name": {"etl"}, "priority": {"10"}})
	require.Equal(t, http.StatusSeeOther, status)
	assert.Regexp(t, `^/job-queues/[0-9a-f-]{36}$`, h.Get("Location"))
	status, _, h = s.post("/compute-envs", url.Values{"csrf": {s.csrf("/compute-envs/new")}, "kind": {"selfhosted"}, "name": {"boxes"}, "usable_cpu_pct": {"200"}})
	require.Equal(t, http.StatusSeeOther, status)
	_, body, _ = s.get(h.Get("Location"))
	assert.Contains(t, body, "200 % CPU")
}

// Sensitive env values of a definition or a job never appear in a page;
// a new revision keeps the hidden value unless the user gives a new one.
func TestSensitiveValuesNeverShown(t *testing.T) {
	s := newSite(t)
	s.signIn()
	const secret = "s3cr3t-value-never-shown"
	status, _, h := s.post("/job-definitions", url.Values{"csrf": {s.csrf("/job-definitions/new")}, "name": {"etl"}, "type": {"docker"},
		"image": {"busybox:1.36"}, "command": {"sh\n-c\necho hi"}, "env": {"PLAIN=visible"}, "sensitive_env": {"TOKEN=" + secret}, "timeout_seconds": {"0"}})
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, "/job-definitions/etl:1", h.Get("Location"))
	for _, page := range []string{"/job-definitions/etl:1", "/job-definitions", "/job-definitions/etl/revise"} {
		_, body, _ := s.get(page)
		assert.NotContains(t, body, secret, page)
		if page != "/job-definitions" {
			assert.Contains(t, body, "TOKEN", page, "the variable is listed, its value is not")
		}
	}
	_, body, _ := s.get("/job-definitions/etl:1")
	assert.Contains(t, body, "PLAIN=visible")

	// The revise form is prefilled; sent back as it is, the value stays.
	_, form, _ := s.get("/job-definitions/etl/revise")
	assert.Contains(t, form, `value="busybox:1.36"`)
	status, _, h = s.post("/job-definitions/etl/revisions", url.Values{"csrf": {s.csrf("/job-definitions/etl/revise")}, "type": {"docker"},
		"image": {"busybox:1.36"}, "command": {"sh\n-c\necho hi"}, "env": {"PLAIN=visible"}, "sensitive_env": {"TOKEN"}, "timeout_seconds": {"0"}})
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, "/job-definitions/etl:2", h.Get("Location"))
	_, api := s.api(http.MethodGet, "/v1/job-definitions/etl:2", "")
	env := api["data"].(map[string]any)["env"].(map[string]any)
	assert.Equal(t, map[string]any{"sensitive": true}, env["TOKEN"], "kept, and still write-only")
}

func htmlUnescape(s string) string {
	r := strings.NewReplacer("&#34;", `"`, "&quot;", `"`, "&#39;", "'", "&amp;", "&", "&lt;", "<", "&gt;", ">")
	return r.Replace(s)
}

// A registry auth made in the console is the API's; its password never
// shows, and a definition that uses it cannot lose it.
func TestRegistryAuthForm(t *testing.T) {
	s := newSite(t)
	s.signIn()
	const password = "registry-password-never-shown"
	status, body, _ := s.post("/registry-auths", url.Values{"csrf": {s.csrf("/registry-auths/new")}, "name": {"bad name"}, "password": {password}})
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, body, `id="err-name"`)
	assert.NotContains(t, body, password, "a failed form never echoes the password")
	status, _, h := s.post("/registry-auths", url.Values{"csrf": {s.csrf("/registry-auths/new")}, "name": {"ghcr"},
		"registry_url": {"ghcr.io"}, "username": {"bot"}, "password": {password}})
	require.Equal(t, http.StatusSeeOther, status)
	for _, page := range []string{h.Get("Location"), "/registry-auths", "/job-definitions/new"} {
		_, body, _ := s.get(page)
		assert.NotContains(t, body, password, page)
		assert.Contains(t, body, "ghcr", page)
	}
}
