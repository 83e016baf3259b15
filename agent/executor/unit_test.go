package executor

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func collectLines(t *testing.T, msgs []struct{ stream, msg string }) []LogLine {
	t.Helper()
	var got []LogLine
	a := newAssembler(func(l LogLine) error { got = append(got, l); return nil })
	for _, m := range msgs {
		_, err := a.writer(m.stream).Write([]byte(m.msg))
		require.NoError(t, err)
	}
	require.NoError(t, a.flush())
	return got
}

func TestAssemblerJoinsTheEnginesPartialMessages(t *testing.T) {
	ts1, ts2 := "2026-11-29T10:00:00.000000001Z", "2026-11-29T10:00:00.500000000Z"
	got := collectLines(t, []struct{ stream, msg string }{
		{"stdout", ts1 + " first part "},
		{"stderr", ts2 + " an error\n"},
		{"stdout", ts2 + " second part\n"},
		{"stdout", ts2 + " \n"},
		{"stdout", ts2 + " no newline at the end"},
	})
	require.Len(t, got, 4)
	assert.Equal(t, LogLine{Stream: "stderr", Time: mustTime(ts2), Text: "an error"}, got[0])
	assert.Equal(t, LogLine{Stream: "stdout", Time: mustTime(ts1), Text: "first part second part"}, got[1],
		"a line takes the time of its first part")
	assert.Equal(t, "", got[2].Text, "an empty line is a line")
	assert.Equal(t, "no newline at the end", got[3].Text, "the final flush keeps an unfinished line")
}

func TestAssemblerCutsEndlessLinesAtMaxLineBytes(t *testing.T) {
	ts := "2026-11-29T10:00:00Z "
	chunk := strings.Repeat("x", 16<<10)
	var msgs []struct{ stream, msg string }
	for range 9 { // 144 KiB in engine-sized parts
		msgs = append(msgs, struct{ stream, msg string }{"stdout", ts + chunk})
	}
	msgs = append(msgs, struct{ stream, msg string }{"stdout", ts + "end\n"})
	got := collectLines(t, msgs)
	require.Len(t, got, 3)
	assert.Len(t, got[0].Text, MaxLineBytes)
	assert.True(t, got[0].Partial)
	assert.Len(t, got[1].Text, MaxLineBytes)
	assert.True(t, got[1].Partial)
	assert.Equal(t, strings.Repeat("x", 9*16<<10-2*MaxLineBytes)+"end", got[2].Text)
	assert.False(t, got[2].Partial)
}

func TestAssemblerKeepsMessagesWithoutATimestamp(t *testing.T) {
	got := collectLines(t, []struct{ stream, msg string }{{"stdout", "plain text\n"}})
	require.Len(t, got, 1)
	assert.Equal(t, "plain text", got[0].Text)
	assert.True(t, got[0].Time.IsZero())
}

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestSystemNote(t *testing.T) {
	spec := Spec{MemoryMB: 16, Timeout: 90 * time.Second}
	for _, tc := range []struct {
		res  Result
		want string
	}{
		{Result{ExitCode: 0}, ""},
		{Result{ExitCode: 3}, "exited with code 3"},
		{Result{ExitCode: 137, OOMKilled: true}, "killed: out of memory at 16 MB"},
		{Result{ExitCode: 137}, "killed by signal KILL (exit code 137)"},
		{Result{ExitCode: 143, TimedOut: true}, "exceeded execution timeout of 1m30s"},
		{Result{ExitCode: 143, Cancelled: true}, "cancelled"},
	} {
		assert.Equal(t, tc.want, systemNote(tc.res, spec), "%+v", tc.res)
	}
}

func TestHumanDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		30 * time.Second:        "30s",
		5 * time.Minute:         "5m",
		2 * time.Hour:           "2h",
		90 * time.Minute:        "1h30m",
		1500 * time.Millisecond: "1.5s",
	} {
		assert.Equal(t, want, humanDuration(d))
	}
}

func TestStatsFormulasMatchTheDockerCLI(t *testing.T) {
	prev := container.CPUStats{CPUUsage: container.CPUUsage{TotalUsage: 1_000}, SystemUsage: 10_000, OnlineCPUs: 4}
	cur := container.CPUStats{CPUUsage: container.CPUUsage{TotalUsage: 3_000}, SystemUsage: 14_000, OnlineCPUs: 4}
	assert.InDelta(t, 200.0, cpuPercent(prev, cur), 1e-9, "half of 4 CPUs is two cores")
	assert.Zero(t, cpuPercent(cur, cur))

	v1 := container.MemoryStats{Usage: 100 << 20, Stats: map[string]uint64{"total_inactive_file": 30 << 20, "inactive_file": 1}}
	assert.Equal(t, int64(70<<20), memoryBytes(v1))
	v2 := container.MemoryStats{Usage: 100 << 20, Stats: map[string]uint64{"inactive_file": 40 << 20}}
	assert.Equal(t, int64(60<<20), memoryBytes(v2))
}

// refusingSink refuses every batch for good, as the server does for a run
// that is not on this spawn.
type refusingSink struct{ calls int }

func (s *refusingSink) ShipLogs(context.Context, string, []LogLine) error {
	s.calls++
	return fmt.Errorf("server said 404: %w", ErrSinkRejected)
}

func (s *refusingSink) ShipMetrics(context.Context, string, []Metric) error { return nil }

// A refusal stops shipping at once instead of retrying until the run's
// context ends (which, for a job without a timeout, could be days).
func TestShipBatchStopsOnARefusal(t *testing.T) {
	sink := &refusingSink{}
	r := &run{e: &Executor{log: slog.New(slog.DiscardHandler)}, spec: Spec{RunID: "r1"}, sink: sink, progress: func(Cursor) {}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := r.shipBatch(ctx, []LogLine{{Seq: 1, Stream: "stdout", Text: "x"}})
	require.ErrorIs(t, err, ErrSinkRejected)
	assert.Equal(t, 1, sink.calls, "no retry of a refusal")
	assert.NoError(t, ctx.Err(), "it returned long before the context ended")
}
