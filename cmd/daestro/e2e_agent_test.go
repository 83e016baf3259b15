package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/internal/config"
	"daestro/internal/contract"
	"daestro/internal/store"
	"daestro/internal/testenv"
)

// agentTestImage is the agent image scripts/agent-image.sh builds (FROM scratch + the static binary).
func agentTestImage(t testing.TB) string {
	img := os.Getenv("DAESTRO_AGENT_TEST_IMAGE")
	if img == "" {
		img = "daestro-agent:test"
	}
	if err := exec.Command("docker", "image", "inspect", img).Run(); err != nil {
		testenv.Missing(t, "agent image "+img, "scripts/agent-image.sh", err)
	}
	return img
}

// e2e is a server and a worker run by the `daestro` command as a user runs
// them, against the real Postgres and Temporal.
type e2e struct {
	t       testing.TB
	baseURL string
	key     string
	// worker is the control worker; a test may stop and restart it.
	worker *role
	// http reaches the server (trusting the test CA under TLS).
	http *http.Client
	// caFile is the test CA's PEM file when the server serves TLS.
	caFile string
	// server is the API role; a test may stop and restart it (restartServer).
	server *role
}

// role is a `daestro <role>` run in-process until stopped.
type role struct {
	cancel context.CancelFunc
	done   chan error
	// logs is everything the role wrote to stderr.
	logs *syncBuffer
}

// startRole runs `daestro <name>` with the test's environment.
func startRole(name string) *role {
	ctx, cancel := context.WithCancel(context.Background())
	r := &role{cancel: cancel, done: make(chan error, 1), logs: &syncBuffer{}}
	go func() { r.done <- run(ctx, []string{name}, io.Discard, r.logs) }()
	return r
}

// stop cancels the role and waits up to 30 s for it to end.
func (r *role) stop() error {
	r.cancel()
	select {
	case err := <-r.done:
		return err
	case <-time.After(30 * time.Second):
		return errors.New("did not stop within 30s")
	}
}

// systemOptions change how startSystem runs the server.
type systemOptions struct {
	// tls serves the API and the gateway over TLS with a certificate of a
	// test CA made for the test.
	tls bool
	// logLevel is DAESTRO_LOG_LEVEL of server and worker (warn when empty).
	logLevel string
	// unreachableAfter is DAESTRO_SPAWN_UNREACHABLE_AFTER (the default when empty).
	unreachableAfter string
	// publicURL is DAESTRO_PUBLIC_URL, the URL cloud machines are told to
	// reach the server at (the listen address when empty, which the server
	// refuses cloud environments of real providers on: it is a loopback one).
	publicURL string
}

func startSystem(t testing.TB, opts ...systemOptions) *e2e {
	var o systemOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	testenv.Temporal(t) // fail (CI) or skip here with a clear message when Temporal is missing
	testenv.Docker(t)
	addr := freeAddr(t)
	scheme, client, caFile := "http", http.DefaultClient, ""
	if o.tls {
		var cert, key string
		caFile, cert, key = testCertificates(t)
		scheme = "https"
		client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: certPool(t, caFile)}}}
		t.Setenv(config.EnvTLSCertFile, cert)
		t.Setenv(config.EnvTLSKeyFile, key)
	}
	if o.logLevel == "" {
		o.logLevel = "warn"
	}
	t.Setenv(config.EnvDatabaseURL, testenv.NewDatabase(t))
	t.Setenv(config.EnvTemporalAddress, testenv.TemporalAddress())
	t.Setenv(config.EnvHTTPAddr, addr)
	t.Setenv(config.EnvPublicURL, scheme+"://"+addr)
	if o.publicURL != "" {
		t.Setenv(config.EnvPublicURL, o.publicURL)
	}
	t.Setenv(config.EnvMasterKey, base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)))
	t.Setenv(config.EnvLogLevel, o.logLevel)
	// A control queue of its own: another system on the shared test server
	// (a parallel test run) must not take this one's workflow tasks.
	t.Setenv(config.EnvControlTaskQueue, testenv.RandomName("daestro-control"))
	if o.unreachableAfter != "" {
		t.Setenv(config.EnvSpawnUnreachable, o.unreachableAfter)
	}

	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"admin", "create-project", "--code", "e2e"}, &out, io.Discard))
	m := regexp.MustCompile(`(dst_\S+)`).FindStringSubmatch(out.String())
	require.Len(t, m, 2, out.String())
	pm := regexp.MustCompile(`\(id (\S+)\)`).FindStringSubmatch(out.String())
	require.Len(t, pm, 2, out.String())
	// Registered first, so it runs last, once server and worker stopped:
	// every localdocker machine of the project goes, with its job
	// containers, whether the test passed or not (a benchmark too).
	t.Cleanup(func() { removeProjectMachines(t, pm[1]) })

	server := startRole("server")
	s := &e2e{t: t, baseURL: scheme + "://" + addr, key: m[1], worker: startRole("worker"), http: client, caFile: caFile, server: server}
	t.Cleanup(func() {
		assert.NoError(t, s.server.stop(), "the server stops cleanly")
		if s.worker != nil {
			assert.NoError(t, s.worker.stop(), "the worker stops cleanly")
		}
	})
	s.waitReady()
	// The project's dispatcher never ends by itself: leave none behind on the
	// shared test server. (Cleanups run last-registered first, so this runs
	// while the server is still up.)
	dispatcher := contract.DispatcherWorkflowID(s.projectID())
	t.Cleanup(func() {
		_ = testenv.Temporal(t).TerminateWorkflow(context.Background(), dispatcher, "", "test cleanup")
	})
	return s
}

// waitReady polls /readyz until the server answers 200.
func (s *e2e) waitReady() {
	require.Eventually(s.t, func() bool {
		resp, err := s.http.Get(s.baseURL + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 60*time.Second, 200*time.Millisecond, "server never became ready")
}

// removeProjectMachines removes the project's localdocker machines and the
// job containers on them.
func removeProjectMachines(t testing.TB, projectID string) {
	out := docker(t, "ps", "-a", "--format", `{{.Names}} {{.Label "daestro.spawn-id"}}`,
		"--filter", "label=daestro.localdocker.tag."+store.ProjectTag(projectID))
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		name, spawnID, _ := strings.Cut(line, " ")
		if name == "" {
			continue
		}
		if spawnID != "" {
			for _, job := range strings.Fields(docker(t, "ps", "-aq", "--filter", "label=daestro.spawn-id="+spawnID)) {
				_ = exec.Command("docker", "rm", "-f", job).Run()
			}
		}
		_ = exec.Command("docker", "rm", "-f", name).Run()
	}
	assert.Empty(t, strings.TrimSpace(docker(t, "ps", "-aq", "--filter", "label=daestro.localdocker.tag."+store.ProjectTag(projectID))),
		"every machine the test made is gone")
}

// call sends a JSON request with the project's key and returns the status and data.
func (s *e2e) call(method, path string, body any) (int, map[string]any) {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.baseURL+path, rd)
	req.Header.Set("Authorization", "Bearer "+s.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.http.Do(req)
	require.NoError(s.t, err)
	defer resp.Body.Close()
	var env struct {
		OK      bool           `json:"ok"`
		Message string         `json:"message"`
		Data    map[string]any `json:"data"`
	}
	raw, _ := io.ReadAll(resp.Body)
	require.NoError(s.t, json.Unmarshal(raw, &env), "%s", raw)
	if !env.OK {
		return resp.StatusCode, map[string]any{"message": env.Message}
	}
	return resp.StatusCode, env.Data
}

func docker(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	require.NoError(t, err, "docker %s: %s", strings.Join(args, " "), out)
	return strings.TrimSpace(string(out))
}

// agentRun is an agent container started from a spawn's docker run line.
type agentRun struct {
	spawnID, token, container, line string
}

// startAgent creates a self-hosted env, a queue and a spawn through the API
// and runs the spawn's `docker run` line as printed, only with a container
// and volume name of the test's own and the test image.
func (s *e2e) startAgent(image string) agentRun {
	envID, queueID := s.selfHostedQueue("etl", map[string]any{})
	return s.addAgent(image, envID, queueID)
}

// selfHostedQueue creates an enabled queue with a self-hosted compute env of
// its own, which offers one core of each machine.
func (s *e2e) selfHostedQueue(name string, queue map[string]any) (envID, queueID string) {
	return s.selfHostedQueueOffering(name, 100, queue)
}

// selfHostedQueueOffering is selfHostedQueue with an env that offers
// usableCPUPct of each machine.
func (s *e2e) selfHostedQueueOffering(name string, usableCPUPct int, queue map[string]any) (envID, queueID string) {
	t := s.t
	status, env := s.call(http.MethodPost, "/v1/compute-envs", map[string]any{"name": name + "-boxes", "kind": "selfhosted", "usable_cpu_pct": usableCPUPct})
	require.Equal(t, http.StatusCreated, status, env)
	body := map[string]any{"name": name, "priority": 10}
	for k, v := range queue {
		body[k] = v
	}
	status, q := s.call(http.MethodPost, "/v1/job-queues", body)
	require.Equal(t, http.StatusCreated, status, q)
	status, resp := s.call(http.MethodPost, fmt.Sprintf("/v1/job-queues/%s/compute-envs", q["id"]), map[string]any{"compute_env_id": env["id"]})
	require.Equal(t, http.StatusCreated, status, resp)
	status, resp = s.call(http.MethodPatch, fmt.Sprintf("/v1/job-queues/%s", q["id"]), map[string]any{"enabled": true})
	require.Equal(t, http.StatusOK, status, resp)
	return env["id"].(string), q["id"].(string)
}

// addAgent creates a spawn in the queue and starts its agent container from
// the spawn's docker run line; extra are more `-e KEY=value` settings.
func (s *e2e) addAgent(image, envID, queueID string, extra ...string) agentRun {
	t := s.t
	status, created := s.call(http.MethodPost, "/v1/compute-spawns", map[string]any{"compute_env_id": envID, "job_queue_id": queueID})
	require.Equal(t, http.StatusCreated, status, created)
	spawnID := created["spawn"].(map[string]any)["id"].(string)
	line := created["docker_run"].(string)
	token := created["agent_token"].(string)
	require.Contains(t, line, token)
	require.Contains(t, line, s.baseURL)
	name := s.runAgentLine(spawnID, line, image, extra...)
	return agentRun{spawnID: spawnID, token: token, container: name, line: line}
}

// runAgentLine runs a spawn's `docker run` line as printed, only with a
// container and volume name of the test's own and the test image, and
// returns the container's name.
func (s *e2e) runAgentLine(spawnID, line, image string, extra ...string) string {
	t := s.t
	t.Cleanup(func() {
		// A failed test must not leave a SpawnWorkflow running on the shared test server.
		tc := testenv.Temporal(t)
		_ = tc.TerminateWorkflow(context.Background(), contract.SpawnWorkflowID(spawnID), "", "test cleanup")
	})

	// Run the line as printed, only with names of the test's own.
	name := testenv.RandomName("daestro-agent-e2e")
	volume := name + "-data"
	args := strings.Fields(line)
	require.Equal(t, []string{"docker", "run"}, args[:2])
	for i, a := range args {
		switch {
		case a == "daestro-agent":
			args[i] = name
		case strings.HasPrefix(a, "daestro_agent_data:"):
			args[i] = volume + ":/var/lib/daestro-agent"
		case i == len(args)-1:
			args[i] = image
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := exec.Command("docker", "logs", name).CombinedOutput()
			t.Logf("agent logs:\n%s", out)
		}
		_ = exec.Command("docker", "rm", "-f", name).Run()
		_ = exec.Command("docker", "volume", "rm", "-f", volume).Run()
	})
	for _, e := range extra {
		args = slices.Insert(args, 2, "-e", e)
	}
	if s.caFile != "" {
		// The test CA is no system root: the agent is told of it, as a user of a private CA would do.
		args = slices.Insert(args, 2, "-v", s.caFile+":/etc/daestro/ca.pem:ro", "-e", "DAESTRO_SERVER_CA_FILE=/etc/daestro/ca.pem")
	}
	docker(t, args[1:]...)
	return name
}

// waitIdle polls the spawn until it is idle and returns it.
func (s *e2e) waitIdle(spawnID string) map[string]any {
	var spawn map[string]any
	require.Eventually(s.t, func() bool {
		_, spawn = s.call(http.MethodGet, "/v1/compute-spawns/"+spawnID, nil)
		return spawn["state"] == "idle"
	}, 90*time.Second, 500*time.Millisecond, "the spawn never became idle; last: %v", spawn)
	return spawn
}

// The agent runs exactly as the spawn's `docker run` line says, registers,
// turns the spawn idle, and stops when the spawn is terminated; a bad token
// makes it exit non-zero with the reason.
func TestAgentContainerRegistersAndFollowsItsSpawn(t *testing.T) {
	image := agentTestImage(t)
	s := startSystem(t)

	ar := s.startAgent(image)
	spawnID, token, name := ar.spawnID, ar.token, ar.container

	spawn := s.waitIdle(spawnID)
	assert.NotEmpty(t, spawn["agent_version"])
	assert.NotEmpty(t, spawn["last_ping_at"])
	capacity, _ := spawn["capacity"].(map[string]any)
	require.NotNil(t, capacity, "%v", spawn)
	assert.Greater(t, capacity["total_cpu_pct"], 0.0, "the agent offers the host's CPU (capped at 50%%)")
	assert.Greater(t, capacity["total_memory_mb"], 0.0)
	assert.Equal(t, "true", docker(t, "inspect", "-f", "{{.State.Running}}", name))

	status, body := s.call(http.MethodPost, "/v1/compute-spawns/"+spawnID+"/terminate", nil)
	require.Equal(t, http.StatusAccepted, status, body)
	exit := docker(t, "wait", name) // the agent learns from its next ping and exits
	assert.Equal(t, "0", exit, "a terminated spawn's agent stops cleanly")
	_, spawn = s.call(http.MethodGet, "/v1/compute-spawns/"+spawnID, nil)
	assert.Equal(t, "terminated", spawn["state"])

	// The same token again, or a made-up one: the agent exits non-zero and says why.
	for _, bad := range []string{token, "dsa_000000000000_madeup"} {
		out, err := exec.Command("docker", "run", "--rm", "--network", "host",
			"-e", "DAESTRO_AUTH_TOKEN="+bad, "-e", "DAESTRO_SERVER_URL="+s.baseURL,
			"-v", "/var/run/docker.sock:/var/run/docker.sock", image).CombinedOutput()
		require.Error(t, err, "%s", out)
		assert.Contains(t, string(out), "rejected by the server", "%s", out)
	}
}

// BenchmarkAgentIdleRSS reports the memory an idle agent container uses
// (registered, polling its task queue, pinging): what a user pays on every
// machine for having it there.
func BenchmarkAgentIdleRSS(b *testing.B) {
	image := agentTestImage(b)
	s := startSystem(b)
	ar := s.startAgent(image)
	s.waitIdle(ar.spawnID)
	time.Sleep(3 * time.Second) // let start-up allocations settle
	var mb float64
	for b.Loop() {
		raw := docker(b, "stats", "--no-stream", "--format", "{{.MemUsage}}", ar.container) // "12.3MiB / 15.6GiB"
		used, _, _ := strings.Cut(raw, " / ")
		mb = parseMiB(b, used)
	}
	b.ReportMetric(mb, "idle-MiB")
}

// parseMiB reads docker's human sizes (KiB, MiB, GiB) as MiB.
func parseMiB(tb testing.TB, s string) float64 {
	s = strings.TrimSpace(s)
	for unit, f := range map[string]float64{"KiB": 1.0 / 1024, "MiB": 1, "GiB": 1024, "B": 1.0 / (1 << 20)} {
		if num, ok := strings.CutSuffix(s, unit); ok && !strings.HasSuffix(num, "Ki") && !strings.HasSuffix(num, "Mi") && !strings.HasSuffix(num, "Gi") {
			var v float64
			_, err := fmt.Sscanf(num, "%g", &v)
			require.NoError(tb, err, "docker stats said %q", s)
			return v * f
		}
	}
	tb.Fatalf("docker stats said %q", s)
	return 0
}
