// Package vultrfake is a stateful fake of the Vultr API v2 for tests. It
// speaks the wire format govultr expects (JSON under /v2/…, errors as
// {"error":"…","status":N}, cursor paging in meta.links), keeps instances and
// SSH keys in memory, checks the bearer token, and can inject the failures a
// real account shows: 429 with Retry-After, 5xx, the account's instance
// limit, plans sold out in a location, and slow responses.
//
// API keys belong to accounts (Token to AccountEmail; AddToken adds more, of
// that account or another): GET /v2/account answers the key's account
// (Vultr shows no account ID, only its name and email), and instances and
// SSH keys are seen only with keys of the account that created them,
// another account's getting Vultr's 404.
//
// An instance is "pending" with main_ip "0.0.0.0" in the create response and
// its first GET, "active" but still booting (server_status
// "installingbooting", addresses assigned) on the second, and "active" with
// server_status "ok" afterwards (or, with WithReadyAfter, by elapsed time), so
// callers exercise their polling and the two-field readiness check.
//
// Every success response carries Content-Type exactly "application/json":
// govultr silently decodes nothing for any other value, "; charset=utf-8"
// included. SetContentType overrides it to test that trap.
package vultrfake

import (
	"encoding/base64"
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

// AccountEmail is the email of the account Token belongs to.
const AccountEmail = "dev@example.com"

// Token is the API key the fake accepts unless WithToken says otherwise.
// Real Vultr keys are 36 upper-case letters and digits.
const Token = "VULTRFAKEKEY0123456789ABCDEFGHIJKLMN"

// UbuntuOSID is the id of "Ubuntu 24.04 LTS x64" in the fake's OS list, the
// same as on the real API.
const UbuntuOSID = 2284

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
	// tokens maps every accepted API key to its account's email.
	tokens map[string]string
	// keyAccount maps an SSH key's id to the email of its account.
	keyAccount map[string]string
	// readyAfter, when set, replaces the GET-count lifecycle with elapsed
	// time: pending for the first half, booting until readyAfter, then ok.
	readyAfter time.Duration
	// instanceLimit is the account's instance limit, 0 for none.
	instanceLimit int
	// maxPerPage caps per_page, to force paging in tests.
	maxPerPage int
	// contentType is sent on success responses.
	contentType string
	// latency delays every response.
	latency time.Duration
	// soldOut holds "plan region" pairs that fail creation for capacity.
	soldOut map[string]bool
	// seq numbers instances and keys for ids and addresses.
	seq int
	// instances are the live instances by id.
	instances map[string]*instance
	// keys are the registered SSH keys by id.
	keys map[string]SSHKey
	// creates records instance-create bodies for assertions.
	creates []CreateBody
	// injects are the failures to answer the next calls with, in order.
	injects []inject
	// calls records "METHOD /path" of every request.
	calls []string
}

// instance is the fake's record of one instance.
type instance struct {
	// account is the email of the account that created it.
	account string
	// body is what the create request asked for.
	body CreateBody
	// id is the instance's UUID.
	id string
	// n is the sequence number, used for addresses.
	n int
	// created is when the create request arrived.
	created time.Time
	// gets counts GETs of this instance, which drive its lifecycle.
	gets int
}

// SSHKey is a registered SSH key as the API shows it.
type SSHKey struct {
	// ID is the key's UUID.
	ID string `json:"id"`
	// Name is the key's name.
	Name string `json:"name"`
	// SSHKey is the authorized_keys line.
	SSHKey string `json:"ssh_key"`
	// DateCreated is the creation time.
	DateCreated string `json:"date_created"`
}

// inject is one canned failure.
type inject struct {
	status     int
	retryAfter string
	message    string
}

// CreateBody is an instance-create request as the fake received it. UserData
// is kept as sent, base64.
type CreateBody struct {
	// Region is the region id, e.g. "ewr".
	Region string `json:"region"`
	// Plan is the plan id, e.g. "vc2-2c-4gb".
	Plan string `json:"plan"`
	// OsID is the operating system id.
	OsID int `json:"os_id"`
	// Label is the instance's label.
	Label string `json:"label"`
	// Hostname is the instance's hostname.
	Hostname string `json:"hostname"`
	// Tags are the instance's tags.
	Tags []string `json:"tags"`
	// SSHKeyIDs are the ids of registered SSH keys to install.
	SSHKeyIDs []string `json:"sshkey_id"`
	// UserData is the base64-encoded cloud-init data.
	UserData string `json:"user_data"`
	// EnableIPv6 asks for an IPv6 address.
	EnableIPv6 *bool `json:"enable_ipv6"`
}

// Option configures a Server.
type Option func(*Server)

// WithToken sets the accepted API key.
func WithToken(t string) Option { return func(s *Server) { s.token = t } }

// WithReadyAfter makes instances pending for the first half of d after
// creation, booting until d and ready afterwards, instead of counting GETs.
func WithReadyAfter(d time.Duration) Option { return func(s *Server) { s.readyAfter = d } }

// WithInstanceLimit makes creates beyond n live instances fail with the 400
// Vultr returns at the account's instance limit.
func WithInstanceLimit(n int) Option { return func(s *Server) { s.instanceLimit = n } }

// WithMaxPerPage caps the page size of list calls at n (the real API caps
// it at 500), so a test can force a client through several pages.
func WithMaxPerPage(n int) Option { return func(s *Server) { s.maxPerPage = max(n, 1) } }

// AddToken makes token an API key of the account with email: another key
// of AccountEmail, or the key of another account.
func (s *Server) AddToken(token, email string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[token] = email
}

// New starts a fake and stops it when the test ends.
func New(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	s := &Server{
		token:       Token,
		tokens:      map[string]string{},
		keyAccount:  map[string]string{},
		maxPerPage:  500,
		contentType: "application/json",
		soldOut:     map[string]bool{},
		instances:   map[string]*instance{},
		keys:        map[string]SSHKey{},
	}
	for _, o := range opts {
		o(s)
	}
	s.tokens[s.token] = AccountEmail
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	tb.Cleanup(s.srv.Close)
	return s
}

// RateLimit makes the next n API calls answer 429 with Retry-After set to
// retryAfter seconds.
func (s *Server) RateLimit(n, retryAfter int) {
	s.add(n, inject{status: http.StatusTooManyRequests, retryAfter: strconv.Itoa(retryAfter),
		message: "Rate limit reached - please try your request again later."})
}

// FailServer makes the next n API calls answer 500.
func (s *Server) FailServer(n int) {
	s.add(n, inject{status: http.StatusInternalServerError, message: "Internal server error."})
}

// FailNext makes the next n API calls answer status with message as the
// Vultr error body, for failures the other knobs do not cover (a 401 in the
// middle of a session, a 403 from the key's IP access control, a 503).
func (s *Server) FailNext(n, status int, message string) {
	s.add(n, inject{status: status, message: message})
}

// SetLatency delays every response by d, for timeout and cancellation tests.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// SetInstanceLimit changes the instance limit; 0 means none.
func (s *Server) SetInstanceLimit(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.instanceLimit = n
}

// SetSoldOut makes creates of plan in region fail the way Vultr reports a
// location out of stock for a plan; soldOut false restores it.
func (s *Server) SetSoldOut(plan, region string, soldOut bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.soldOut[plan+" "+region] = soldOut
}

// SetContentType changes the Content-Type of success responses, to test
// clients against govultr's exact-match trap. Error responses keep
// "application/json".
func (s *Server) SetContentType(ct string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.contentType = ct
}

func (s *Server) add(n int, in inject) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.injects = append(s.injects, in)
	}
}

// Creates returns the instance-create requests received, in order, the
// refused ones included.
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

// Instances returns the number of live instances.
func (s *Server) Instances() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.instances)
}

// Keys returns the registered SSH keys ordered by id.
func (s *Server) Keys() []SSHKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []SSHKey
	for _, id := range slices.Sorted(maps.Keys(s.keys)) {
		out = append(out, s.keys[id])
	}
	return out
}

// writeJSON writes a success body with the configured Content-Type; the
// caller holds s.mu.
func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", s.contentType)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError writes Vultr's error body.
func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": msg, "status": status})
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
		writeError(w, in.status, in.message)
		return
	}
	bearer, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	account, ok := s.tokens[bearer]
	if !ok || bearer == "" {
		writeError(w, http.StatusUnauthorized, "Invalid API token.")
		return
	}

	path := strings.TrimSuffix(r.URL.Path, "/")
	switch {
	case r.Method == http.MethodGet && path == "/v2/account":
		s.writeJSON(w, http.StatusOK, map[string]any{"account": map[string]any{
			"name": "daestro dev", "email": account, "acls": []string{"subscriptions", "provisioning"},
			"balance": -10.5, "pending_charges": 1.25, "last_payment_date": "2026-11-01T00:00:00+00:00", "last_payment_amount": -10}})
	case r.Method == http.MethodGet && path == "/v2/regions":
		s.list(w, r, "regions", anys(regions))
	case r.Method == http.MethodGet && path == "/v2/plans":
		typ := r.URL.Query().Get("type")
		var out []any
		for _, p := range plans {
			if typ == "" || typ == "all" || typ == p.Type {
				out = append(out, p)
			}
		}
		s.list(w, r, "plans", out)
	case r.Method == http.MethodGet && path == "/v2/os":
		s.list(w, r, "os", anys(oses))
	case r.Method == http.MethodPost && path == "/v2/instances":
		s.createInstance(w, r, account)
	case r.Method == http.MethodGet && path == "/v2/instances":
		tag := r.URL.Query().Get("tag")
		var out []any
		for _, in := range s.sortedInstances() {
			if in.account == account && (tag == "" || slices.Contains(in.body.Tags, tag)) {
				out = append(out, s.render(in))
			}
		}
		s.list(w, r, "instances", out)
	case strings.HasPrefix(path, "/v2/instances/"):
		in := s.instances[strings.TrimPrefix(path, "/v2/instances/")]
		if in == nil || in.account != account {
			writeError(w, http.StatusNotFound, "Invalid instance-id.")
			return
		}
		switch r.Method {
		case http.MethodGet:
			body := s.render(in)
			in.gets++
			s.writeJSON(w, http.StatusOK, map[string]any{"instance": body})
		case http.MethodDelete:
			delete(s.instances, in.id)
			w.WriteHeader(http.StatusNoContent)
		default:
			writeError(w, http.StatusMethodNotAllowed, "Method not allowed.")
		}
	case r.Method == http.MethodGet && path == "/v2/ssh-keys":
		var out []any
		for _, id := range slices.Sorted(maps.Keys(s.keys)) {
			if s.keyAccount[id] == account {
				out = append(out, s.keys[id])
			}
		}
		s.list(w, r, "ssh_keys", out)
	case r.Method == http.MethodPost && path == "/v2/ssh-keys":
		s.createKey(w, r, account)
	case r.Method == http.MethodGet && strings.HasPrefix(path, "/v2/ssh-keys/"):
		id := strings.TrimPrefix(path, "/v2/ssh-keys/")
		k, ok := s.keys[id]
		if !ok || s.keyAccount[id] != account {
			writeError(w, http.StatusNotFound, "Invalid ssh-key-id.")
			return
		}
		s.writeJSON(w, http.StatusOK, map[string]any{"ssh_key": k})
	default:
		writeError(w, http.StatusNotFound, fmt.Sprintf("vultrfake does not implement %s %s", r.Method, r.URL.Path))
	}
}

// list writes one page of items under key with Vultr's cursor paging: the
// cursor is opaque to clients (here the base64 of an offset) and
// meta.links.next is empty on the last page.
func (s *Server) list(w http.ResponseWriter, r *http.Request, key string, items []any) {
	q := r.URL.Query()
	perPage := 100
	if v := q.Get("per_page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, "Invalid per_page.")
			return
		}
		perPage = n
	}
	perPage = min(perPage, s.maxPerPage)
	start := 0
	if c := q.Get("cursor"); c != "" {
		b, err := base64.URLEncoding.DecodeString(c)
		n, err2 := strconv.Atoi(strings.TrimPrefix(string(b), "next__"))
		if err != nil || err2 != nil || n < 0 || n > len(items) {
			writeError(w, http.StatusBadRequest, "Invalid cursor.")
			return
		}
		start = n
	}
	end := min(start+perPage, len(items))
	cursor := func(n int) string { return base64.URLEncoding.EncodeToString([]byte("next__" + strconv.Itoa(n))) }
	next, prev := "", ""
	if end < len(items) {
		next = cursor(end)
	}
	if start > 0 {
		prev = cursor(max(start-perPage, 0))
	}
	page := items[start:end]
	if page == nil {
		page = []any{}
	}
	s.writeJSON(w, http.StatusOK, map[string]any{key: page,
		"meta": map[string]any{"total": len(items), "links": map[string]string{"next": next, "prev": prev}}})
}

func (s *Server) createInstance(w http.ResponseWriter, r *http.Request, account string) {
	var body CreateBody
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, "Invalid JSON: "+err.Error())
		return
	}
	s.creates = append(s.creates, body)
	if !slices.ContainsFunc(regions, func(x region) bool { return x.ID == body.Region }) {
		writeError(w, http.StatusBadRequest, "Invalid region.")
		return
	}
	i := slices.IndexFunc(plans, func(p plan) bool { return p.ID == body.Plan })
	if i < 0 {
		writeError(w, http.StatusBadRequest, "Invalid plan.")
		return
	}
	if !slices.Contains(plans[i].Locations, body.Region) {
		writeError(w, http.StatusBadRequest, "Plan is not available in the selected location.")
		return
	}
	if !slices.ContainsFunc(oses, func(o osEntry) bool { return o.ID == body.OsID }) {
		writeError(w, http.StatusBadRequest, "Invalid os_id.")
		return
	}
	if body.UserData != "" {
		if _, err := base64.StdEncoding.DecodeString(body.UserData); err != nil {
			writeError(w, http.StatusBadRequest, "Invalid user_data: must be base64 encoded.")
			return
		}
	}
	for _, id := range body.SSHKeyIDs {
		if _, ok := s.keys[id]; !ok || s.keyAccount[id] != account {
			writeError(w, http.StatusBadRequest, "Invalid SSH key: "+id)
			return
		}
	}
	if s.soldOut[body.Plan+" "+body.Region] {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("Server add failed: Plan %s is currently not available in this location. Please try another location or plan.", body.Plan))
		return
	}
	live := 0
	for _, in := range s.instances {
		if in.account == account {
			live++
		}
	}
	if s.instanceLimit > 0 && live >= s.instanceLimit {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("Server add failed: You have exceeded the instance limit of %d for this account. Please contact support to have the limit raised.", s.instanceLimit))
		return
	}
	s.seq++
	in := &instance{account: account, body: body, id: uuid(s.seq), n: s.seq, created: time.Now()}
	s.instances[in.id] = in
	s.writeJSON(w, http.StatusAccepted, map[string]any{"instance": s.render(in)})
}

func (s *Server) createKey(w http.ResponseWriter, r *http.Request, account string) {
	var body struct {
		Name   string `json:"name"`
		SSHKey string `json:"ssh_key"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, "Invalid JSON: "+err.Error())
		return
	}
	if body.Name == "" {
		writeError(w, http.StatusBadRequest, "Missing name.")
		return
	}
	if _, _, _, _, err := ssh.ParseAuthorizedKey([]byte(body.SSHKey)); err != nil {
		writeError(w, http.StatusBadRequest, "Invalid SSH key.")
		return
	}
	s.seq++
	k := SSHKey{ID: uuid(s.seq), Name: body.Name, SSHKey: body.SSHKey, DateCreated: time.Now().UTC().Format(time.RFC3339)}
	s.keys[k.ID] = k
	s.keyAccount[k.ID] = account
	s.writeJSON(w, http.StatusCreated, map[string]any{"ssh_key": k})
}

func (s *Server) sortedInstances() []*instance {
	out := slices.Collect(maps.Values(s.instances))
	slices.SortFunc(out, func(a, b *instance) int { return a.n - b.n })
	return out
}

// phase is where an instance is in its lifecycle: 0 pending, 1 booting
// (active, server_status "installingbooting"), 2 ready.
func (s *Server) phase(in *instance) int {
	if s.readyAfter > 0 {
		switch age := time.Since(in.created); {
		case age < s.readyAfter/2:
			return 0
		case age < s.readyAfter:
			return 1
		default:
			return 2
		}
	}
	return min(in.gets, 2)
}

// render is the instance's JSON in the shape of GET /v2/instances/{id}.
func (s *Server) render(in *instance) map[string]any {
	b := in.body
	tags := b.Tags
	if tags == nil {
		tags = []string{}
	}
	out := map[string]any{
		"id": in.id, "os": osName(b.OsID), "os_id": b.OsID, "plan": b.Plan, "region": b.Region,
		"label": b.Label, "hostname": b.Hostname, "tags": tags, "ram": planOf(b.Plan).RAM,
		"vcpu_count": planOf(b.Plan).VCPUCount, "date_created": in.created.UTC().Format(time.RFC3339),
		"status": "pending", "power_status": "stopped", "server_status": "none",
		"main_ip": "0.0.0.0", "netmask_v4": "", "gateway_v4": "0.0.0.0",
		"v6_main_ip": "", "v6_network": "", "v6_network_size": 0,
		"internal_ip": "", "features": []string{}, "user_scheme": "root",
	}
	if p := s.phase(in); p > 0 {
		out["status"] = "active"
		out["power_status"] = "running"
		out["server_status"] = "installingbooting"
		if p == 2 {
			out["server_status"] = "ok"
		}
		out["main_ip"] = fmt.Sprintf("203.0.113.%d", in.n%250+1)
		out["netmask_v4"] = "255.255.254.0"
		out["gateway_v4"] = "203.0.113.1"
		if b.EnableIPv6 != nil && *b.EnableIPv6 {
			out["v6_main_ip"] = fmt.Sprintf("2001:db8:%x::1", in.n)
			out["v6_network"] = fmt.Sprintf("2001:db8:%x::", in.n)
			out["v6_network_size"] = 64
			out["features"] = []string{"ipv6"}
		}
	}
	return out
}

// uuid makes a deterministic UUID-shaped id from n.
func uuid(n int) string { return fmt.Sprintf("cb676a46-66fd-4dfb-b839-%012x", n) }

func anys[T any](xs []T) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

func osName(id int) string {
	for _, o := range oses {
		if o.ID == id {
			return o.Name
		}
	}
	return ""
}

func planOf(id string) plan {
	for _, p := range plans {
		if p.ID == id {
			return p
		}
	}
	return plan{}
}

type region struct {
	ID           string   `json:"id"`
	City         string   `json:"city"`
	Country      string   `json:"country"`
	Continent    string   `json:"continent"`
	Options      []string `json:"options"`
	Connectivity []string `json:"connectivity"`
}

type plan struct {
	ID          string   `json:"id"`
	VCPUCount   int      `json:"vcpu_count"`
	RAM         int      `json:"ram"`
	Disk        int      `json:"disk"`
	DiskCount   int      `json:"disk_count"`
	Bandwidth   int      `json:"bandwidth"`
	MonthlyCost float64  `json:"monthly_cost"`
	HourlyCost  float64  `json:"hourly_cost"`
	Type        string   `json:"type"`
	Locations   []string `json:"locations"`
}

type osEntry struct {
	ID     int    `json:"id"`
	Name   string `json:"name"`
	Arch   string `json:"arch"`
	Family string `json:"family"`
}

// Regions, plans and operating systems served by the fake. vc2-1c-0.5gb-v6
// is Vultr's IPv6-only plan; vhf-4c-16gb is offered in ewr alone; the
// Ubuntu 24.04 x64 image is not first in the OS list, so finding it takes
// paging when the page size is small.
var (
	regions = []region{
		{ID: "ewr", City: "New Jersey", Country: "US", Continent: "North America", Options: []string{"ddos_protection", "block_storage_high_perf"}, Connectivity: []string{}},
		{ID: "fra", City: "Frankfurt", Country: "DE", Continent: "Europe", Options: []string{"ddos_protection"}, Connectivity: []string{}},
		{ID: "sgp", City: "Singapore", Country: "SG", Continent: "Asia", Options: []string{}, Connectivity: []string{}},
	}
	plans = []plan{
		{ID: "vc2-1c-0.5gb-v6", VCPUCount: 1, RAM: 512, Disk: 10, DiskCount: 1, Bandwidth: 500, MonthlyCost: 2.5, HourlyCost: 0.004, Type: "vc2", Locations: []string{"ewr"}},
		{ID: "vc2-1c-1gb", VCPUCount: 1, RAM: 1024, Disk: 25, DiskCount: 1, Bandwidth: 1024, MonthlyCost: 5, HourlyCost: 0.007, Type: "vc2", Locations: []string{"ewr", "fra", "sgp"}},
		{ID: "vc2-2c-4gb", VCPUCount: 2, RAM: 4096, Disk: 80, DiskCount: 1, Bandwidth: 3072, MonthlyCost: 20, HourlyCost: 0.027, Type: "vc2", Locations: []string{"ewr", "fra"}},
		{ID: "vhf-4c-16gb", VCPUCount: 4, RAM: 16384, Disk: 384, DiskCount: 1, Bandwidth: 4096, MonthlyCost: 96, HourlyCost: 0.131, Type: "vhf", Locations: []string{"ewr"}},
	}
	oses = []osEntry{
		{ID: 1743, Name: "Ubuntu 22.04 LTS x64", Arch: "x64", Family: "ubuntu"},
		{ID: 2136, Name: "Debian 12 x64 (bookworm)", Arch: "x64", Family: "debian"},
		{ID: 2288, Name: "Ubuntu 24.04 LTS arm64", Arch: "arm64", Family: "ubuntu"},
		{ID: UbuntuOSID, Name: "Ubuntu 24.04 LTS x64", Arch: "x64", Family: "ubuntu"},
		{ID: 124, Name: "Windows 2012 R2 x64", Arch: "x64", Family: "windows"},
	}
)
