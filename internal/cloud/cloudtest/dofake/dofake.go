// Package dofake is a stateful fake of the DigitalOcean API for tests. It
// speaks the wire format godo expects (JSON under /v2/…), keeps droplets and
// SSH keys in memory, checks the bearer token, and can inject the failures a
// real account shows: 429 with Retry-After, 422 droplet limit, 5xx and slow
// responses. Tokens belong to accounts (Token to AccountUUID; AddToken adds
// more, of that account or another): GET /v2/account answers the token's
// account, and droplets and SSH keys are seen only with tokens of the
// account that created them, another account's getting DigitalOcean's 404.
// A droplet is "new" without addresses in the create response and
// its first GET, and "active" with public IPv4/IPv6 afterwards (or once the
// WithActiveAfter delay passed), so callers exercise their polling.
package dofake

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// Token is the access token the fake accepts unless Options say otherwise.
const Token = "dop_v1_fake"

// AccountUUID is the uuid of the account Token belongs to.
const AccountUUID = "b6fc48fb-3f83-4d54-9d1c-0c6e6b0a0001"

// AccountEmail is the email GET /v2/account shows for account.
func AccountEmail(account string) string {
	if account == AccountUUID {
		return "dev@example.com"
	}
	return "owner-" + account + "@example.com"
}

// Server is a running fake. All methods are safe for concurrent use.
type Server struct {
	// URL is the base URL to hand to the client (no trailing slash).
	URL string

	// srv serves the handler.
	srv *httptest.Server

	// mu guards everything below; handlers run concurrently.
	mu sync.Mutex
	// token is Token, or WithToken's.
	token string
	// tokens maps every accepted bearer token to its account's uuid.
	tokens map[string]string
	// activeAfter, when set, replaces "active after the first GET".
	activeAfter time.Duration
	// dropletLimit is the account's droplet limit, 0 for none.
	dropletLimit int
	// latency delays every response.
	latency time.Duration
	// nextID is the next droplet id.
	nextID int
	// droplets are the live droplets by id.
	droplets map[int]*droplet
	// keys are the registered SSH keys by account uuid + "/" + MD5 fingerprint.
	keys map[string]key
	// creates records droplet-create bodies for assertions.
	creates []CreateBody
	// injects are the failures to answer the next calls with, in order.
	injects []inject
	// lostCreates is how many next droplet creates are carried out but
	// answered 500, as if the answer were lost on its way back.
	lostCreates int
	// calls records "METHOD /path" of every request.
	calls []string
}

type droplet struct {
	ID int
	// Account is the uuid of the account that created it.
	Account string
	Name    string
	Tags    []string
	Created time.Time
	Gets    int
}

type key struct {
	// account is the uuid of the account that registered it.
	account     string
	ID          int    `json:"id"`
	Name        string `json:"name"`
	Fingerprint string `json:"fingerprint"`
	PublicKey   string `json:"public_key"`
}

type inject struct {
	status     int
	retryAfter string
	body       string
}

// CreateBody is a droplet-create request as the fake received it.
type CreateBody struct {
	Name     string   `json:"name"`
	Region   string   `json:"region"`
	Size     string   `json:"size"`
	Image    string   `json:"image"`
	SSHKeys  []string `json:"ssh_keys"`
	UserData string   `json:"user_data"`
	Tags     []string `json:"tags"`
}

// Option configures a Server.
type Option func(*Server)

// WithToken sets the accepted access token.
func WithToken(t string) Option { return func(s *Server) { s.token = t } }

// WithActiveAfter makes droplets turn active once d has passed since
// creation instead of after their first GET.
func WithActiveAfter(d time.Duration) Option { return func(s *Server) { s.activeAfter = d } }

// WithDropletLimit makes creates beyond n live droplets fail with the 422
// DigitalOcean returns at the account's droplet limit.
func WithDropletLimit(n int) Option { return func(s *Server) { s.dropletLimit = n } }

// New starts a fake and stops it when the test ends.
func New(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	s := &Server{token: Token, tokens: map[string]string{}, nextID: 3164444, droplets: map[int]*droplet{}, keys: map[string]key{}}
	for _, o := range opts {
		o(s)
	}
	s.tokens[s.token] = AccountUUID
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	tb.Cleanup(s.srv.Close)
	return s
}

// AddToken makes token an access token of account (a uuid): another key of
// AccountUUID, or the key of another account.
func (s *Server) AddToken(token, account string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[token] = account
}

// RateLimit makes the next n API calls answer 429 with Retry-After set to
// retryAfter seconds.
func (s *Server) RateLimit(n, retryAfter int) {
	s.add(n, inject{status: http.StatusTooManyRequests, retryAfter: strconv.Itoa(retryAfter),
		body: `{"id":"too_many_requests","message":"API Rate limit exceeded."}`})
}

// FailServer makes the next n API calls answer 500.
func (s *Server) FailServer(n int) {
	s.add(n, inject{status: http.StatusInternalServerError,
		body: `{"id":"server_error","message":"Unexpected server-side error"}`})
}

// SetLatency delays every response by d, for timeout and cancellation tests.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// SetDropletLimit changes the droplet limit; 0 means none.
func (s *Server) SetDropletLimit(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropletLimit = n
}

// LoseCreateAnswers makes the next n droplet creates take effect (the
// droplet exists) but answer 500: the ambiguous failure after which a
// blind repeat would start a second droplet.
func (s *Server) LoseCreateAnswers(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lostCreates += n
}

func (s *Server) add(n int, in inject) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.injects = append(s.injects, in)
	}
}

// Creates returns the droplet-create requests received, in order.
func (s *Server) Creates() []CreateBody {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.creates)
}

// Calls returns "METHOD /path" for every request received, injected
// failures included, so tests can count attempts.
func (s *Server) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// Droplets returns the number of live droplets.
func (s *Server) Droplets() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.droplets)
}

// Keys returns the fingerprints of the registered SSH keys.
func (s *Server) Keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, k := range s.keys {
		out = append(out, k.Fingerprint)
	}
	slices.Sort(out)
	return out
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if v != nil {
		_ = json.NewEncoder(w).Encode(v)
	}
}

func writeError(w http.ResponseWriter, status int, id, msg string) {
	writeJSON(w, status, map[string]string{"id": id, "message": msg})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.calls = append(s.calls, r.Method+" "+r.URL.Path)
	latency := s.latency
	s.mu.Unlock()
	if latency > 0 {
		select {
		case <-time.After(latency):
		case <-r.Context().Done():
			return
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.injects) > 0 {
		in := s.injects[0]
		s.injects = s.injects[1:]
		if in.retryAfter != "" {
			w.Header().Set("Retry-After", in.retryAfter)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(in.status)
		_, _ = w.Write([]byte(in.body))
		return
	}
	if s.lostCreates > 0 && r.Method == http.MethodPost && r.URL.Path == "/v2/droplets" {
		s.lostCreates--
		answer := w
		w = httptest.NewRecorder()
		defer writeError(answer, http.StatusInternalServerError, "server_error", "Unexpected server-side error")
	}
	bearer, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	account, ok := s.tokens[bearer]
	if !ok || bearer == "" {
		writeError(w, http.StatusUnauthorized, "unauthorized", "Unable to authenticate you")
		return
	}

	path := strings.TrimSuffix(r.URL.Path, "/")
	switch {
	case r.Method == http.MethodGet && path == "/v2/account":
		writeJSON(w, 200, map[string]any{"account": map[string]any{
			"droplet_limit": s.dropletLimit, "email": AccountEmail(account), "uuid": account, "status": "active", "email_verified": true}})
	case r.Method == http.MethodGet && path == "/v2/regions":
		writeJSON(w, 200, map[string]any{"regions": regions, "links": map[string]any{}, "meta": map[string]any{"total": len(regions)}})
	case r.Method == http.MethodGet && path == "/v2/sizes":
		writeJSON(w, 200, map[string]any{"sizes": sizes, "links": map[string]any{}, "meta": map[string]any{"total": len(sizes)}})
	case r.Method == http.MethodPost && path == "/v2/droplets":
		s.createDroplet(w, r, account)
	case r.Method == http.MethodGet && path == "/v2/droplets":
		tag := r.URL.Query().Get("tag_name")
		var out []map[string]any
		for _, id := range slices.Sorted(maps.Keys(s.droplets)) {
			d := s.droplets[id]
			if d.Account == account && (tag == "" || slices.Contains(d.Tags, tag)) {
				out = append(out, s.render(d))
			}
		}
		writeJSON(w, 200, map[string]any{"droplets": out, "links": map[string]any{}, "meta": map[string]any{"total": len(out)}})
	case strings.HasPrefix(path, "/v2/droplets/"):
		id, err := strconv.Atoi(strings.TrimPrefix(path, "/v2/droplets/"))
		d := s.droplets[id]
		if err != nil || d == nil || d.Account != account {
			writeError(w, http.StatusNotFound, "not_found", "The resource you were accessing could not be found.")
			return
		}
		switch r.Method {
		case http.MethodGet:
			body := s.render(d)
			d.Gets++
			writeJSON(w, 200, map[string]any{"droplet": body})
		case http.MethodDelete:
			delete(s.droplets, id)
			w.WriteHeader(http.StatusNoContent)
		default:
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed")
		}
	case r.Method == http.MethodPost && path == "/v2/account/keys":
		s.createKey(w, r, account)
	case r.Method == http.MethodGet && strings.HasPrefix(path, "/v2/account/keys/"):
		k, ok := s.keys[account+"/"+strings.TrimPrefix(path, "/v2/account/keys/")]
		if !ok {
			writeError(w, http.StatusNotFound, "not_found", "The resource you were accessing could not be found.")
			return
		}
		writeJSON(w, 200, map[string]any{"ssh_key": k})
	default:
		writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("dofake does not implement %s %s", r.Method, r.URL.Path))
	}
}

func (s *Server) createDroplet(w http.ResponseWriter, r *http.Request, account string) {
	var body CreateBody
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "malformed JSON: "+err.Error())
		return
	}
	s.creates = append(s.creates, body)
	if !slices.ContainsFunc(regions, func(r region) bool { return r.Slug == body.Region }) {
		writeError(w, http.StatusUnprocessableEntity, "unprocessable_entity", "Region is not available")
		return
	}
	if !slices.ContainsFunc(sizes, func(z size) bool { return z.Slug == body.Size }) {
		writeError(w, http.StatusUnprocessableEntity, "unprocessable_entity", "Size is not available in this region.")
		return
	}
	for _, fp := range body.SSHKeys {
		if _, ok := s.keys[account+"/"+fp]; !ok {
			writeError(w, http.StatusUnprocessableEntity, "unprocessable_entity", "ssh_keys: invalid key identifiers for Droplet creation")
			return
		}
	}
	live := 0
	for _, d := range s.droplets {
		if d.Account == account {
			live++
		}
	}
	if s.dropletLimit > 0 && live >= s.dropletLimit {
		writeError(w, http.StatusUnprocessableEntity, "unprocessable_entity",
			fmt.Sprintf("creating this/these droplet(s) will exceed your droplet limit of %d", s.dropletLimit))
		return
	}
	d := &droplet{ID: s.nextID, Account: account, Name: body.Name, Tags: body.Tags, Created: time.Now()}
	s.nextID++
	s.droplets[d.ID] = d
	writeJSON(w, http.StatusAccepted, map[string]any{"droplet": s.render(d)})
}

func (s *Server) createKey(w http.ResponseWriter, r *http.Request, account string) {
	var body struct {
		Name      string `json:"name"`
		PublicKey string `json:"public_key"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "malformed JSON: "+err.Error())
		return
	}
	pk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(body.PublicKey))
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, "unprocessable_entity", "Key invalid type")
		return
	}
	fp := strings.TrimPrefix(ssh.FingerprintLegacyMD5(pk), "MD5:")
	if _, ok := s.keys[account+"/"+fp]; ok {
		writeError(w, http.StatusUnprocessableEntity, "unprocessable_entity", "SSH Key is already in use on your account")
		return
	}
	k := key{account: account, ID: 512189 + len(s.keys), Name: body.Name, Fingerprint: fp, PublicKey: body.PublicKey}
	s.keys[account+"/"+fp] = k
	writeJSON(w, http.StatusCreated, map[string]any{"ssh_key": k})
}

// render is the droplet's JSON; it is "new" without an address until it has
// been fetched once (or activeAfter passed), then "active" with public IPs.
func (s *Server) render(d *droplet) map[string]any {
	active := d.Gets > 0
	if s.activeAfter > 0 {
		active = time.Since(d.Created) >= s.activeAfter
	}
	out := map[string]any{"id": d.ID, "name": d.Name, "status": "new", "tags": d.Tags,
		"networks": map[string]any{"v4": []any{}, "v6": []any{}}}
	if active {
		out["status"] = "active"
		out["networks"] = map[string]any{
			"v4": []any{
				map[string]any{"ip_address": "10.10.0.5", "netmask": "255.255.0.0", "gateway": "", "type": "private"},
				map[string]any{"ip_address": fmt.Sprintf("203.0.113.%d", d.ID%250+1), "netmask": "255.255.240.0", "gateway": "203.0.113.1", "type": "public"},
			},
			"v6": []any{
				map[string]any{"ip_address": fmt.Sprintf("2001:db8::%x", d.ID), "netmask": 64, "gateway": "2001:db8::1", "type": "public"},
			},
		}
	}
	return out
}

type region struct {
	Slug      string   `json:"slug"`
	Name      string   `json:"name"`
	Sizes     []string `json:"sizes"`
	Available bool     `json:"available"`
	Features  []string `json:"features"`
}

type size struct {
	Slug        string   `json:"slug"`
	Memory      int      `json:"memory"`
	Vcpus       int      `json:"vcpus"`
	Disk        int      `json:"disk"`
	PriceHourly float64  `json:"price_hourly"`
	Regions     []string `json:"regions"`
	Available   bool     `json:"available"`
}

// Regions and sizes served by the fake; "sfo1" is listed but unavailable, as
// retired regions are on the real API.
var (
	regions = []region{
		{Slug: "nyc3", Name: "New York 3", Sizes: []string{"s-1vcpu-1gb", "s-2vcpu-4gb", "c-4"}, Available: true, Features: []string{"metadata"}},
		{Slug: "fra1", Name: "Frankfurt 1", Sizes: []string{"s-1vcpu-1gb", "s-2vcpu-4gb"}, Available: true, Features: []string{"metadata"}},
		{Slug: "sfo1", Name: "San Francisco 1", Sizes: []string{}, Available: false, Features: []string{}},
	}
	sizes = []size{
		{Slug: "s-1vcpu-1gb", Memory: 1024, Vcpus: 1, Disk: 25, PriceHourly: 0.00893, Regions: []string{"nyc3", "fra1"}, Available: true},
		{Slug: "s-2vcpu-4gb", Memory: 4096, Vcpus: 2, Disk: 80, PriceHourly: 0.03571, Regions: []string{"nyc3", "fra1"}, Available: true},
		{Slug: "c-4", Memory: 8192, Vcpus: 4, Disk: 50, PriceHourly: 0.125, Regions: []string{"nyc3"}, Available: true},
	}
)
