// Package console is daestro's web console: server-rendered pages (Go
// html/template, embedded) for everything the API can do, signed in with a
// project API key. Every page reads and writes through the same store and
// service calls as the API's handlers, so a rule has one implementation and
// the console shows the API's own sentence next to the field it concerns.
package console

import (
	"context"
	"crypto/subtle"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"daestro/internal/config"
	"daestro/internal/domain"
	"daestro/internal/store"
	"daestro/service"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Cookie and form names the browser carries.
const (
	sessionCookie = "daestro_session"
	signInCookie  = "daestro_signin"
	csrfField     = "csrf"
)

// DefaultSessionTTL is how long a console session lasts after sign-in.
const DefaultSessionTTL = 12 * time.Hour

// Options are what the console needs; cmd/daestro fills them from config.
type Options struct {
	// Store is the Postgres handle the API uses.
	Store *store.Store
	// Service writes the changes that span Postgres and Temporal (the API's own).
	Service *service.Service
	// Logger receives internal errors.
	Logger *slog.Logger
	// BashImage is the image bash-script job definitions run in.
	BashImage string
	// PublicURL is the URL agents reach the server at (the request's when empty).
	PublicURL string
	// AgentImage is the agent image of a new spawn's docker run line.
	AgentImage string
	// TemporalUIURL links jobs and spawns to their workflows in the Temporal Web UI; none when empty.
	TemporalUIURL string
	// TemporalNamespace is the namespace in those links.
	TemporalNamespace string
	// SecureCookies marks cookies Secure even when the request came without
	// TLS (a TLS-terminating proxy); a request over TLS always gets them.
	SecureCookies bool
	// SessionTTL bounds a session (DefaultSessionTTL when zero).
	SessionTTL time.Duration
	// MaxFollowers bounds the live log streams one session holds open (32 when zero).
	MaxFollowers int
}

// Console serves the pages.
type Console struct {
	o         Options
	pages     map[string]*template.Template
	mux       *http.ServeMux
	followers *followers
}

// New parses the templates and registers the pages.
func New(o Options) (*Console, error) {
	if o.SessionTTL <= 0 {
		o.SessionTTL = DefaultSessionTTL
	}
	if o.MaxFollowers <= 0 {
		o.MaxFollowers = 32
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.BashImage == "" {
		o.BashImage = config.DefaultBashImage
	}
	if o.AgentImage == "" {
		o.AgentImage = config.DefaultAgentImage
	}
	if o.TemporalNamespace == "" {
		o.TemporalNamespace = config.DefaultTemporalNamespace
	}
	o.PublicURL = strings.TrimRight(o.PublicURL, "/")
	o.TemporalUIURL = strings.TrimRight(o.TemporalUIURL, "/")
	c := &Console{o: o, pages: map[string]*template.Template{}, mux: http.NewServeMux(),
		followers: &followers{max: o.MaxFollowers, count: map[string]int{}}}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("console template %s: %w", n, err)
		}
		c.pages[base] = t
	}
	c.routes()
	return c, nil
}

// MustNew is New for templates known to parse (they are embedded).
func MustNew(o Options) *Console {
	c, err := New(o)
	if err != nil {
		panic(err)
	}
	return c
}

// ServeHTTP serves a console page, with headers that keep it out of frames
// and caches and let only its own scripts and styles run.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'")
	if !strings.HasPrefix(r.URL.Path, "/static/") {
		h.Set("Cache-Control", "no-store")
	}
	c.mux.ServeHTTP(w, r)
}

// handler is a page handler of a signed-in session.
type handler func(w http.ResponseWriter, r *http.Request, s *domain.ConsoleSession)

// signedIn runs h for a valid session: without one, a page asks for sign-in
// (and comes back after it); a POST must carry the session's CSRF token or
// is refused with 403 before anything is read or written.
func (c *Console) signedIn(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess, err := c.session(r)
		if err != nil {
			// A POST without a session changes nothing: it goes to sign-in too.
			next := r.URL.RequestURI()
			if r.Method != http.MethodGet {
				next = "/"
			}
			msg := ""
			if domain.ErrorCode(err) == domain.EUNAUTHORIZED {
				if _, cookieErr := r.Cookie(sessionCookie); cookieErr == nil {
					msg = domain.ErrorMessage(err)
				}
			} else {
				c.o.Logger.Error("console session", "error", err)
				msg = domain.ErrorMessage(store.UserError(err))
			}
			c.clearCookie(w, r, sessionCookie)
			q := url.Values{"next": {next}}
			if msg != "" {
				q.Set("why", msg)
			}
			http.Redirect(w, r, "/signin?"+q.Encode(), http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodPost {
			if err := r.ParseMultipartForm(1 << 20); err != nil && !errors.Is(err, http.ErrNotMultipart) {
				c.fail(w, r, sess, domain.Errorf(domain.EINVALID, "cannot read the form: %v", err))
				return
			}
			got := r.PostFormValue(csrfField)
			if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(sess.CSRFToken)) != 1 {
				c.forbidden(w, r)
				return
			}
		}
		h(w, r, sess)
	}
}

// session reads the request's session cookie.
func (c *Console) session(r *http.Request) (*domain.ConsoleSession, error) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || ck.Value == "" {
		return nil, domain.Errorf(domain.EUNAUTHORIZED, "not signed in")
	}
	s, err := c.o.Store.ConsoleSession(r.Context(), ck.Value)
	if err != nil {
		return nil, err
	}
	return &s, nil
}

// forbidden answers a POST without the form's CSRF token.
func (c *Console) forbidden(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusForbidden)
	_, _ = fmt.Fprintln(w, "403 forbidden: this form's security token is missing or stale; go back, reload the page and send it again")
}

// secure says whether cookies of r must be Secure.
func (c *Console) secure(r *http.Request) bool { return r.TLS != nil || c.o.SecureCookies }

func (c *Console) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge time.Duration) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: int(maxAge.Seconds()),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: c.secure(r)})
}

func (c *Console) clearCookie(w http.ResponseWriter, r *http.Request, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: c.secure(r)})
}

// view is what every page template gets.
type view struct {
	// Title is the page's heading and title.
	Title string
	// Nav names the menu entry to mark.
	Nav string
	// Session is nil on the sign-in page.
	Session *domain.ConsoleSession
	// CSRF goes into every form.
	CSRF string
	// Form holds what the user typed and the errors per field.
	Form *form
	// Data is the page's own.
	Data any
	// TemporalUI and Namespace build workflow links.
	TemporalUI, Namespace string
}

// render writes page with status.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, page string, v view) {
	t, ok := c.pages[page]
	if !ok {
		c.o.Logger.Error("console page missing", "page", page)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if v.Session != nil && v.CSRF == "" {
		v.CSRF = v.Session.CSRFToken
	}
	if v.Form == nil {
		v.Form = newForm(nil)
	}
	if v.Form.CSRF == "" {
		v.Form.CSRF = v.CSRF
	}
	v.TemporalUI, v.Namespace = c.o.TemporalUIURL, c.o.TemporalNamespace
	var b strings.Builder
	if err := t.Execute(&b, v); err != nil {
		c.o.Logger.Error("render console page", "page", page, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(b.String()))
}

// fail shows an error page with the error's sentence and the status that fits it.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, s *domain.ConsoleSession, err error) {
	err = c.userError(err)
	c.render(w, r, statusOf(err), "error", view{Title: "Something went wrong", Session: s, Data: domain.ErrorMessage(err)})
}

// userError maps store errors (constraints, an unreachable database) like
// the API does, logging what the user does not see.
func (c *Console) userError(err error) error {
	if domain.ErrorCode(err) == domain.EINTERNAL {
		mapped := store.UserError(err)
		if mapped == err {
			c.o.Logger.Error("console request failed", "error", err)
		}
		return mapped
	}
	return err
}

// statusOf is the HTTP status a page answers an error with (as the API would).
func statusOf(err error) int { return domain.HTTPStatus(err) }

// seeOther redirects after a successful POST (Post/Redirect/Get).
func seeOther(w http.ResponseWriter, r *http.Request, path string) {
	http.Redirect(w, r, path, http.StatusSeeOther)
}

// baseURL is the URL agents reach the server at.
func (c *Console) baseURL(r *http.Request) string {
	if c.o.PublicURL != "" {
		return c.o.PublicURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// ctx is the request's context.
func ctx(r *http.Request) context.Context { return r.Context() }
