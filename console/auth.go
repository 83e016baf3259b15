package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"time"

	"daestro/internal/domain"
)

// signInTokenTTL bounds how long a sign-in form may sit before it is sent.
const signInTokenTTL = time.Hour

func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// signInPage asks for an API key. The form's CSRF token is a double-submit
// cookie: no session exists yet to hold one.
func (c *Console) signInPage(w http.ResponseWriter, r *http.Request) {
	f := newForm(url.Values{"next": {safeNext(r.URL.Query().Get("next"))}})
	f.General = r.URL.Query().Get("why")
	c.renderSignIn(w, r, http.StatusOK, f)
}

func (c *Console) renderSignIn(w http.ResponseWriter, r *http.Request, status int, f *form) {
	// One token per browser, not per page view: two sign-in pages open at
	// once (or a stray request that lands here) must not void each other.
	token := ""
	if ck, err := r.Cookie(signInCookie); err == nil && len(ck.Value) >= 32 {
		token = ck.Value
	} else {
		token = randomToken()
	}
	c.setCookie(w, r, signInCookie, token, signInTokenTTL)
	c.render(w, r, status, "signin", view{Title: "Sign in", CSRF: token, Form: f})
}

// checkSignInCSRF compares the sign-in form's token with its cookie.
func (c *Console) checkSignInCSRF(r *http.Request) bool {
	ck, err := r.Cookie(signInCookie)
	got := r.PostFormValue(csrfField)
	return err == nil && ck.Value != "" && got != "" && subtle.ConstantTimeCompare([]byte(ck.Value), []byte(got)) == 1
}

// signIn checks the pasted key as the API does and opens a session.
func (c *Console) signIn(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || !c.checkSignInCSRF(r) {
		c.forbidden(w, r)
		return
	}
	f := newForm(url.Values{"next": {safeNext(r.PostFormValue("next"))}})
	key := strings.TrimSpace(r.PostFormValue("api_key"))
	if key == "" {
		f.Errors["api_key"] = "api_key: paste an API key of the project (dst_…)"
		c.renderSignIn(w, r, http.StatusBadRequest, f)
		return
	}
	_, k, err := c.o.Store.AuthenticateAPIKey(ctx(r), key)
	if err != nil {
		err = c.userError(err)
		// The key itself is never echoed back into the page.
		f.Errors["api_key"] = domain.ErrorMessage(err)
		c.renderSignIn(w, r, statusOf(err), f)
		return
	}
	token, _, err := c.o.Store.CreateConsoleSession(ctx(r), k.ID, c.o.SessionTTL)
	if err != nil {
		f.General = domain.ErrorMessage(c.userError(err))
		c.renderSignIn(w, r, http.StatusServiceUnavailable, f)
		return
	}
	c.clearCookie(w, r, signInCookie)
	c.setCookie(w, r, sessionCookie, token, c.o.SessionTTL)
	seeOther(w, r, f.Get("next"))
}

// signOut ends the session for good (the token stops working everywhere).
func (c *Console) signOut(w http.ResponseWriter, r *http.Request, _ *domain.ConsoleSession) {
	if ck, err := r.Cookie(sessionCookie); err == nil {
		if err := c.o.Store.DeleteConsoleSession(ctx(r), ck.Value); err != nil {
			c.fail(w, r, nil, err)
			return
		}
	}
	c.clearCookie(w, r, sessionCookie)
	seeOther(w, r, "/signin?why="+url.QueryEscape("You are signed out."))
}

// safeNext keeps a post-sign-in redirect on this site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	return next
}
