package workflows_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"daestro/activities"
	"daestro/internal/contract"
	"daestro/internal/domain"
	"daestro/workflows"
)

// spawnHarness runs SpawnWorkflow in the test environment with the
// activities mocked over an in-memory spawn row: the states the workflow
// records, when it records them, and the agent's last ping.
type spawnHarness struct {
	t     *testing.T
	env   *testsuite.TestWorkflowEnvironment
	start time.Time
	// recorded are the transitions the workflow wrote, in order.
	recorded []transition
	// notes are the system notes written with them, in the same order.
	notes []string
	// state mirrors the spawn row's state column.
	state string
	// lastPing is the row's last_ping_at; zero before the first ping.
	lastPing time.Time
	keys     map[string]bool
	// pingDuringMark makes the next unreachable write find a fresh ping, as
	// when a ping lands between the liveness read and the write.
	pingDuringMark bool
	// livenessReads counts SpawnLiveness calls.
	livenessReads int
	// allocated mirrors the allocations table: a change that requires none
	// (the idle timeout) is refused while it is > 0, as the store refuses it
	// under the dispatch lock.
	allocated int
	// maxIdleSeconds is the queue's max idle time as the row says.
	maxIdleSeconds int
	// interrupted are the notes InterruptSpawnRuns was called with.
	interrupted []string
}

// transition is one recorded state change.
type transition struct {
	State  string
	Reason string
	// After is the workflow time since start.
	After time.Duration
}

func newSpawnHarness(t *testing.T) *spawnHarness {
	var ts testsuite.WorkflowTestSuite
	h := &spawnHarness{t: t, env: ts.NewTestWorkflowEnvironment(), state: domain.SpawnInitialized, keys: map[string]bool{}}
	h.start = h.env.Now()
	var a *activities.Activities
	h.env.RegisterActivity(a)
	h.env.OnActivity(a.RecordSpawnState, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.RecordSpawnStateInput) (activities.RecordSpawnStateResult, error) {
			if h.keys[in.Key] {
				return activities.RecordSpawnStateResult{Applied: true}, nil
			}
			if in.RequireNoAllocations && h.allocated > 0 {
				return activities.RecordSpawnStateResult{Applied: false}, nil
			}
			if in.RequireSilence > 0 {
				if h.pingDuringMark {
					h.pingDuringMark = false
					h.lastPing = h.env.Now()
				}
				if h.env.Now().Sub(h.lastPing) < in.RequireSilence {
					return activities.RecordSpawnStateResult{Applied: false}, nil
				}
			}
			h.keys[in.Key] = true
			h.state = in.State
			h.recorded = append(h.recorded, transition{State: in.State, Reason: in.Reason, After: h.env.Now().Sub(h.start)})
			h.notes = append(h.notes, in.Note)
			return activities.RecordSpawnStateResult{Applied: true}, nil
		})
	h.env.OnActivity(a.SpawnLiveness, mock.Anything, mock.Anything).Return(
		func(context.Context, activities.SpawnLivenessInput) (activities.SpawnLivenessResult, error) {
			h.livenessReads++
			if h.lastPing.IsZero() {
				return activities.SpawnLivenessResult{Allocations: h.allocated, MaxIdleSeconds: h.maxIdleSeconds}, nil
			}
			last := h.lastPing
			return activities.SpawnLivenessResult{LastPingAt: &last, SinceLastPing: h.env.Now().Sub(last), Allocations: h.allocated,
				MaxIdleSeconds: h.maxIdleSeconds}, nil
		})
	h.env.OnActivity(a.InterruptSpawnRuns, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.InterruptSpawnRunsInput) (int, error) {
			h.interrupted = append(h.interrupted, in.Note)
			return 0, nil
		})
	return h
}

// at runs f at workflow time d after the start.
func (h *spawnHarness) at(d time.Duration, f func()) { h.env.RegisterDelayedCallback(f, d) }

// ping does what the API does for an agent's ping: write last_ping_at and
// signal the workflow only when the row says it waits for a ping.
func (h *spawnHarness) ping(d time.Duration) {
	h.at(d, func() {
		h.lastPing = h.env.Now()
		if h.state == domain.SpawnInitialized || h.state == domain.SpawnRequested || h.state == domain.SpawnUnreachable {
			h.env.SignalWorkflow(contract.SignalSpawnPing, contract.PingSignal{AgentVersion: "1.2.3"})
		}
	})
}

// pingEvery pings every interval from `from` until `until`.
func (h *spawnHarness) pingEvery(from, until, interval time.Duration) {
	for d := from; d <= until; d += interval {
		h.ping(d)
	}
}

func (h *spawnHarness) allocations(d time.Duration, n int) {
	h.at(d, func() {
		h.env.SignalWorkflow(contract.SignalAllocationsChanged, contract.AllocationsChangedSignal{Count: n})
	})
}

func (h *spawnHarness) terminate(d time.Duration) {
	h.at(d, func() {
		h.env.SignalWorkflow(contract.SignalTerminateSpawn, contract.TerminateSignal{Reason: "terminate requested via API"})
	})
}

// run executes the workflow from input and returns its error.
func (h *spawnHarness) run(in contract.SpawnWorkflowInput) error {
	h.t.Helper()
	if in.SpawnID == "" {
		in.SpawnID = "0190a5c2-0000-7000-8000-000000000001"
	}
	if in.ProjectID == "" {
		in.ProjectID = "0190a5c2-0000-7000-8000-0000000000aa"
	}
	if in.Kind == "" {
		in.Kind = domain.SpawnKindSelfHosted
	}
	h.env.ExecuteWorkflow(workflows.SpawnWorkflow, in)
	require.True(h.t, h.env.IsWorkflowCompleted(), "the workflow ended")
	return h.env.GetWorkflowError()
}

// states lists the recorded states in order.
func (h *spawnHarness) states() []string {
	out := make([]string, len(h.recorded))
	for i, tr := range h.recorded {
		out[i] = tr.State
	}
	return out
}

func (h *spawnHarness) status() workflows.SpawnStatus {
	v, err := h.env.QueryWorkflow(contract.QuerySpawnStatus)
	require.NoError(h.t, err)
	var st workflows.SpawnStatus
	require.NoError(h.t, v.Get(&st))
	return st
}

func TestSpawnWorkflowIdleAtFirstPing(t *testing.T) {
	h := newSpawnHarness(t)
	var before, after workflows.SpawnStatus
	h.at(30*time.Second, func() { before = h.status() })
	h.ping(time.Minute)
	h.at(time.Minute+time.Second, func() { after = h.status() })
	h.terminate(2 * time.Minute)

	require.NoError(t, h.run(contract.SpawnWorkflowInput{}))
	assert.Equal(t, domain.SpawnInitialized, before.State, "a spawn waits in initialized until its agent pings")
	assert.Equal(t, domain.SpawnIdle, after.State)
	assert.Equal(t, []string{domain.SpawnIdle, domain.SpawnTerminating, domain.SpawnTerminated}, h.states())
	assert.Equal(t, "agent registered: first ping from agent 1.2.3", h.recorded[0].Reason)
	assert.Equal(t, time.Minute, h.recorded[0].After)
}

func TestSpawnWorkflowUnreachableAfterFiveMinutesWithoutPings(t *testing.T) {
	h := newSpawnHarness(t)
	h.ping(10 * time.Second)
	h.terminate(time.Hour)

	require.NoError(t, h.run(contract.SpawnWorkflowInput{}))
	assert.Equal(t, []string{domain.SpawnIdle, domain.SpawnUnreachable, domain.SpawnTerminating, domain.SpawnTerminated}, h.states())
	assert.Equal(t, transition{State: domain.SpawnUnreachable, Reason: "no ping for 5m0s", After: 10*time.Second + 5*time.Minute}, h.recorded[1],
		"unreachable exactly five minutes after the last ping, not a timer period later")
	assert.Equal(t, 2, h.livenessReads, "one read arms the timer, one re-checks when it fires; an unreachable spawn arms none")
	assert.Equal(t, []string{"compute spawn 0190a5c2-0000-7000-8000-000000000001 became unreachable (no ping for 5m0s)"}, h.interrupted,
		"the runs started on it are interrupted once, when it becomes unreachable")
}

func TestSpawnWorkflowPingsInTimeKeepItIdle(t *testing.T) {
	h := newSpawnHarness(t)
	h.pingEvery(10*time.Second, 30*time.Minute, 4*time.Minute+50*time.Second)
	h.terminate(30 * time.Minute)

	require.NoError(t, h.run(contract.SpawnWorkflowInput{}))
	assert.Equal(t, []string{domain.SpawnIdle, domain.SpawnTerminating, domain.SpawnTerminated}, h.states())
	assert.LessOrEqual(t, h.livenessReads, 8, "the workflow reads the last ping about once per timeout, not once per ping")
}

func TestSpawnWorkflowRecoversWhenPingsResume(t *testing.T) {
	h := newSpawnHarness(t)
	h.ping(10 * time.Second)
	h.pingEvery(20*time.Minute, 40*time.Minute, 10*time.Second)
	h.terminate(40 * time.Minute)

	require.NoError(t, h.run(contract.SpawnWorkflowInput{}))
	assert.Equal(t, []string{domain.SpawnIdle, domain.SpawnUnreachable, domain.SpawnIdle, domain.SpawnTerminating, domain.SpawnTerminated}, h.states())
	assert.Equal(t, transition{State: domain.SpawnIdle, Reason: "pings resumed", After: 20 * time.Minute}, h.recorded[2])
}

func TestSpawnWorkflowRecoversToBusyWhenRunsAreAllocated(t *testing.T) {
	h := newSpawnHarness(t)
	h.ping(10 * time.Second)
	h.allocations(20*time.Second, 1)
	h.ping(20 * time.Minute)
	h.terminate(21 * time.Minute)

	require.NoError(t, h.run(contract.SpawnWorkflowInput{}))
	assert.Equal(t, []string{domain.SpawnIdle, domain.SpawnBusy, domain.SpawnUnreachable, domain.SpawnBusy, domain.SpawnTerminating, domain.SpawnTerminated}, h.states(),
		"a busy spawn that comes back still has its run")
}

func TestSpawnWorkflowBusyAndIdleFollowAllocations(t *testing.T) {
	h := newSpawnHarness(t)
	h.pingEvery(10*time.Second, 3*time.Minute, 10*time.Second)
	h.allocations(20*time.Second, 2)
	h.allocations(30*time.Second, 1)
	h.allocations(40*time.Second, 0)
	h.allocations(50*time.Second, 1)
	h.terminate(3 * time.Minute)

	require.NoError(t, h.run(contract.SpawnWorkflowInput{}))
	assert.Equal(t, []string{domain.SpawnIdle, domain.SpawnBusy, domain.SpawnIdle, domain.SpawnBusy, domain.SpawnTerminating, domain.SpawnTerminated}, h.states())
	assert.Equal(t, "2 runs allocated", h.recorded[1].Reason)
	assert.Equal(t, "no run allocated", h.recorded[2].Reason)
	assert.Equal(t, "1 run allocated", h.recorded[3].Reason)
}

func TestSpawnWorkflowAllocationsBeforeFirstPingMakeItBusy(t *testing.T) {
	h := newSpawnHarness(t)
	h.allocations(5*time.Second, 1)
	h.ping(10 * time.Second)
	h.terminate(time.Minute)

	require.NoError(t, h.run(contract.SpawnWorkflowInput{}))
	assert.Equal(t, []string{domain.SpawnBusy, domain.SpawnTerminating, domain.SpawnTerminated}, h.states())
}

func TestSpawnWorkflowTerminatesFromEveryState(t *testing.T) {
	tests := []struct {
		from    string
		prepare func(h *spawnHarness)
		before  []string
	}{
		{domain.SpawnInitialized, func(*spawnHarness) {}, nil},
		{domain.SpawnIdle, func(h *spawnHarness) { h.pingEvery(10*time.Second, 6*time.Minute, 10*time.Second) }, []string{domain.SpawnIdle}},
		{domain.SpawnBusy, func(h *spawnHarness) {
			h.pingEvery(10*time.Second, 6*time.Minute, 10*time.Second)
			h.allocations(20*time.Second, 3)
		}, []string{domain.SpawnIdle, domain.SpawnBusy}},
		{domain.SpawnUnreachable, func(h *spawnHarness) { h.ping(10 * time.Second) }, []string{domain.SpawnIdle, domain.SpawnUnreachable}},
	}
	for _, tt := range tests {
		t.Run(tt.from, func(t *testing.T) {
			h := newSpawnHarness(t)
			tt.prepare(h)
			var status workflows.SpawnStatus
			h.at(6*time.Minute-time.Second, func() { status = h.status() })
			h.terminate(6 * time.Minute)

			require.NoError(t, h.run(contract.SpawnWorkflowInput{}), "terminating ends the workflow")
			assert.Equal(t, tt.from, status.State)
			assert.Equal(t, append(tt.before, domain.SpawnTerminating, domain.SpawnTerminated), h.states())
			n := len(h.recorded)
			assert.Equal(t, "terminate requested via API", h.recorded[n-2].Reason)
			assert.Equal(t, 6*time.Minute, h.recorded[n-1].After, "a self-hosted spawn has no machine to wait for")
		})
	}
}

func TestSpawnWorkflowPingRacingTheUnreachableMarkWins(t *testing.T) {
	h := newSpawnHarness(t)
	h.ping(10 * time.Second)
	h.pingDuringMark = true
	h.terminate(time.Hour)

	require.NoError(t, h.run(contract.SpawnWorkflowInput{}))
	assert.Equal(t, []string{domain.SpawnIdle, domain.SpawnUnreachable, domain.SpawnTerminating, domain.SpawnTerminated}, h.states())
	assert.Equal(t, 10*time.Second+10*time.Minute, h.recorded[1].After,
		"the ping that landed during the first mark counts: unreachable five minutes after it")
}

// The count in the carried input must survive, and a signal still in the
// channel when continue-as-new is due is handled, not lost.
func TestSpawnWorkflowContinueAsNewKeepsStateAndDrainsSignals(t *testing.T) {
	h := newSpawnHarness(t)
	h.pingEvery(10*time.Second, 2*time.Minute, 10*time.Second)
	h.at(time.Minute, func() {
		h.env.SetContinueAsNewSuggested(true)
		h.env.SignalWorkflow(contract.SignalAllocationsChanged, contract.AllocationsChangedSignal{Count: 2})
		h.env.SignalWorkflow(contract.SignalAllocationsChanged, contract.AllocationsChangedSignal{Count: 5})
	})

	err := h.run(contract.SpawnWorkflowInput{UnreachableAfter: 3 * time.Minute})
	var can *workflow.ContinueAsNewError
	require.ErrorAs(t, err, &can)
	assert.Equal(t, "SpawnWorkflow", can.WorkflowType.Name)
	var next contract.SpawnWorkflowInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	assert.Equal(t, contract.SpawnWorkflowInput{
		SpawnID: "0190a5c2-0000-7000-8000-000000000001", ProjectID: "0190a5c2-0000-7000-8000-0000000000aa",
		Kind: domain.SpawnKindSelfHosted, UnreachableAfter: 3 * time.Minute, State: domain.SpawnBusy, Allocations: 5,
		BootTimeout: workflows.DefaultBootTimeout, MinIdle: workflows.DefaultMinIdle,
	}, next)
	assert.Equal(t, []string{domain.SpawnIdle, domain.SpawnBusy}, h.states())
}

func TestSpawnWorkflowContinuedRunResumesLiveness(t *testing.T) {
	h := newSpawnHarness(t)
	h.state = domain.SpawnBusy
	h.lastPing = h.start.Add(-time.Minute)
	var status workflows.SpawnStatus
	h.at(time.Second, func() { status = h.status() })
	h.terminate(10 * time.Minute)

	require.NoError(t, h.run(contract.SpawnWorkflowInput{State: domain.SpawnBusy, Allocations: 1}))
	assert.Equal(t, workflows.SpawnStatus{State: domain.SpawnBusy, Allocations: 1}, status, "the run starts where the last one stopped")
	assert.Equal(t, []string{domain.SpawnUnreachable, domain.SpawnTerminating, domain.SpawnTerminated}, h.states())
	assert.Equal(t, 4*time.Minute, h.recorded[0].After, "the liveness timer counts from the last ping, not from the new run")
}

func TestSpawnWorkflowRetriesStateWrites(t *testing.T) {
	h := newSpawnHarness(t)
	var a *activities.Activities
	fails := 0
	// A fresh mock replaces the harness's: the first two writes fail like a
	// database outage would.
	h.env = (&testsuite.WorkflowTestSuite{}).NewTestWorkflowEnvironment()
	h.env.RegisterActivity(a)
	h.env.OnActivity(a.RecordSpawnState, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.RecordSpawnStateInput) (activities.RecordSpawnStateResult, error) {
			if fails < 2 {
				fails++
				return activities.RecordSpawnStateResult{}, errors.New("connection refused")
			}
			h.recorded = append(h.recorded, transition{State: in.State})
			return activities.RecordSpawnStateResult{Applied: true}, nil
		})
	h.terminate(time.Second)

	require.NoError(t, h.run(contract.SpawnWorkflowInput{}))
	assert.Equal(t, 2, fails)
	assert.Equal(t, []string{domain.SpawnTerminating, domain.SpawnTerminated}, h.states())
}

func TestSpawnWorkflowEndsQuietlyWhenTheSpawnIsGone(t *testing.T) {
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestWorkflowEnvironment()
	var a *activities.Activities
	env.RegisterActivity(a)
	calls := 0
	env.OnActivity(a.RecordSpawnState, mock.Anything, mock.Anything).Return(
		func(context.Context, activities.RecordSpawnStateInput) (activities.RecordSpawnStateResult, error) {
			calls++
			return activities.RecordSpawnStateResult{}, temporal.NewNonRetryableApplicationError("gone", activities.ErrTypeSpawnNotFound, nil)
		})
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(contract.SignalSpawnPing, contract.PingSignal{})
	}, time.Second)
	env.ExecuteWorkflow(workflows.SpawnWorkflow, contract.SpawnWorkflowInput{SpawnID: "x", Kind: domain.SpawnKindSelfHosted})
	require.True(t, env.IsWorkflowCompleted())
	assert.NoError(t, env.GetWorkflowError(), "a deleted spawn leaves nothing to manage")
	assert.Equal(t, 1, calls, "not retried")
}

func TestSpawnWorkflowRefusesAnUnknownKind(t *testing.T) {
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestWorkflowEnvironment()
	env.ExecuteWorkflow(workflows.SpawnWorkflow, contract.SpawnWorkflowInput{SpawnID: "x", Kind: "mainframe"})
	require.True(t, env.IsWorkflowCompleted())
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, env.GetWorkflowError(), &appErr)
	assert.Equal(t, "UnsupportedSpawnKind", appErr.Type())
}

func TestSpawnWorkflowID(t *testing.T) {
	assert.Equal(t, "spawn/abc", contract.SpawnWorkflowID("abc"))
}
