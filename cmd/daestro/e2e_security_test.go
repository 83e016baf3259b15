package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"daestro/internal/testenv"
)

// testCertificates writes a CA and a server certificate for 127.0.0.1 and
// localhost, signed by it, into a temporary directory (PEM files).
func testCertificates(t testing.TB) (caFile, certFile, keyFile string) {
	t.Helper()
	dir := t.TempDir()
	// The agent container reads the CA through a bind mount: readable by its user.
	require.NoError(t, os.Chmod(dir, 0o755))
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "daestro test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	srv := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "daestro test server"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	caCert, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)
	srvDER, err := x509.CreateCertificate(rand.Reader, srv, caCert, &srvKey.PublicKey, caKey)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(srvKey)
	require.NoError(t, err)
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o644))
		return p
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("server.pem", "CERTIFICATE", srvDER), write("server-key.pem", "EC PRIVATE KEY", keyDER)
}

func certPool(t testing.TB, caFile string) *x509.CertPool {
	t.Helper()
	b, err := os.ReadFile(caFile)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(b))
	return pool
}

// The API, the agent's HTTP calls and its Temporal gateway all run over
// TLS with a certificate of a private CA the agent is told of: a job runs
// end to end, and plain HTTP is not served on the TLS port.
func TestAgentAndServerOverTLS(t *testing.T) {
	image := agentTestImage(t)
	s := startSystem(t, systemOptions{tls: true})
	require.True(t, strings.HasPrefix(s.baseURL, "https://"))
	ar := s.startAgent(image)
	assert.Contains(t, ar.line, "DAESTRO_SERVER_URL="+s.baseURL, "the docker run line names the https URL")
	s.waitIdle(ar.spawnID)

	status, def := s.call(http.MethodPost, "/v1/job-definitions", map[string]any{"name": "tls", "type": "docker",
		"image": testenv.TestImage(), "command": []string{"echo", "over tls"}})
	require.Equal(t, http.StatusCreated, status, def)
	status, sub := s.call(http.MethodPost, "/v1/client/job", map[string]any{"job_definition": "e2e::tls", "job_queue": "e2e::etl"})
	require.Equal(t, http.StatusAccepted, status, sub)
	job := s.waitJob(sub["id"].(string), 120*time.Second)
	assert.Equal(t, "completed", job["state"], "a job runs through the gateway over TLS: %v", job)
	assert.Equal(t, []string{"over tls"}, s.logTexts(sub["id"].(string)))

	resp, err := http.Get("http://" + strings.TrimPrefix(s.baseURL, "https://") + "/healthz")
	require.NoError(t, err, "the TLS port answers plain HTTP with an error page, not silence")
	defer resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "plain HTTP on the TLS port gets no API")
}

// One canary per kind of secret (a definition's sensitive env value, a
// job's sensitive override, a registry password), a job that prints its
// whole environment: the canaries show up nowhere but as ciphertext or ***
// — not in Temporal's histories (every event, memo and search attribute of
// every workflow of the project), not in the processes' logs, API
// responses, error messages, container labels or stored logs.
func TestSecretCanarySweep(t *testing.T) {
	image := agentTestImage(t)
	s := startSystem(t, systemOptions{logLevel: "debug"})
	ar := s.startAgent(image)
	s.waitIdle(ar.spawnID)
	canaries := map[string]string{
		"definition env": "canary-def-9b1e4f27",
		"job env":        "canary-job-5ac0d3e1",
		"registry":       "canary-reg-77f2a9c4",
	}

	status, reg := s.call(http.MethodPost, "/v1/registry-auths", map[string]any{"name": "hub", "registry_url": "",
		"username": "bot", "password": canaries["registry"]})
	require.Equal(t, http.StatusCreated, status, reg)
	status, def := s.call(http.MethodPost, "/v1/job-definitions", map[string]any{"name": "printenv", "type": "docker",
		"image": testenv.TestImage(), "registry_auth_id": reg["id"], "command": []string{"sh", "-c", "env | sort"},
		"env": map[string]any{"DB_PASSWORD": map[string]any{"value": canaries["definition env"], "sensitive": true}}})
	require.Equal(t, http.StatusCreated, status, def)
	status, sub := s.call(http.MethodPost, "/v1/client/job", map[string]any{"job_definition": "e2e::printenv", "job_queue": "e2e::etl",
		"container_env": map[string]any{"API_KEY": map[string]any{"value": canaries["job env"], "sensitive": true}}})
	require.Equal(t, http.StatusAccepted, status, sub)
	jobID := sub["id"].(string)
	job := s.waitJob(jobID, 120*time.Second)
	require.Equal(t, "completed", job["state"], "%v", job)

	logs := s.logTexts(jobID)
	assert.Contains(t, logs, "DB_PASSWORD=***", "the container got the definition's value; the stored log masks it")
	assert.Contains(t, logs, "API_KEY=***", "and the job's override")

	// A refused request that carries a canary does not echo it back.
	status, bad := s.call(http.MethodPost, "/v1/client/job", map[string]any{"job_definition": "e2e::printenv", "job_queue": "e2e::etl",
		"container_env": map[string]any{"BAD KEY": map[string]any{"value": canaries["job env"], "sensitive": true}}})
	require.Equal(t, http.StatusBadRequest, status, bad)

	var seen []string // every text the sweep looked at, by where
	look := func(where, text string) { seen = append(seen, where+"\n"+text) }
	look("stored logs", strings.Join(logs, "\n"))
	look("error message", fmt.Sprint(bad))
	for _, path := range []string{"/v1/jobs/" + jobID, "/v1/client/job/" + jobID, "/v1/job-definitions/printenv", "/v1/registry-auths/" + reg["id"].(string),
		"/v1/jobs/" + jobID + "/logs", "/v1/compute-spawns/" + ar.spawnID, "/v1/jobs?limit=500"} {
		_, body := s.call(http.MethodGet, path, nil)
		look("GET "+path, fmt.Sprint(body))
	}

	// Temporal: every workflow of the project (job, dispatcher, spawn), every event, memo and search attribute.
	tc := testenv.Temporal(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, id := range []string{"job/" + jobID, "dispatch/" + s.projectID(), "spawn/" + ar.spawnID} {
		desc, err := tc.DescribeWorkflowExecution(ctx, id, "")
		require.NoError(t, err, id)
		b, _ := protojson.Marshal(desc)
		look("describe "+id, string(b))
		it := tc.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		n := 0
		for it.HasNext() {
			ev, err := it.Next()
			require.NoError(t, err)
			b, _ := protojson.Marshal(ev)
			look(fmt.Sprintf("history %s event %d", id, ev.GetEventId()), string(b))
			n++
		}
		assert.Positive(t, n, "history of %s read", id)
	}
	list, err := tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: fmt.Sprintf("DaestroProjectID = '%s'", s.projectID())})
	require.NoError(t, err)
	b, _ := protojson.Marshal(list)
	look("workflow list", string(b))

	// Processes: server and worker (debug level), the agent container; its labels and env.
	look("server log", s.server.logs.String())
	look("worker log", s.worker.logs.String())
	out, _ := exec.Command("docker", "logs", ar.container).CombinedOutput()
	look("agent log", string(out))
	look("agent container", docker(t, "inspect", ar.container))
	runContainers := docker(t, "ps", "-a", "-q", "--filter", "label=daestro.run-id")
	for _, id := range strings.Fields(runContainers) {
		look("run container labels "+id, docker(t, "inspect", "-f", "{{json .Config.Labels}}", id))
	}

	require.NotEmpty(t, seen)
	for kind, canary := range canaries {
		for _, text := range seen {
			where, _, _ := strings.Cut(text, "\n")
			assert.NotContains(t, text, canary, "the %s canary leaked into %s", kind, where)
		}
	}
}

// Operator policy on a `daestro server` as deployed (no flags): localdocker
// is refused with a sentence that says how to enable it, and nothing is stored.
func TestServerRefusesLocalDockerWithoutTheFlag(t *testing.T) {
	s := startSystem(t)
	status, body := s.call(http.MethodPost, "/v1/cloud-auths", map[string]any{"name": "local", "provider": "localdocker"})
	assert.Equal(t, http.StatusBadRequest, status, body)
	assert.Contains(t, fmt.Sprint(body["message"]), "localdocker is off on this server")
	assert.Contains(t, fmt.Sprint(body["message"]), "DAESTRO_ENABLE_LOCALDOCKER=true")
	_, list := s.call(http.MethodGet, "/v1/cloud-auths", nil)
	assert.Empty(t, list["items"], "nothing was stored")
}
