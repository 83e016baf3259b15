// The tests run against the real Docker engine. They are an external test
// package because testenv imports the agent package, which imports this one.
package executor_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/agent/executor"
	"daestro/internal/testenv"
)

// engine returns a Docker client (skipping or failing, per testenv, without
// an engine) and an Executor over it.
func engine(t *testing.T, opts executor.Options) (*executor.Executor, *client.Client) {
	t.Helper()
	testenv.Docker(t)
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	require.NoError(t, err)
	t.Cleanup(func() { _ = cli.Close() })
	if opts.Logger == nil {
		opts.Logger = testenv.Logger(t)
	}
	return executor.New(cli, opts), cli
}

// newSpec returns a spec with a fresh run ID whose container, should the
// test leave one, is removed at cleanup.
func newSpec(t *testing.T, cli *client.Client, cmd ...string) executor.Spec {
	t.Helper()
	runID := testenv.RandomName("test")
	t.Cleanup(func() {
		err := cli.ContainerRemove(context.Background(), executor.ContainerName(runID), container.RemoveOptions{Force: true})
		if err != nil && !cerrdefs.IsNotFound(err) {
			t.Logf("remove test container: %v", err)
		}
	})
	return executor.Spec{RunID: runID, JobID: "job-" + runID, Image: testenv.TestImage(), Cmd: cmd, StopGrace: 2 * time.Second}
}

// sink is a Sink that keeps what it was sent, like the server: lines are
// upserted by Seq (and every call is recorded so duplicates show).
type sink struct {
	mu        sync.Mutex
	calls     [][]executor.LogLine // successful ShipLogs calls
	failFirst int                  // fail this many ShipLogs calls first
	failed    int
	metrics   []executor.Metric
	watch     string        // a line text to signal on
	seen      chan struct{} // closed when watch arrives
}

func newSink() *sink { return &sink{seen: make(chan struct{})} }

func (s *sink) ShipLogs(_ context.Context, _ string, lines []executor.LogLine) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed < s.failFirst {
		s.failed++
		return errors.New("server briefly down")
	}
	s.calls = append(s.calls, lines)
	for _, l := range lines {
		if s.watch != "" && l.Text == s.watch && !isClosed(s.seen) {
			close(s.seen)
		}
	}
	return nil
}

func (s *sink) ShipMetrics(_ context.Context, _ string, samples []executor.Metric) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.metrics = append(s.metrics, samples...)
	return nil
}

// lines returns every line received, in the order received.
func (s *sink) lines() []executor.LogLine {
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []executor.LogLine
	for _, c := range s.calls {
		all = append(all, c...)
	}
	return all
}

func (s *sink) texts(stream string) []string {
	var out []string
	for _, l := range s.lines() {
		if l.Stream == stream {
			out = append(out, l.Text)
		}
	}
	return out
}

// requireExactlyOnce checks the lines arrived numbered 1..n, in order, each
// once, with the texts want.
func requireExactlyOnce(t *testing.T, s *sink, want []string) {
	t.Helper()
	got := s.lines()
	require.Len(t, got, len(want), "every line exactly once")
	for i, l := range got {
		require.Equal(t, int64(i+1), l.Seq, "line %d out of order", i+1)
		require.Equal(t, want[i], l.Text, "line %d", i+1)
	}
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func numbers(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = strconv.Itoa(i + 1)
	}
	return out
}

func run(t *testing.T, e *executor.Executor, spec executor.Spec, s executor.Sink) executor.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := e.Run(ctx, spec, s, executor.Cursor{}, nil)
	require.NoError(t, err)
	return res
}

func requireRemoved(t *testing.T, cli *client.Client, id string) {
	t.Helper()
	_, err := cli.ContainerInspect(context.Background(), id)
	require.Truef(t, cerrdefs.IsNotFound(err), "container %.12s should be removed once its logs were shipped, inspect said %v", id, err)
}

func countRunContainers(t *testing.T, cli *client.Client, runID string) int {
	t.Helper()
	list, err := cli.ContainerList(context.Background(), container.ListOptions{
		All: true, Filters: filters.NewArgs(filters.Arg("label", executor.LabelRunID+"="+runID)),
	})
	require.NoError(t, err)
	return len(list)
}

func TestRunGivesTheEngineTheLimitsEnvAndLabels(t *testing.T) {
	t.Parallel()
	e, cli := engine(t, executor.Options{})
	spec := newSpec(t, cli, "sh", "-c", `echo "$GREETING from $DAESTRO_JOB_ID"`)
	spec.Env = []string{"GREETING=hello", "DAESTRO_JOB_ID=j1"}
	spec.CPUQuotaPct, spec.MemoryMB = 50, 64
	spec.Labels = map[string]string{"daestro.agent-id": "agent-1"}

	var info container.InspectResponse
	inspected := false
	progress := func(c executor.Cursor) {
		if !inspected { // first call: the container exists, before it starts
			var err error
			info, err = cli.ContainerInspect(context.Background(), c.ContainerID)
			inspected = assert.NoError(t, err)
		}
	}
	s := newSink()
	res, err := e.Run(context.Background(), spec, s, executor.Cursor{}, progress)
	require.NoError(t, err)

	require.True(t, inspected)
	require.NotNil(t, info.HostConfig)
	assert.Equal(t, "/"+executor.ContainerName(spec.RunID), info.Name)
	assert.Equal(t, int64(5e8), info.HostConfig.NanoCPUs, "50%% of a core")
	assert.Equal(t, int64(64<<20), info.HostConfig.Memory)
	assert.Equal(t, int64(64<<20), info.HostConfig.MemorySwap, "no swap beyond the limit")
	assert.False(t, info.HostConfig.Privileged)
	assert.Equal(t, []string{"no-new-privileges"}, info.HostConfig.SecurityOpt, "a job cannot gain privileges through setuid binaries")
	require.NotNil(t, info.HostConfig.PidsLimit)
	assert.Equal(t, int64(executor.DefaultPidsLimit), *info.HostConfig.PidsLimit, "a fork bomb stops at the pids limit")
	require.NotNil(t, info.HostConfig.Init)
	assert.True(t, *info.HostConfig.Init)
	assert.Equal(t, "json-file", info.HostConfig.LogConfig.Type)
	assert.Equal(t, spec.RunID, info.Config.Labels[executor.LabelRunID])
	assert.Equal(t, spec.JobID, info.Config.Labels[executor.LabelJobID])
	assert.Equal(t, "agent-1", info.Config.Labels["daestro.agent-id"])

	assert.Equal(t, 0, res.ExitCode)
	assert.Empty(t, res.SystemNote)
	assert.Equal(t, info.ID, res.ContainerID)
	assert.True(t, strings.HasPrefix(res.ImageDigest, "sha256:"), "a local-only image is pinned by its ID, got %q", res.ImageDigest)
	assert.False(t, res.StartedAt.IsZero())
	assert.False(t, res.FinishedAt.Before(res.StartedAt))
	assert.Equal(t, []string{"hello from j1"}, s.texts("stdout"))
	requireRemoved(t, cli, res.ContainerID)
}

func TestRunReportsTheExitCode(t *testing.T) {
	t.Parallel()
	e, cli := engine(t, executor.Options{})
	for _, tc := range []struct {
		code int
		note string
	}{{0, ""}, {3, "exited with code 3"}} {
		t.Run(strconv.Itoa(tc.code), func(t *testing.T) {
			t.Parallel()
			res := run(t, e, newSpec(t, cli, "sh", "-c", "exit "+strconv.Itoa(tc.code)), newSink())
			assert.Equal(t, tc.code, res.ExitCode)
			assert.Equal(t, tc.note, res.SystemNote)
			assert.False(t, res.OOMKilled || res.TimedOut || res.Cancelled)
		})
	}
}

func TestRunDetectsAnOOMKill(t *testing.T) {
	t.Parallel()
	e, cli := engine(t, executor.Options{})
	spec := newSpec(t, cli, "tail", "/dev/zero") // tail buffers an endless "line"
	spec.MemoryMB = 16
	res := run(t, e, spec, newSink())
	assert.True(t, res.OOMKilled)
	assert.Equal(t, 137, res.ExitCode)
	assert.Equal(t, "killed: out of memory at 16 MB", res.SystemNote)
}

func TestRunDoesNotMistakeSIGKILLForOOM(t *testing.T) {
	t.Parallel()
	e, cli := engine(t, executor.Options{})
	spec := newSpec(t, cli, "sh", "-c", "kill -9 $$")
	spec.MemoryMB = 16
	res := run(t, e, spec, newSink())
	assert.Equal(t, 137, res.ExitCode)
	assert.False(t, res.OOMKilled, "exit 137 alone is a SIGKILL, not an OOM kill")
	assert.Equal(t, "killed by signal KILL (exit code 137)", res.SystemNote)
}

func TestRunShipsTenThousandLinesInOrder(t *testing.T) {
	t.Parallel()
	e, cli := engine(t, executor.Options{})
	s := newSink()
	spec := newSpec(t, cli, "awk", `BEGIN { for (i = 1; i <= 10000; i++) print i }`)
	var last executor.Cursor
	res, err := e.Run(context.Background(), spec, s, executor.Cursor{}, func(c executor.Cursor) { last = c })
	require.NoError(t, err)
	assert.Equal(t, 0, res.ExitCode)
	requireExactlyOnce(t, s, numbers(10000))
	for _, l := range s.lines() {
		require.Equal(t, "stdout", l.Stream)
		require.False(t, l.Time.IsZero(), "every line has the engine's timestamp")
	}
	for _, c := range s.calls {
		assert.LessOrEqual(t, len(c), 500, "batches stay small")
	}
	assert.Equal(t, executor.Cursor{ContainerID: res.ContainerID, LastAckedSeq: 10000}, last)
}

func TestRunReassemblesLongLinesAndSeparatesStderr(t *testing.T) {
	t.Parallel()
	e, cli := engine(t, executor.Options{})
	s := newSink()
	// 40,000 bytes arrive from the engine in three 16 KiB parts; 150,000
	// bytes are more than one LogLine holds.
	spec := newSpec(t, cli, "sh", "-c", `head -c 40000 /dev/zero | tr '\0' x; echo; echo short; `+
		`head -c 150000 /dev/zero | tr '\0' y; echo; echo oops >&2`)
	res := run(t, e, spec, s)
	assert.Equal(t, 0, res.ExitCode)

	var stdout []executor.LogLine
	for _, l := range s.lines() {
		if l.Stream == "stdout" {
			stdout = append(stdout, l)
		}
	}
	require.Len(t, stdout, 5)
	assert.Equal(t, strings.Repeat("x", 40000), stdout[0].Text)
	assert.False(t, stdout[0].Partial)
	assert.Equal(t, "short", stdout[1].Text)
	assert.Equal(t, strings.Repeat("y", 150000), stdout[2].Text+stdout[3].Text+stdout[4].Text)
	assert.Equal(t, []bool{true, true, false}, []bool{stdout[2].Partial, stdout[3].Partial, stdout[4].Partial})
	assert.Equal(t, []string{"oops"}, s.texts("stderr"))
	for i, l := range s.lines() {
		assert.Equal(t, int64(i+1), l.Seq)
	}
}

func TestRunRetriesAFailingSinkWithoutLosingOrRepeatingLines(t *testing.T) {
	t.Parallel()
	e, cli := engine(t, executor.Options{})
	s := newSink()
	s.failFirst = 4
	res := run(t, e, newSpec(t, cli, "awk", `BEGIN { for (i = 1; i <= 1200; i++) print i }`), s)
	assert.Equal(t, 0, res.ExitCode)
	assert.Equal(t, 4, s.failed)
	requireExactlyOnce(t, s, numbers(1200))
	requireRemoved(t, cli, res.ContainerID)
}

// cancelWhenSeen runs spec and cancels the run once line watch was shipped;
// it returns the result and how long Run took after the cancel.
func cancelWhenSeen(t *testing.T, e *executor.Executor, spec executor.Spec, s *sink, watch string) (executor.Result, time.Duration) {
	t.Helper()
	s.watch = watch
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var cancelledAt time.Time
	go func() {
		select {
		case <-s.seen:
		case <-time.After(30 * time.Second):
			t.Errorf("line %q never arrived", watch)
		}
		cancelledAt = time.Now()
		cancel()
	}()
	res, err := e.Run(ctx, spec, s, executor.Cursor{}, nil)
	require.NoError(t, err, "a cancelled run is a Result, not an error")
	return res, time.Since(cancelledAt)
}

func TestCancelStopsTheContainer(t *testing.T) {
	t.Parallel()
	e, cli := engine(t, executor.Options{})
	spec := newSpec(t, cli, "sh", "-c", "echo started; exec sleep 300")
	spec.StopGrace = 0 // the default, 10 s: sleep dies of SIGTERM long before
	res, took := cancelWhenSeen(t, e, spec, newSink(), "started")
	assert.True(t, res.Cancelled)
	assert.False(t, res.TimedOut)
	assert.Equal(t, "cancelled", res.SystemNote)
	assert.Equal(t, 143, res.ExitCode, "stopped by SIGTERM")
	assert.Less(t, took, executor.DefaultStopGrace+5*time.Second)
	requireRemoved(t, cli, res.ContainerID)
}

func TestCancelKillsAContainerThatIgnoresSIGTERMAfterTheGrace(t *testing.T) {
	t.Parallel()
	e, cli := engine(t, executor.Options{})
	spec := newSpec(t, cli, "sh", "-c", `trap "" TERM; echo started; sleep 300`)
	spec.StopGrace = 2 * time.Second
	res, took := cancelWhenSeen(t, e, spec, newSink(), "started")
	assert.True(t, res.Cancelled)
	assert.Equal(t, 137, res.ExitCode, "SIGKILL after the grace")
	assert.GreaterOrEqual(t, took, 1500*time.Millisecond, "the grace was given")
	assert.Less(t, took, spec.StopGrace+5*time.Second)
}

func TestSIGTERMReachesABashScriptAndItsLastWordsAreShipped(t *testing.T) {
	t.Parallel()
	e, cli := engine(t, executor.Options{})
	spec := newSpec(t, cli)
	spec.Image = testenv.BashImage()
	spec.Script = `trap 'echo "got TERM"; exit 0' TERM
echo ready
while true; do sleep 0.1; done
`
	s := newSink()
	res, took := cancelWhenSeen(t, e, spec, s, "ready")
	assert.True(t, res.Cancelled)
	assert.Equal(t, 0, res.ExitCode, "the script's trap ran and exited 0")
	assert.Equal(t, []string{"ready", "got TERM"}, s.texts("stdout"))
	assert.Less(t, took, spec.StopGrace+5*time.Second)
}

func TestTimeoutStopsTheContainer(t *testing.T) {
	t.Parallel()
	e, cli := engine(t, executor.Options{})
	spec := newSpec(t, cli, "sleep", "300")
	spec.Timeout = time.Second
	start := time.Now()
	res := run(t, e, spec, newSink())
	assert.True(t, res.TimedOut)
	assert.False(t, res.Cancelled)
	assert.Equal(t, "exceeded execution timeout of 1s", res.SystemNote)
	assert.Less(t, time.Since(start), 10*time.Second)
	requireRemoved(t, cli, res.ContainerID)
}

func TestBashSpecRunsItsScriptInTheBashImage(t *testing.T) {
	t.Parallel()
	e, cli := engine(t, executor.Options{})
	spec := newSpec(t, cli)
	spec.Image = testenv.BashImage()
	spec.Env = []string{"WHO=daestro"}
	spec.Script = `set -euo pipefail
arr=(a b c)
echo "${#arr[@]} ${arr[2]} $0 ${WHO}"
[[ -n ${BASH_VERSION} ]] && echo bash
exit 4
`
	s := newSink()
	res := run(t, e, spec, s)
	assert.Equal(t, 4, res.ExitCode)
	assert.Equal(t, []string{"3 c /daestro/script.sh daestro", "bash"}, s.texts("stdout"))
}

func TestACommandThatDoesNotExistFailsTheRun(t *testing.T) {
	t.Parallel()
	e, cli := engine(t, executor.Options{})
	s := newSink()
	res := run(t, e, newSpec(t, cli, "no-such-command"), s)
	assert.Equal(t, 127, res.ExitCode, "as `docker run` reports it")
	assert.Equal(t, "exited with code 127", res.SystemNote)
	require.Len(t, s.texts("stderr"), 1)
	assert.Contains(t, s.texts("stderr")[0], "no-such-command", "the init process says why")
	requireRemoved(t, cli, res.ContainerID)
}

// The sandboxed engine of the development machines and CI refuses to start
// privileged containers ("unable to apply caps"), so this test checks what
// the executor controls: the engine was asked for it. Where the engine can,
// the run must succeed.
func TestPrivilegedReachesTheEngine(t *testing.T) {
	t.Parallel()
	e, cli := engine(t, executor.Options{})
	spec := newSpec(t, cli, "true")
	spec.Privileged = true
	var privileged *bool
	res, err := e.Run(context.Background(), spec, newSink(), executor.Cursor{}, func(c executor.Cursor) {
		if privileged == nil {
			info, err := cli.ContainerInspect(context.Background(), c.ContainerID)
			if assert.NoError(t, err) {
				privileged = &info.HostConfig.Privileged
			}
		}
	})
	require.NotNil(t, privileged)
	assert.True(t, *privileged)
	if err != nil {
		require.ErrorContains(t, err, "operation not permitted", "only the sandbox's refusal is acceptable")
		t.Logf("this engine cannot run privileged containers: %v", err)
		assert.Equal(t, 0, countRunContainers(t, cli, spec.RunID), "a container that could not start is removed")
		return
	}
	assert.Equal(t, 0, res.ExitCode)
}

func TestRunReattachesAfterAnAgentCrash(t *testing.T) {
	t.Parallel()
	e, cli := engine(t, executor.Options{})
	s := newSink()
	spec := newSpec(t, cli, "sh", "-c", `for i in $(seq 1 20); do echo $i; sleep 0.2; done`)

	// First attempt: detach (as a crash would) once 5 lines are acknowledged.
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	var cursor executor.Cursor
	_, err := e.Run(ctx, spec, s, executor.Cursor{}, func(c executor.Cursor) {
		cursor = c
		if c.LastAckedSeq >= 5 {
			cancel(executor.ErrDetach)
		}
	})
	require.ErrorIs(t, err, executor.ErrDetach)
	firstID := cursor.ContainerID
	require.NotEmpty(t, firstID)
	require.GreaterOrEqual(t, cursor.LastAckedSeq, int64(5))
	info, err := cli.ContainerInspect(context.Background(), firstID)
	require.NoError(t, err)
	require.True(t, info.State.Running, "a detach leaves the container running")

	// Second attempt, with the heartbeated cursor: the same container.
	var ids []string
	res, err := e.Run(context.Background(), spec, s, cursor, func(c executor.Cursor) {
		if len(ids) == 0 {
			assert.Equal(t, 1, countRunContainers(t, cli, spec.RunID), "never a second container for one run")
		}
		ids = append(ids, c.ContainerID)
	})
	require.NoError(t, err)
	assert.Equal(t, 0, res.ExitCode)
	assert.Equal(t, firstID, res.ContainerID)
	for _, id := range ids {
		require.Equal(t, firstID, id)
	}
	requireExactlyOnce(t, s, numbers(20))
	assert.Equal(t, 0, countRunContainers(t, cli, spec.RunID))
}

func TestRunCollectsAContainerThatExitedWhileTheAgentWasAway(t *testing.T) {
	t.Parallel()
	e, cli := engine(t, executor.Options{})
	s := newSink()
	spec := newSpec(t, cli, "sh", "-c", `for i in 1 2 3 4 5 6; do echo $i; sleep 0.1; done; exit 5`)

	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	var cursor executor.Cursor
	_, err := e.Run(ctx, spec, s, executor.Cursor{}, func(c executor.Cursor) {
		cursor = c
		if c.LastAckedSeq >= 1 {
			cancel(executor.ErrDetach)
		}
	})
	require.ErrorIs(t, err, executor.ErrDetach)
	waitC, errC := cli.ContainerWait(context.Background(), cursor.ContainerID, container.WaitConditionNotRunning)
	select {
	case <-waitC:
	case err := <-errC:
		require.NoError(t, err)
	}

	res, err := e.Run(context.Background(), spec, s, cursor, nil)
	require.NoError(t, err)
	assert.Equal(t, 5, res.ExitCode)
	assert.Equal(t, cursor.ContainerID, res.ContainerID)
	requireExactlyOnce(t, s, numbers(6))
	requireRemoved(t, cli, res.ContainerID)

	// The container is gone now: a third attempt must not run the job again.
	_, err = e.Run(context.Background(), spec, s, executor.Cursor{ContainerID: res.ContainerID, LastAckedSeq: 6}, nil)
	require.ErrorIs(t, err, executor.ErrContainerGone)
	assert.Equal(t, 0, countRunContainers(t, cli, spec.RunID))
}

func TestRunSamplesCPUAndMemory(t *testing.T) {
	t.Parallel()
	e, cli := engine(t, executor.Options{MetricsInterval: time.Second})
	spec := newSpec(t, cli, "sh", "-c", `timeout 6 sh -c 'while :; do :; done'; exit 0`)
	spec.CPUQuotaPct = 50
	s := newSink()
	res := run(t, e, spec, s)
	assert.Equal(t, 0, res.ExitCode)

	s.mu.Lock()
	samples := slices.Clone(s.metrics)
	s.mu.Unlock()
	require.GreaterOrEqual(t, len(samples), 4, "a 6 s run sampled every second")
	busiest := 0.0
	for _, m := range samples {
		assert.Positive(t, m.MemoryBytes)
		assert.False(t, m.Time.IsZero())
		busiest = max(busiest, m.CPUPct)
	}
	assert.Greater(t, busiest, 10.0, "a busy loop shows")
	assert.Less(t, busiest, 70.0, "the 50%% quota holds")
}

func TestRunRefusesLimitsTheEngineCannotHonour(t *testing.T) {
	t.Parallel()
	e, cli := engine(t, executor.Options{})
	info, err := cli.Info(context.Background())
	require.NoError(t, err)

	tooMuchCPU := newSpec(t, cli, "true")
	tooMuchCPU.CPUQuotaPct = info.NCPU*100 + 1
	_, err = e.Run(context.Background(), tooMuchCPU, newSink(), executor.Cursor{}, nil)
	require.ErrorIs(t, err, executor.ErrInvalidSpec)
	assert.Contains(t, err.Error(), "more than this host has")

	tooLittleMemory := newSpec(t, cli, "true")
	tooLittleMemory.MemoryMB = 5
	_, err = e.Run(context.Background(), tooLittleMemory, newSink(), executor.Cursor{}, nil)
	require.ErrorIs(t, err, executor.ErrInvalidSpec)
	assert.Contains(t, err.Error(), "minimum of 6 MB")

	assert.Equal(t, 0, countRunContainers(t, cli, tooMuchCPU.RunID)+countRunContainers(t, cli, tooLittleMemory.RunID))
}

func TestRunReportsAMissingImage(t *testing.T) {
	t.Parallel()
	e, cli := engine(t, executor.Options{})
	spec := newSpec(t, cli, "true")
	spec.Image = "daestro-test/does-not-exist:1"
	_, err := e.Run(context.Background(), spec, newSink(), executor.Cursor{}, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "daestro-test/does-not-exist:1")
	assert.Equal(t, 0, countRunContainers(t, cli, spec.RunID))
}

func TestReapDanglingRemovesOnlyOldUnkeptRunContainers(t *testing.T) {
	t.Parallel()
	e, cli := engine(t, executor.Options{})
	ctx := context.Background()
	create := func() string {
		spec := newSpec(t, cli)
		_, err := cli.ContainerCreate(ctx, &container.Config{Image: spec.Image, Cmd: []string{"true"},
			Labels: map[string]string{executor.LabelRunID: spec.RunID}}, nil, nil, nil, executor.ContainerName(spec.RunID))
		require.NoError(t, err)
		return spec.RunID
	}
	dangling, kept := create(), create()
	time.Sleep(10 * time.Millisecond)
	// Other tests' containers may be about: this test owns only dangling.
	keep := func(runID string) bool { return runID != dangling }

	removed, err := e.ReapDangling(ctx, nil, keep, time.Hour)
	require.NoError(t, err)
	assert.Empty(t, removed, "younger than the grace")
	assert.Equal(t, 1, countRunContainers(t, cli, dangling))

	removed, err = e.ReapDangling(ctx, nil, keep, time.Millisecond)
	require.NoError(t, err)
	assert.Equal(t, []string{dangling}, removed)
	assert.Equal(t, 0, countRunContainers(t, cli, dangling))
	assert.Equal(t, 1, countRunContainers(t, cli, kept))
}

// Agents sharing an engine reap only their own spawn's containers, never
// another's, however old and unclaimed.
func TestReapDanglingTouchesOnlyTheOwnersContainers(t *testing.T) {
	t.Parallel()
	e, cli := engine(t, executor.Options{})
	ctx := context.Background()
	mine, theirs := "spawn-"+newSpec(t, cli).RunID, "spawn-"+newSpec(t, cli).RunID
	create := func(spawn string) string {
		spec := newSpec(t, cli)
		_, err := cli.ContainerCreate(ctx, &container.Config{Image: spec.Image, Cmd: []string{"true"},
			Labels: map[string]string{executor.LabelRunID: spec.RunID, "daestro.spawn-id": spawn}}, nil, nil, nil, executor.ContainerName(spec.RunID))
		require.NoError(t, err)
		return spec.RunID
	}
	own, other := create(mine), create(theirs)
	time.Sleep(10 * time.Millisecond)
	removed, err := e.ReapDangling(ctx, map[string]string{"daestro.spawn-id": mine}, nil, time.Millisecond)
	require.NoError(t, err)
	assert.Equal(t, []string{own}, removed)
	assert.Equal(t, 0, countRunContainers(t, cli, own))
	assert.Equal(t, 1, countRunContainers(t, cli, other), "another spawn's container is left alone")
	_, err = e.ReapDangling(ctx, map[string]string{"daestro.spawn-id": theirs}, nil, time.Millisecond)
	require.NoError(t, err)
}

func TestHostCapacityIsTheEnginesHost(t *testing.T) {
	t.Parallel()
	e, cli := engine(t, executor.Options{})
	info, err := cli.Info(context.Background())
	require.NoError(t, err)
	cpu, mem, err := e.HostCapacity(context.Background())
	require.NoError(t, err)
	assert.Equal(t, info.NCPU*100, cpu)
	assert.Equal(t, int(info.MemTotal>>20), mem)
	assert.Positive(t, mem)
}

func TestLogsSurviveASinkOutage(t *testing.T) {
	t.Parallel()
	e, cli := engine(t, executor.Options{FinalFlushTimeout: time.Second})
	s := newSink()
	s.failFirst = 1 << 30 // the server is down
	spec := newSpec(t, cli, "sh", "-c", "echo one; echo two; exit 2")

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var cursor executor.Cursor
	res, err := e.Run(ctx, spec, s, executor.Cursor{}, func(c executor.Cursor) { cursor = c })
	require.ErrorIs(t, err, executor.ErrLogsNotShipped)
	assert.Equal(t, 2, res.ExitCode, "the result is known even though the logs are not safe yet")
	assert.False(t, res.Cancelled, "the container had exited before the context ended")
	assert.Equal(t, 1, countRunContainers(t, cli, spec.RunID), "kept until its logs are shipped")

	// The server is back; the retried activity re-attaches and ships the rest.
	s.mu.Lock()
	s.failFirst = 0
	s.mu.Unlock()
	res, err = e.Run(context.Background(), spec, s, cursor, nil)
	require.NoError(t, err)
	assert.Equal(t, 2, res.ExitCode)
	requireExactlyOnce(t, s, []string{"one", "two"})
	assert.Equal(t, 0, countRunContainers(t, cli, spec.RunID))
}

func TestARunInProgressIsNeitherRunTwiceNorReaped(t *testing.T) {
	t.Parallel()
	e, cli := engine(t, executor.Options{})
	spec := newSpec(t, cli, "sh", "-c", "echo started; exec sleep 300")
	s := newSink()
	s.watch = "started"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan executor.Result)
	go func() {
		res, err := e.Run(ctx, spec, s, executor.Cursor{}, nil)
		assert.NoError(t, err)
		done <- res
	}()
	select {
	case <-s.seen:
	case <-time.After(30 * time.Second):
		t.Fatal("the run never started")
	}

	_, err := e.Run(context.Background(), spec, newSink(), executor.Cursor{}, nil)
	require.ErrorIs(t, err, executor.ErrRunBusy)
	removed, err := e.ReapDangling(context.Background(), nil, func(runID string) bool { return runID != spec.RunID }, 0)
	require.NoError(t, err)
	assert.NotContains(t, removed, spec.RunID, "a run inside Run is never dangling")
	assert.Equal(t, 1, countRunContainers(t, cli, spec.RunID))

	cancel()
	assert.True(t, (<-done).Cancelled)
}

// Start then Run is Run in two steps: Start returns once the container runs
// (a second Start finds the same one), and Run with its ID follows it to the
// exit with every line, then removes it.
func TestStartThenRunFollowsTheStartedContainer(t *testing.T) {
	e, cli := engine(t, executor.Options{})
	spec := newSpec(t, cli, "sh", "-c", "echo one; sleep 1; echo two; exit 4")
	ctx := context.Background()
	started, err := e.Start(ctx, spec)
	require.NoError(t, err)
	require.NotEmpty(t, started.ContainerID)
	assert.False(t, started.StartedAt.IsZero(), "the engine's start time")
	assert.NotEmpty(t, started.ImageDigest)
	info, err := cli.ContainerInspect(ctx, started.ContainerID)
	require.NoError(t, err)
	assert.NotEqual(t, "created", info.State.Status, "Start returns a started container")

	again, err := e.Start(ctx, spec)
	require.NoError(t, err)
	assert.Equal(t, started.ContainerID, again.ContainerID, "a retried Start finds the container, it never starts a second")
	assert.Equal(t, 1, countRunContainers(t, cli, spec.RunID))

	s := newSink()
	res, err := e.Run(ctx, spec, s, executor.Cursor{ContainerID: started.ContainerID}, nil)
	require.NoError(t, err)
	assert.Equal(t, 4, res.ExitCode)
	assert.Equal(t, started.ContainerID, res.ContainerID)
	requireExactlyOnce(t, s, []string{"one", "two"})
	requireRemoved(t, cli, started.ContainerID)
	id, err := e.ContainerOf(ctx, spec.RunID)
	require.NoError(t, err)
	assert.Empty(t, id)
}

// A Start whose context ends before the container starts leaves nothing.
func TestStartCancelledLeavesNoContainer(t *testing.T) {
	e, cli := engine(t, executor.Options{})
	spec := newSpec(t, cli, "true")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := e.Start(ctx, spec)
	require.Error(t, err)
	assert.Equal(t, 0, countRunContainers(t, cli, spec.RunID))
}

// ActiveRuns lists the runs being followed now (what the agent's pings report).
func TestActiveRunsListsTheRunsBeingFollowed(t *testing.T) {
	e, cli := engine(t, executor.Options{})
	spec := newSpec(t, cli, "sleep", "2")
	assert.Empty(t, e.ActiveRuns())
	done := make(chan executor.Result, 1)
	go func() { done <- run(t, e, spec, newSink()) }()
	require.Eventually(t, func() bool { return slices.Contains(e.ActiveRuns(), spec.RunID) }, 30*time.Second, 20*time.Millisecond)
	<-done
	assert.Empty(t, e.ActiveRuns(), "a finished run is no longer reported")
}
