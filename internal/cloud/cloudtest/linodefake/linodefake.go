// Package linodefake is a stateful fake of the Linode API v4 for tests. It
// speaks the wire format linodego expects: JSON under /v4/… with exactly
// "Content-Type: application/json" on successes and errors alike, errors as
// {"errors":[{"reason":…,"field":…}]}, timestamps without a zone
// ("2006-01-02T15:04:05"), page/pages/results paging and filters in the
// X-Filter header. It checks the bearer token, keeps Linodes in memory and
// can inject the failures a real account shows: 429 with Retry-After, 5xx,
// "Linode busy.", maintenance 503s, the account limit and sold-out plans.
//
// Tokens belong to accounts (Token to AccountEUUID; AddToken adds more, of
// that account or another): GET /v4/account answers the token's account,
// and a Linode is seen only with tokens of the account that created it,
// another account's getting Linode's 404.
//
// A Linode is "provisioning" in the create response and its first GET and
// "running" afterwards (see WithRunningAfterGets and WithRunningAfter), so
// callers exercise their polling. Like the real API it has its public IPv4
// and SLAAC IPv6 (with the "/128" suffix) from the moment it is created.
package linodefake

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// Token is the access token the fake accepts unless Options say otherwise.
const Token = "linode-fake-token"

// AccountEUUID is the euuid of the account Token belongs to.
const AccountEUUID = "E1AF5EEC-526F-487D-B317EBEB34C87D71"

// AccountEmail is the email GET /v4/account shows for account.
func AccountEmail(account string) string {
	if account == AccountEUUID {
		return "dev@example.com"
	}
	return "owner-" + strings.ToLower(account) + "@example.com"
}

// TimeLayout is how the Linode API writes timestamps: UTC without a zone.
const TimeLayout = "2006-01-02T15:04:05"

// Reasons of the errors the fake answers with, for assertions.
const (
	// ReasonInvalidToken is the 401 reason for a missing or wrong token.
	ReasonInvalidToken = "Invalid Token"
	// ReasonNotFound is the 404 reason.
	ReasonNotFound = "Not found"
	// ReasonTooManyRequests is the 429 reason.
	ReasonTooManyRequests = "Too Many Requests"
	// ReasonBusy is the 400 reason Linode gives while another operation
	// holds the Linode; clients are expected to retry it.
	ReasonBusy = "Linode busy."
	// ReasonAccountLimit is the 400 reason for a create past the account's
	// Linode limit.
	ReasonAccountLimit = "Account Limit reached. Please open a support ticket."
)

// Server is a running fake. All methods are safe for concurrent use.
type Server struct {
	// URL is the base URL to hand to the client, without "/v4" and without
	// a trailing slash.
	URL string

	// srv serves the handler.
	srv *httptest.Server

	// mu guards everything below; handlers run concurrently.
	mu sync.Mutex
	// token is Token, or WithToken's.
	token string
	// tokens maps every accepted bearer token to its account's euuid.
	tokens map[string]string
	// runningAfterGets is how many GETs of a Linode answer "provisioning"
	// before it is "running".
	runningAfterGets int
	// runningAfter, when set, replaces runningAfterGets with a delay since
	// creation.
	runningAfter time.Duration
	// instanceLimit is the account's Linode limit, 0 for none.
	instanceLimit int
	// pageSize, when set, caps every page below what the client asked for,
	// so small data sets still span several pages.
	pageSize int
	// soldOut holds "region/type" pairs that are out of stock.
	soldOut map[string]bool
	// latency delays every response.
	latency time.Duration
	// nextID is the next Linode id.
	nextID int
	// instances are the live Linodes by id.
	instances map[int]*instance
	// creates records create bodies for assertions.
	creates []CreateBody
	// filters records the X-Filter header of every list call.
	filters []string
	// injects are the failures to answer the next calls with, in order.
	injects []inject
	// calls records "METHOD /path" of every request.
	calls []string
}

// instance is one Linode's state.
type instance struct {
	// ID is the Linode id.
	ID int
	// Account is the euuid of the account that created it.
	Account string
	// Label is unique in the account, like on the real API.
	Label string
	// Region, Type and Image are as created.
	Region, Type, Image string
	// Tags are the Linode's tags, never nil.
	Tags []string
	// UserData is the decoded user data.
	UserData string
	// Created is when the create was accepted.
	Created time.Time
	// Gets counts the GETs of this Linode, which drive its status.
	Gets int
	// Private says a private IPv4 was asked for.
	Private bool
}

// inject is one canned failure.
type inject struct {
	// status is the HTTP status.
	status int
	// header holds extra response headers.
	header http.Header
	// contentType overrides "application/json" when set.
	contentType string
	// body is sent verbatim.
	body string
}

// Metadata is the create body's metadata object.
type Metadata struct {
	// UserData is the base64-encoded cloud-init user data.
	UserData string `json:"user_data"`
}

// CreateBody is a Linode-create request as the fake received it.
type CreateBody struct {
	// Label is the Linode's label, optional.
	Label string `json:"label"`
	// Region is the region id.
	Region string `json:"region"`
	// Type is the Linode type id.
	Type string `json:"type"`
	// Image is the image id, e.g. "linode/ubuntu24.04".
	Image string `json:"image"`
	// RootPass is the root password.
	RootPass string `json:"root_pass"`
	// AuthorizedKeys are OpenSSH public keys for root.
	AuthorizedKeys []string `json:"authorized_keys"`
	// Tags are the Linode's tags.
	Tags []string `json:"tags"`
	// Booted says whether to boot after provisioning; nil means the API's
	// default (true when deploying an image).
	Booted *bool `json:"booted"`
	// PrivateIP asks for a private IPv4 address as well.
	PrivateIP bool `json:"private_ip"`
	// Metadata carries the user data, nil when none was sent.
	Metadata *Metadata `json:"metadata"`
}

// Option configures a Server.
type Option func(*Server)

// WithToken sets the accepted access token.
func WithToken(t string) Option { return func(s *Server) { s.token = t } }

// WithRunningAfterGets makes Linodes answer "provisioning" to their first n
// GETs and "running" afterwards; n = 0 makes them running at once, in the
// create response already. The default is 1.
func WithRunningAfterGets(n int) Option { return func(s *Server) { s.runningAfterGets = n } }

// WithRunningAfter makes Linodes turn running once d has passed since
// creation instead of after a number of GETs.
func WithRunningAfter(d time.Duration) Option { return func(s *Server) { s.runningAfter = d } }

// WithInstanceLimit makes creates beyond n live Linodes fail with the 400
// Linode returns at the account limit.
func WithInstanceLimit(n int) Option { return func(s *Server) { s.instanceLimit = n } }

// WithPageSize caps every page at n items, whatever page_size the client
// asked for, so tests can exercise paging with a handful of items.
func WithPageSize(n int) Option { return func(s *Server) { s.pageSize = n } }

// AddToken makes token an access token of account (an euuid): another
// token of AccountEUUID, or the token of another account.
func (s *Server) AddToken(token, account string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[token] = account
}

// New starts a fake and stops it when the test ends.
func New(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	s := &Server{
		token:            Token,
		tokens:           map[string]string{},
		runningAfterGets: 1,
		nextID:           51234567,
		instances:        map[int]*instance{},
		soldOut:          map[string]bool{},
	}
	for _, o := range opts {
		o(s)
	}
	s.tokens[s.token] = AccountEUUID
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	tb.Cleanup(s.srv.Close)
	return s
}

// RateLimit makes the next n API calls answer 429 with Retry-After set to
// retryAfter seconds.
func (s *Server) RateLimit(n, retryAfter int) {
	h := http.Header{}
	h.Set("Retry-After", strconv.Itoa(retryAfter))
	h.Set("X-RateLimit-Limit", "800")
	h.Set("X-RateLimit-Remaining", "0")
	h.Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(time.Duration(retryAfter)*time.Second).Unix(), 10))
	s.add(n, inject{status: http.StatusTooManyRequests, header: h, body: errorBody(ReasonTooManyRequests, "")})
}

// FailServer makes the next n API calls answer status (500, 502, 503, 504)
// with a Linode error body.
func (s *Server) FailServer(n, status int) {
	s.Fail(n, status, http.StatusText(status))
}

// Busy makes the next n API calls answer 400 "Linode busy.", Linode's way of
// saying another operation holds the Linode.
func (s *Server) Busy(n int) { s.Fail(n, http.StatusBadRequest, ReasonBusy) }

// Maintenance makes the next n API calls answer the 503 Linode sends during
// maintenance windows, marked by the X-Maintenance-Mode header.
func (s *Server) Maintenance(n int) {
	h := http.Header{}
	h.Set("X-Maintenance-Mode", "true")
	s.add(n, inject{status: http.StatusServiceUnavailable, header: h,
		body: errorBody("The API is currently undergoing maintenance. Please try again later.", "")})
}

// Fail makes the next n API calls answer status with one error reason.
func (s *Server) Fail(n, status int, reason string) {
	s.add(n, inject{status: status, body: errorBody(reason, "")})
}

// FailRaw makes the next n API calls answer status with body as
// contentType, for responses that do not follow Linode's error format (a
// proxy's HTML page, an error without an "errors" array).
func (s *Server) FailRaw(n, status int, contentType, body string) {
	s.add(n, inject{status: status, contentType: contentType, body: body})
}

// SoldOut makes creates of typ in region fail as out of stock.
func (s *Server) SoldOut(region, typ string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.soldOut[region+"/"+typ] = true
}

// SetLatency delays every response by d, for timeout and cancellation tests.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// SetInstanceLimit changes the account's Linode limit; 0 means none.
func (s *Server) SetInstanceLimit(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.instanceLimit = n
}

func (s *Server) add(n int, in inject) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.injects = append(s.injects, in)
	}
}

// Creates returns the create requests received, in order, refused ones
// included.
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

// Count returns how many requests matched "METHOD /path".
func (s *Server) Count(call string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		if c == call {
			n++
		}
	}
	return n
}

// Filters returns the X-Filter header of every list request, in order.
func (s *Server) Filters() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.filters)
}

// Instances returns the number of live Linodes.
func (s *Server) Instances() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.instances)
}

// UserData returns the decoded user data of the Linode with id and whether
// that Linode exists.
func (s *Server) UserData(id int) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	in, ok := s.instances[id]
	if !ok {
		return "", false
	}
	return in.UserData, true
}

// apiError is one entry of Linode's "errors" array.
type apiError struct {
	Reason string `json:"reason"`
	Field  string `json:"field,omitempty"`
}

func errorBody(reason, field string) string {
	b, _ := json.Marshal(map[string][]apiError{"errors": {{Reason: reason, Field: field}}})
	return string(b)
}

// writeJSON answers with exactly "application/json": linodego rejects error
// bodies with any other Content-Type, parameters included.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers with Linode's error shape; the "errors" array is never
// empty, since linodego treats an error status without one as success.
func writeError(w http.ResponseWriter, status int, reason, field string) {
	writeJSON(w, status, map[string][]apiError{"errors": {{Reason: reason, Field: field}}})
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
		maps.Copy(w.Header(), in.header)
		ct := in.contentType
		if ct == "" {
			ct = "application/json"
		}
		w.Header().Set("Content-Type", ct)
		w.WriteHeader(in.status)
		_, _ = w.Write([]byte(in.body))
		return
	}
	bearer, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	account, ok := s.tokens[bearer]
	if !ok || bearer == "" {
		writeError(w, http.StatusUnauthorized, ReasonInvalidToken, "")
		return
	}

	path := strings.TrimSuffix(r.URL.Path, "/")
	switch {
	case r.Method == http.MethodGet && path == "/v4/profile":
		writeJSON(w, http.StatusOK, map[string]any{
			"uid": 1, "username": "daestro-test", "email": "dev@example.com", "timezone": "UTC",
			"restricted": false, "two_factor_auth": false, "authorized_keys": nil})
	case r.Method == http.MethodGet && path == "/v4/account":
		writeJSON(w, http.StatusOK, map[string]any{
			"euuid": account, "email": AccountEmail(account), "first_name": "Dev", "last_name": "Example",
			"company": "", "country": "US", "balance": 0, "balance_uninvoiced": 0, "capabilities": []string{"Linodes", "Metadata"},
			"billing_source": "linode"})
	case r.Method == http.MethodGet && path == "/v4/regions":
		s.page(w, r, regions)
	case r.Method == http.MethodGet && path == "/v4/linode/types":
		s.page(w, r, types)
	case r.Method == http.MethodPost && path == "/v4/linode/instances":
		s.create(w, r, account)
	case r.Method == http.MethodGet && path == "/v4/linode/instances":
		s.list(w, r, account)
	case strings.HasPrefix(path, "/v4/linode/instances/"):
		id, err := strconv.Atoi(strings.TrimPrefix(path, "/v4/linode/instances/"))
		in := s.instances[id]
		if err != nil || in == nil || in.Account != account {
			writeError(w, http.StatusNotFound, ReasonNotFound, "")
			return
		}
		switch r.Method {
		case http.MethodGet:
			body := s.render(in)
			in.Gets++
			writeJSON(w, http.StatusOK, body)
		case http.MethodDelete:
			delete(s.instances, id)
			writeJSON(w, http.StatusOK, map[string]any{})
		default:
			writeError(w, http.StatusMethodNotAllowed, "Method Not Allowed", "")
		}
	default:
		writeError(w, http.StatusNotFound, ReasonNotFound, "")
	}
}

// page answers one page of items the way Linode pages: page (1-based, 1 by
// default), page_size (25–500, 100 by default) and the page/pages/results
// envelope.
func (s *Server) page(w http.ResponseWriter, r *http.Request, items []any) {
	q := r.URL.Query()
	page := 1
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, "Must be a positive integer", "page")
			return
		}
		page = n
	}
	size := 100
	if v := q.Get("page_size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 25 || n > 500 {
			writeError(w, http.StatusBadRequest, "Must be an integer between 25 and 500", "page_size")
			return
		}
		size = n
	}
	if s.pageSize > 0 {
		size = min(size, s.pageSize)
	}
	pages := max((len(items)+size-1)/size, 1)
	if page > pages {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("Must be between 1 and %d", pages), "page")
		return
	}
	from := (page - 1) * size
	to := min(from+size, len(items))
	writeJSON(w, http.StatusOK, map[string]any{
		"data": items[from:to], "page": page, "pages": pages, "results": len(items)})
}

// list answers GET /v4/linode/instances, honouring an X-Filter on "tags"
// (an instance matches when it carries the tag) and "label".
func (s *Server) list(w http.ResponseWriter, r *http.Request, account string) {
	raw := r.Header.Get("X-Filter")
	s.filters = append(s.filters, raw)
	var filter map[string]string
	if raw != "" {
		if err := json.Unmarshal([]byte(raw), &filter); err != nil {
			writeError(w, http.StatusBadRequest, "linodefake only understands flat string filters: "+err.Error(), "X-Filter")
			return
		}
		for k := range filter {
			if k != "tags" && k != "label" {
				writeError(w, http.StatusBadRequest, "Cannot filter on "+k, "X-Filter")
				return
			}
		}
	}
	items := []any{}
	for _, id := range slices.Sorted(maps.Keys(s.instances)) {
		in := s.instances[id]
		if in.Account != account {
			continue
		}
		if tag, ok := filter["tags"]; ok && !slices.Contains(in.Tags, tag) {
			continue
		}
		if label, ok := filter["label"]; ok && in.Label != label {
			continue
		}
		items = append(items, s.render(in))
	}
	s.page(w, r, items)
}

// labelRE is Linode's label rule: 3–64 letters, digits, '-', '_' and '.',
// starting and ending with a letter or digit.
var labelRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{1,62}[A-Za-z0-9]$`)

func (s *Server) create(w http.ResponseWriter, r *http.Request, account string) {
	var body CreateBody
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, "Invalid JSON: "+err.Error(), "")
		return
	}
	s.creates = append(s.creates, body)

	reg, ok := findRegion(body.Region)
	if !ok {
		writeError(w, http.StatusBadRequest, "Region is not valid", "region")
		return
	}
	if _, ok := findType(body.Type); !ok {
		writeError(w, http.StatusBadRequest, "A valid plan type by that ID was not found", "type")
		return
	}
	if body.Image != "" && body.Image != "linode/ubuntu24.04" && body.Image != "linode/debian12" {
		writeError(w, http.StatusBadRequest, "Image is not valid", "image")
		return
	}
	// The documented rule: deploying an image needs a root password.
	if body.Image != "" && body.RootPass == "" {
		writeError(w, http.StatusBadRequest, "root_pass is required when deploying an image", "root_pass")
		return
	}
	if body.RootPass != "" && (len(body.RootPass) < 11 || len(body.RootPass) > 128) {
		writeError(w, http.StatusBadRequest, "Length must be 11-128 characters", "root_pass")
		return
	}
	if body.Label != "" {
		if !labelRE.MatchString(body.Label) || strings.Contains(body.Label, "--") ||
			strings.Contains(body.Label, "__") || strings.Contains(body.Label, "..") {
			writeError(w, http.StatusBadRequest, "Label must be 3-64 characters, begin and end with a letter or digit, and contain only letters, digits, '-', '_' or '.' with no two of '-', '_' or '.' in a row", "label")
			return
		}
		for _, in := range s.instances {
			if in.Account == account && in.Label == body.Label {
				writeError(w, http.StatusBadRequest, "Label must be unique among your linodes", "label")
				return
			}
		}
	}
	for _, t := range body.Tags {
		if len(t) < 3 || len(t) > 50 {
			writeError(w, http.StatusBadRequest, "Length must be 3-50 characters", "tags")
			return
		}
	}
	for _, k := range body.AuthorizedKeys {
		if _, _, _, _, err := ssh.ParseAuthorizedKey([]byte(k)); err != nil {
			writeError(w, http.StatusBadRequest, "SSH Key is not valid", "authorized_keys")
			return
		}
	}
	var userData string
	if body.Metadata != nil && body.Metadata.UserData != "" {
		if !slices.Contains(reg.Capabilities, "Metadata") {
			writeError(w, http.StatusBadRequest, "Metadata is not supported in this region", "metadata")
			return
		}
		b, err := base64.StdEncoding.DecodeString(body.Metadata.UserData)
		if err != nil {
			writeError(w, http.StatusBadRequest, "user_data must be valid base64", "metadata.user_data")
			return
		}
		userData = string(b)
	}
	if s.soldOut[body.Region+"/"+body.Type] {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("Linode type %s is currently out of stock in %s.", body.Type, body.Region), "type")
		return
	}
	live := 0
	for _, in := range s.instances {
		if in.Account == account {
			live++
		}
	}
	if s.instanceLimit > 0 && live >= s.instanceLimit {
		writeError(w, http.StatusBadRequest, ReasonAccountLimit, "")
		return
	}

	in := &instance{ID: s.nextID, Account: account, Label: body.Label, Region: body.Region, Type: body.Type, Image: body.Image,
		Tags: body.Tags, UserData: userData, Created: time.Now().UTC(), Private: body.PrivateIP}
	s.nextID++
	if in.Label == "" {
		in.Label = "linode" + strconv.Itoa(in.ID)
	}
	if in.Tags == nil {
		in.Tags = []string{}
	}
	s.instances[in.ID] = in
	writeJSON(w, http.StatusOK, s.render(in))
}

// render is the Linode's JSON. Linode assigns addresses at creation, so
// they are there while the Linode is still provisioning; a private address,
// when asked for, comes first, as it may on the real API.
func (s *Server) render(in *instance) map[string]any {
	running := in.Gets >= s.runningAfterGets
	if s.runningAfter > 0 {
		running = time.Since(in.Created) >= s.runningAfter
	}
	status := "provisioning"
	if running {
		status = "running"
	}
	ipv4 := []string{fmt.Sprintf("203.0.113.%d", in.ID%250+1)}
	if in.Private {
		ipv4 = append([]string{fmt.Sprintf("192.168.%d.%d", in.ID%200, in.ID%250+1)}, ipv4...)
	}
	typ, _ := findType(in.Type)
	created := in.Created.Format(TimeLayout)
	return map[string]any{
		"id": in.ID, "label": in.Label, "region": in.Region, "type": in.Type, "image": in.Image,
		"status": status, "ipv4": ipv4, "ipv6": fmt.Sprintf("2001:db8::%x/128", in.ID),
		"tags": in.Tags, "group": "", "hypervisor": "kvm", "watchdog_enabled": true,
		"has_user_data": in.UserData != "", "created": created, "updated": created,
		"specs":  map[string]any{"disk": typ.Disk, "memory": typ.Memory, "vcpus": typ.VCPUs, "gpus": 0, "transfer": 4000},
		"alerts": map[string]any{"cpu": 180, "io": 10000, "network_in": 10, "network_out": 10, "transfer_quota": 80},
		"backups": map[string]any{"enabled": false, "available": false, "last_successful": nil,
			"schedule": map[string]any{"day": nil, "window": nil}},
	}
}

// Region is a region as the fake serves it.
type Region struct {
	// ID is the region id, e.g. "us-east".
	ID string `json:"id"`
	// Label is the display name, e.g. "Newark, NJ".
	Label string `json:"label"`
	// Country is the ISO country code, lower case.
	Country string `json:"country"`
	// Capabilities are the services offered there; "Metadata" is what
	// user data needs.
	Capabilities []string `json:"capabilities"`
	// Status is "ok" or "outage".
	Status string `json:"status"`
	// SiteType is "core" or "distributed".
	SiteType string `json:"site_type"`
}

// Price is an hourly and monthly price in US dollars.
type Price struct {
	// Hourly is the price per hour.
	Hourly float64 `json:"hourly"`
	// Monthly is the price per month.
	Monthly float64 `json:"monthly"`
}

// RegionPrice is a type's price where it differs from the default.
type RegionPrice struct {
	// ID is the region id.
	ID string `json:"id"`
	// Hourly is the price per hour there.
	Hourly float64 `json:"hourly"`
	// Monthly is the price per month there.
	Monthly float64 `json:"monthly"`
}

// Type is a Linode type as the fake serves it.
type Type struct {
	// ID is the type id, e.g. "g6-standard-2".
	ID string `json:"id"`
	// Label is the display name.
	Label string `json:"label"`
	// Class is "nanode", "standard", "dedicated", "highmem" or "gpu".
	Class string `json:"class"`
	// Disk is in MB.
	Disk int `json:"disk"`
	// Memory is in MB.
	Memory int `json:"memory"`
	// VCPUs is the number of virtual CPUs.
	VCPUs int `json:"vcpus"`
	// Price is the default price.
	Price Price `json:"price"`
	// RegionPrices are the regional exceptions.
	RegionPrices []RegionPrice `json:"region_prices"`
}

// Regions and Types are what the fake serves. "ap-south" has no Metadata
// capability, so no user data there; "id-cgk" has regional prices.
var (
	Regions = []Region{
		{ID: "us-east", Label: "Newark, NJ", Country: "us", Capabilities: []string{"Linodes", "Block Storage", "Cloud Firewall", "Metadata", "Placement Group"}, Status: "ok", SiteType: "core"},
		{ID: "eu-central", Label: "Frankfurt, DE", Country: "de", Capabilities: []string{"Linodes", "Block Storage", "Metadata"}, Status: "ok", SiteType: "core"},
		{ID: "ap-south", Label: "Singapore, SG", Country: "sg", Capabilities: []string{"Linodes", "Block Storage"}, Status: "ok", SiteType: "core"},
		{ID: "id-cgk", Label: "Jakarta, ID", Country: "id", Capabilities: []string{"Linodes", "Metadata"}, Status: "ok", SiteType: "core"},
	}
	Types = []Type{
		{ID: "g6-nanode-1", Label: "Nanode 1GB", Class: "nanode", Disk: 25600, Memory: 1024, VCPUs: 1,
			Price: Price{Hourly: 0.0075, Monthly: 5}, RegionPrices: []RegionPrice{{ID: "id-cgk", Hourly: 0.009, Monthly: 6}}},
		{ID: "g6-standard-2", Label: "Linode 4GB", Class: "standard", Disk: 81920, Memory: 4096, VCPUs: 2,
			Price: Price{Hourly: 0.036, Monthly: 24}, RegionPrices: []RegionPrice{{ID: "id-cgk", Hourly: 0.043, Monthly: 28.8}}},
		{ID: "g6-dedicated-4", Label: "Dedicated 8GB", Class: "dedicated", Disk: 163840, Memory: 8192, VCPUs: 4,
			Price: Price{Hourly: 0.108, Monthly: 72}, RegionPrices: []RegionPrice{}},
	}
)

// regions and types are Regions and Types as JSON-ready values.
var regions, types = asAny(Regions), asAny(Types)

func asAny[T any](xs []T) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

func findRegion(id string) (Region, bool) {
	i := slices.IndexFunc(Regions, func(r Region) bool { return r.ID == id })
	if i < 0 {
		return Region{}, false
	}
	return Regions[i], true
}

func findType(id string) (Type, bool) {
	i := slices.IndexFunc(Types, func(t Type) bool { return t.ID == id })
	if i < 0 {
		return Type{}, false
	}
	return Types[i], true
}
