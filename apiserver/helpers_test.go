package apiserver_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"daestro/apiserver"
	"daestro/internal/cloud"
	"daestro/internal/domain"
	"daestro/internal/secrets"
	"daestro/internal/store"
	"daestro/internal/testenv"
)

// api is a real HTTP server over a fresh, migrated database of the test's own.
type api struct {
	t   testing.TB
	url string
	st  *store.Store
}

// newAPI starts the API against a fresh database with a random master key.
func newAPI(t testing.TB) *api {
	t.Helper()
	return newAPIWith(t, nil)
}

// newAPIWith is newAPI with the given cloud provider registry.
func newAPIWith(t testing.TB, clouds *cloud.Registry) *api {
	t.Helper()
	st := testenv.Store(t)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	ring, err := secrets.NewKeyring(key)
	require.NoError(t, err)
	st.Secrets = ring
	srv := httptest.NewServer(apiserver.New(apiserver.Options{Store: st, Clouds: clouds, Logger: testenv.Logger(t)}).Handler())
	t.Cleanup(srv.Close)
	return &api{t: t, url: srv.URL, st: st}
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
}

// do sends body (nil, a raw JSON string, or a value to marshal) and decodes the envelope.
func (c client) do(method, path string, body any) response {
	c.a.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		require.NoError(c.a.t, err)
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
	r := response{Status: resp.StatusCode, Raw: string(raw)}
	require.NoError(c.a.t, json.Unmarshal(raw, &r), "response is not the JSON envelope: %s", raw)
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
func (r response) decode(t *testing.T, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(r.Data, v), "data: %s", r.Raw)
}

// id returns data.id of a create response, failing when the request did not succeed.
func (r response) id(t testing.TB) string {
	t.Helper()
	require.True(t, r.OK, "request failed: %d %s", r.Status, r.Raw)
	id, _ := r.data(t)["id"].(string)
	require.NotEmpty(t, id, "no id in %s", r.Raw)
	return id
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
