package apiserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	temporalclient "go.temporal.io/sdk/client"

	"daestro/activities"
	"daestro/apiserver"
	"daestro/internal/agentapi"
	"daestro/internal/cloud"
	"daestro/internal/contract"
	"daestro/internal/domain"
	"daestro/internal/store"
	"daestro/internal/testenv"
	"daestro/worker"
)

// api is a real HTTP server over a fresh, migrated database of the test's own.
type api struct {
	t   testing.TB
	url string
	st  *store.Store
	// temporal is the server's Temporal client (nil unless the test gave one).
	temporal temporalclient.Client
}

// newAPI starts the API against a fresh database with a random master key.
func newAPI(t testing.TB) *api {
	t.Helper()
	return newAPIWith(t, nil)
}

// newAPIWith is newAPI with the given cloud provider registry (nil: catalogClouds).
func newAPIWith(t testing.TB, clouds *cloud.Registry) *api {
	t.Helper()
	return serveAPI(t, newTestStore(t), apiserver.Options{Clouds: clouds})
}

// newTestStore is a fresh, migrated database with a random master key.
func newTestStore(t testing.TB) *store.Store {
	t.Helper()
	return testenv.SealingStore(t)
}

// serveAPI serves the API over st with o (Store and Logger filled in, and
// Clouds when nil: catalogClouds, so cloud compute environments can be created).
func serveAPI(t testing.TB, st *store.Store, o apiserver.Options) *api {
	t.Helper()
	o.Store, o.Logger = st, testenv.Logger(t)
	if o.Clouds == nil {
		o.Clouds = catalogClouds()
	}
	srv := httptest.NewServer(apiserver.New(o).Handler())
	t.Cleanup(srv.Close)
	return &api{t: t, url: srv.URL, st: st, temporal: o.Temporal}
}

// Agent settings the spawn tests' servers hand out, asserted verbatim.
const (
	testPublicURL  = "https://daestro.example.com"
	testAgentImage = "ghcr.io/acme/daestro-agent:test"
)

// newSpawnAPI is newAPI wired to the real Temporal dev server, with a control
// worker of the test's own (its own task queue) running the spawn workflows
// against the test's database. unreachableAfter shortens the unreachable
// timeout (0 keeps the default).
func newSpawnAPI(t testing.TB, unreachableAfter time.Duration) *api {
	t.Helper()
	st, tc, queue := startControlWorker(t)
	a := serveAPI(t, st, apiserver.Options{Temporal: tc, ControlTaskQueue: queue, SpawnUnreachableAfter: unreachableAfter,
		PublicURL: testPublicURL, AgentImage: testAgentImage, TemporalNamespace: "default"})
	// Spawn workflows wait for pings forever: end the test's ones, so the
	// shared dev server does not collect them. (Runs before the worker stops
	// and the database is dropped: cleanups run last-in first-out.)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ids, err := pgx.CollectRows(mustQuery(t, st, `SELECT id::text FROM compute_spawns`), pgx.RowTo[string])
		if err != nil {
			return
		}
		for _, id := range ids {
			_ = tc.TerminateWorkflow(ctx, contract.SpawnWorkflowID(id), "", "test over")
		}
	})
	return a
}

// startControlWorker is a fresh database and the real Temporal dev server
// with the real control worker on a task queue of the test's own, running
// against that database until the test ends.
func startControlWorker(t testing.TB) (*store.Store, temporalclient.Client, string) {
	t.Helper()
	st := newTestStore(t)
	tc := testenv.Temporal(t)
	queue := testenv.TaskQueue(t)
	w := worker.New(tc, queue, &activities.Activities{Store: st})
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
	return st, tc, queue
}

func mustQuery(t testing.TB, st *store.Store, sql string, args ...any) pgx.Rows {
	t.Helper()
	rows, err := st.Pool.Query(context.Background(), sql, args...)
	require.NoError(t, err)
	return rows
}

// agent returns a client that authenticates with an agent token.
func (a *api) agent(token string) client {
	return client{a: a, key: token}
}

// registeredAgent registers an agent with a spawn's bootstrap token, as a
// starting agent does, and returns a client using the credential it got.
func (a *api) registeredAgent(bootstrap string) client {
	a.t.Helper()
	r := a.agent(bootstrap).do(http.MethodPost, agentapi.PathRegister, register)
	require.Equal(a.t, http.StatusOK, r.Status, r.Raw)
	credential, _ := r.data(a.t)["credential"].(string)
	require.NotEmpty(a.t, credential, "registering with a bootstrap token returns the agent's credential")
	return a.agent(credential)
}

// client calls the API with one project's key.
type client struct {
	a       *api
	key     string
	project domain.Project
}

// newProject creates a project with an API key and returns a client using it.
func (a *api) newProject(code string) client {
	a.t.Helper()
	p, err := a.st.CreateProject(context.Background(), code, "")
	require.NoError(a.t, err)
	_, secret, err := a.st.CreateAPIKey(context.Background(), p.ID, "test")
	require.NoError(a.t, err)
	return client{a: a, key: secret, project: p}
}

// response is a decoded API answer.
type response struct {
	Status  int
	OK      bool            `json:"ok"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
	Raw     string
	Header  http.Header `json:"-"`
	// call is the request answered, "GET /v1/jobs/…", for failure messages.
	call string
}

// do sends body (nil, a raw JSON string, or a value to marshal) and decodes the envelope.
func (c client) do(method, path string, body any) response {
	c.a.t.Helper()
	var rd io.Reader
	var sent []byte
	switch b := body.(type) {
	case nil:
	case string:
		sent = []byte(b)
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		require.NoError(c.a.t, err)
		sent = raw
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, c.a.url+path, rd)
	require.NoError(c.a.t, err)
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(c.a.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(c.a.t, err)
	r := response{Status: resp.StatusCode, Raw: string(raw), Header: resp.Header, call: method + " " + path}
	require.NoError(c.a.t, json.Unmarshal(raw, &r), "response is not the JSON envelope: %s", raw)
	if problem := checkAgainstSpec(req, sent, resp.StatusCode, resp.Header, raw); problem != "" {
		assert.Fail(c.a.t, "the exchange departs from schemas/openapi.json", "%s %s:\n%s\nresponse: %s", method, path, problem, raw)
	}
	return r
}

// data decodes the envelope's data into a map for field assertions.
func (r response) data(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.Data, &m), "data is not an object: %s", r.Raw)
	return m
}

// decode decodes the envelope's data into v.
func (r response) decode(t testing.TB, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(r.Data, v), "data: %s", r.Raw)
}

// dataOf requires r to have status and decodes its data into a T: the
// check-then-decode that the typed getters of these tests (a resource, a
// page, an agent's answer) share, so that none of them forgets the check.
func dataOf[T any](t testing.TB, r response, status int) T {
	t.Helper()
	require.Equal(t, status, r.Status, "%s: %s", r.call, r.Raw)
	var v T
	r.decode(t, &v)
	return v
}

// getData GETs path as c and decodes the data of its 200 into a T.
func getData[T any](t testing.TB, c client, path string) T {
	t.Helper()
	return dataOf[T](t, c.do(http.MethodGet, path, nil), http.StatusOK)
}

// id returns data.id of a create response, failing when the request did not succeed.
func (r response) id(t testing.TB) string {
	t.Helper()
	require.True(t, r.OK, "request failed: %d %s", r.Status, r.Raw)
	id, _ := r.data(t)["id"].(string)
	require.NotEmpty(t, id, "no id in %s", r.Raw)
	return id
}

// bodyWith returns a copy of body with extra set (or, for a nil value,
// removed): how a test makes one invalid body out of a valid one.
func bodyWith(body map[string]any, extra map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range body {
		out[k] = v
	}
	for k, v := range extra {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

// rejected is one invalid request body and what its 400 says.
type rejected struct {
	name string
	body any
	want string
}

// assertRejected POSTs each body to path, each as a subtest of its name,
// and checks what the user sees: a 400 that is not ok, a message naming the
// problem, and nothing written to table.
func assertRejected(t *testing.T, c client, path, table string, tests []rejected) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := c.a.count(table)
			r := c.do(http.MethodPost, path, tt.body)
			assert.Equal(t, http.StatusBadRequest, r.Status, r.Raw)
			assert.False(t, r.OK)
			assert.Contains(t, r.Message, tt.want)
			assert.Equal(t, before, c.a.count(table), "a rejected request writes nothing")
		})
	}
}

// count returns the number of rows in table, to prove a rejected request wrote nothing.
func (a *api) count(table string) int {
	a.t.Helper()
	var n int
	require.NoError(a.t, a.st.Pool.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n))
	return n
}

// decodeJSON decodes one JSON value from r into v.
func decodeJSON(r io.Reader, v any) error { return json.NewDecoder(r).Decode(v) }

// tb is the test the api was made for.
func (a *api) tb() testing.TB { return a.t }
