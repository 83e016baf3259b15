package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/internal/config"
	"daestro/internal/contract"
	"daestro/internal/testenv"
)

// syncBuffer is a bytes.Buffer safe to read while the command writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freeAddr(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

func TestUnknownCommandAndMissingCommand(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"bogus"}, &out, &errOut)
	require.ErrorContains(t, err, `unknown command "bogus"`)
	assert.Contains(t, errOut.String(), "Commands:")

	require.ErrorContains(t, run(context.Background(), nil, &out, &errOut), "no command given")
}

func TestServerRefusesBadConfigNamingTheVariable(t *testing.T) {
	t.Setenv(config.EnvTemporalAddress, "no-port")
	t.Setenv(config.EnvMasterKey, "")
	err := run(context.Background(), []string{"server"}, &bytes.Buffer{}, &bytes.Buffer{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "TEMPORAL_ADDRESS")
}

func TestServerRefusesToStartWithoutMasterKey(t *testing.T) {
	t.Setenv(config.EnvMasterKey, "")
	err := run(context.Background(), []string{"server"}, &bytes.Buffer{}, &bytes.Buffer{})
	require.ErrorContains(t, err, "DAESTRO_MASTER_KEY: not set")
}

// `daestro dev` brings API and worker up against the real services, reports
// ready, prints a working bootstrap key (the same one on every start) and
// stops cleanly when cancelled — what `make dev` and Ctrl-C do.
func TestDevStartsReadyAndStopsCleanly(t *testing.T) {
	dbURL := testenv.NewDatabase(t)
	testenv.Temporal(t) // fail or skip here, with a clear message, when Temporal is missing
	dir := t.TempDir()
	addr := freeAddr(t)
	t.Setenv(config.EnvDatabaseURL, dbURL)
	t.Setenv(config.EnvTemporalAddress, testenv.TemporalAddress())
	t.Setenv(config.EnvHTTPAddr, addr)
	t.Setenv(config.EnvTemporalUIURL, "http://127.0.0.1:8233")
	t.Setenv(config.EnvMasterKey, "")
	t.Setenv(config.EnvLogFormat, "")
	t.Setenv(config.EnvLogLevel, "warn")
	// A control queue of its own, as startSystem's (parallel runs share the test server).
	t.Setenv(config.EnvControlTaskQueue, testenv.RandomName("daestro-control"))

	startDev := func() (stop func() error, stdout *syncBuffer) {
		ctx, cancel := context.WithCancel(context.Background())
		stdout = &syncBuffer{}
		done := make(chan error, 1)
		go func() { done <- run(ctx, []string{"dev", "--dir", dir}, stdout, &syncBuffer{}) }()
		require.Eventually(t, func() bool {
			resp, err := http.Get("http://" + addr + "/readyz")
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			var body struct{ Data struct{ Ready bool } }
			_ = json.NewDecoder(resp.Body).Decode(&body)
			return resp.StatusCode == http.StatusOK && body.Data.Ready && strings.Contains(stdout.String(), "daestro dev is up")
		}, 60*time.Second, 200*time.Millisecond, "dev never became ready; output:\n%s", stdout)
		return func() error {
			cancel()
			select {
			case err := <-done:
				return err
			case <-time.After(20 * time.Second):
				return context.DeadlineExceeded
			}
		}, stdout
	}

	stop, out := startDev()
	keyRE := regexp.MustCompile(`API key:\s+(dst_\S+)`)
	m := keyRE.FindStringSubmatch(out.String())
	require.Len(t, m, 2, "dev prints a bootstrap API key:\n%s", out)
	spawnRE := regexp.MustCompile(`Local agent:\s+compute spawn (\S+) in queue "default"`)
	sm := spawnRE.FindStringSubmatch(out.String())
	require.Len(t, sm, 2, "dev runs a local agent:\n%s", out)
	t.Cleanup(func() {
		// Leave no SpawnWorkflow behind on the shared test server.
		_ = testenv.Temporal(t).TerminateWorkflow(context.Background(), contract.SpawnWorkflowID(sm[1]), "", "test cleanup")
	})
	api := devAPI{baseURL: "http://" + addr, key: m[1]}
	var spawn struct{ State string }
	require.Eventually(t, func() bool {
		_, err := api.call(context.Background(), http.MethodGet, "/v1/compute-spawns/"+sm[1], nil, &spawn)
		return err == nil && spawn.State == "idle"
	}, 60*time.Second, 250*time.Millisecond, "the local agent's spawn never became idle: %+v", spawn)
	assert.Contains(t, out.String(), "http://"+addr)
	assert.Contains(t, out.String(), "http://127.0.0.1:8233", "the Temporal Web UI URL is printed")
	require.NoError(t, stop(), "Ctrl-C stops dev cleanly")

	saved, err := os.ReadFile(filepath.Join(dir, "dev-api-key"))
	require.NoError(t, err)
	assert.Equal(t, m[1], strings.TrimSpace(string(saved)))
	_, err = os.Stat(filepath.Join(dir, "master.key"))
	require.NoError(t, err, "dev keeps a generated master key")

	stop, out = startDev()
	assert.Contains(t, out.String(), m[1], "a second start prints the same key")
	assert.Contains(t, out.String(), "compute spawn "+sm[1], "a second start reuses the local agent's spawn")
	require.NoError(t, stop())
}

// Every command answers --help with its flags and the environment
// variables it reads, and exits 0.
func TestEveryCommandAnswersHelp(t *testing.T) {
	var walk func(prefix []string, cmd *cobra.Command)
	seen := 0
	walk = func(prefix []string, cmd *cobra.Command) {
		for _, sub := range cmd.Commands() {
			if sub.Hidden || sub.Name() == "help" {
				continue
			}
			path := append(slices.Clone(prefix), sub.Name())
			var out, errOut bytes.Buffer
			require.NoError(t, run(context.Background(), append(path, "--help"), &out, &errOut), "daestro %v --help", path)
			assert.Contains(t, out.String(), "Usage:", "daestro %v --help", path)
			assert.Contains(t, out.String(), "daestro "+strings.Join(path, " "), "daestro %v --help names itself", path)
			if !sub.HasSubCommands() && sub.Name() != "gen-key" {
				assert.Contains(t, out.String(), "Environment:", "daestro %v --help lists what it reads", path)
			}
			seen++
			walk(path, sub)
		}
	}
	walk(nil, newRootCmd(io.Discard, io.Discard))
	assert.GreaterOrEqual(t, seen, 10, "server, worker, agent, dev, migrate, admin and its four tasks")
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"dev", "--help"}, &out, io.Discard))
	assert.Contains(t, out.String(), "--no-agent", "flags are listed")
	assert.Contains(t, out.String(), "DAESTRO_DATABASE_URL")
	out.Reset()
	require.NoError(t, run(context.Background(), []string{"agent", "--help"}, &out, io.Discard))
	assert.Contains(t, out.String(), "DAESTRO_AUTH_TOKEN")
	require.ErrorContains(t, run(context.Background(), []string{"server", "extra"}, io.Discard, io.Discard), "unknown command",
		"a stray argument is still a mistake")
}
