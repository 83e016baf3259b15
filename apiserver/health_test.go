package apiserver_test

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	tclient "go.temporal.io/sdk/client"

	"daestro/apiserver"
	"daestro/internal/store"
	"daestro/internal/temporalx"
	"daestro/internal/testenv"
)

type readyBody struct {
	OK      bool   `json:"ok"`
	Message string `json:"message"`
	Data    struct {
		Ready  bool              `json:"ready"`
		Checks map[string]string `json:"checks"`
	} `json:"data"`
}

func serve(t *testing.T, st *store.Store, tc tclient.Client) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(apiserver.New(apiserver.Options{Store: st, Temporal: tc, Logger: testenv.Logger(t)}).Handler())
	t.Cleanup(srv.Close)
	return srv
}

func getReady(t *testing.T, url string) (int, readyBody) {
	t.Helper()
	resp, err := http.Get(url + apiserver.PathReadyz)
	require.NoError(t, err)
	defer resp.Body.Close()
	var body readyBody
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	return resp.StatusCode, body
}

// closedAddress returns a loopback address nothing listens on.
func closedAddress(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

func TestHealthzAnswersWithoutDependencies(t *testing.T) {
	srv := serve(t, nil, nil)
	resp, err := http.Get(srv.URL + apiserver.PathHealthz)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.NotEmpty(t, resp.Header.Get(apiserver.HeaderRequestID), "every response carries a request ID")
}

func TestReadyzWithRealPostgresAndTemporal(t *testing.T) {
	srv := serve(t, testenv.Store(t), testenv.Temporal(t))
	status, body := getReady(t, srv.URL)
	assert.Equal(t, http.StatusOK, status, "%+v", body)
	assert.True(t, body.OK)
	assert.True(t, body.Data.Ready)
	assert.Equal(t, map[string]string{"postgres": "ok", "temporal": "ok", "migrations": "ok"}, body.Data.Checks)
}

func TestReadyzNamesUnreachableTemporal(t *testing.T) {
	tc, err := temporalx.NewLazyClient(temporalx.Options{Address: closedAddress(t), Namespace: "default", Logger: testenv.Logger(t)})
	require.NoError(t, err)
	t.Cleanup(tc.Close)
	srv := serve(t, testenv.Store(t), tc)

	status, body := getReady(t, srv.URL)
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.False(t, body.OK)
	assert.Equal(t, "not ready: temporal", body.Message)
	assert.Equal(t, "ok", body.Data.Checks["postgres"])
	assert.Contains(t, body.Data.Checks["temporal"], "not reachable")
}

func TestReadyzNamesPendingMigrations(t *testing.T) {
	st := testenv.OpenStore(t, testenv.NewDatabase(t)) // never migrated
	srv := serve(t, st, testenv.Temporal(t))

	status, body := getReady(t, srv.URL)
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.Equal(t, "not ready: migrations", body.Message)
	assert.Contains(t, body.Data.Checks["migrations"], "run `daestro migrate`")
}

func TestRequestIDIsEchoedAndUnknownRoutesUseTheEnvelope(t *testing.T) {
	srv := serve(t, nil, nil)
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/nope", nil)
	req.Header.Set(apiserver.HeaderRequestID, "trace-123")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, "trace-123", resp.Header.Get(apiserver.HeaderRequestID))
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	var body map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	assert.Equal(t, false, body["ok"])
	assert.Contains(t, body["message"], "no route GET /v1/nope")
}

// Dependency errors name hosts and users: a caller that is not on the
// machine learns what is down, not why.
func TestReadyzDetailsOnlyOnLoopback(t *testing.T) {
	tc, err := temporalx.NewLazyClient(temporalx.Options{Address: closedAddress(t), Namespace: "default", Logger: testenv.Logger(t)})
	require.NoError(t, err)
	t.Cleanup(tc.Close)
	h := apiserver.New(apiserver.Options{Store: testenv.Store(t), Temporal: tc, Logger: testenv.Logger(t)}).Handler()

	req := httptest.NewRequest(http.MethodGet, apiserver.PathReadyz, nil)
	req.RemoteAddr = "203.0.113.5:40000" // a caller elsewhere (no traffic is sent: the handler is called directly)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var body readyBody
	require.NoError(t, json.NewDecoder(rec.Body).Decode(&body))
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.Equal(t, "not ready: temporal", body.Message)
	assert.Equal(t, "ok", body.Data.Checks["postgres"])
	assert.Equal(t, "failing (details on loopback only)", body.Data.Checks["temporal"])
	assert.NotContains(t, rec.Body.String(), "127.0.0.1")
}
