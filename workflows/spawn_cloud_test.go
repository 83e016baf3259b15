package workflows_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"daestro/activities"
	"daestro/internal/contract"
	"daestro/internal/domain"
	"daestro/workflows"
)

// cloudHarness is a spawnHarness for a cloud spawn: the machine's create
// and delete are mocked, and allocations held on the row decide whether the
// idle timeout may terminate.
type cloudHarness struct {
	*spawnHarness
	creates, deletes, wakes int
	createErr               error
	// throttled fails the first creates with a retryable error.
	throttled int
	// deleteErr fails every delete when set.
	deleteErr error
}

func newCloudHarness(t *testing.T, maxIdleSeconds int) *cloudHarness {
	h := &cloudHarness{spawnHarness: newSpawnHarness(t)}
	h.state = domain.SpawnRequested
	h.maxIdleSeconds = maxIdleSeconds
	var a *activities.Activities
	h.env.OnActivity(a.CreateMachine, mock.Anything, mock.Anything).Return(
		func(context.Context, activities.MachineInput) (activities.CreateMachineResult, error) {
			h.creates++
			if h.creates <= h.throttled {
				return activities.CreateMachineResult{}, errors.New("DigitalOcean could not create: throttled (429)")
			}
			if h.createErr != nil {
				return activities.CreateMachineResult{}, h.createErr
			}
			return activities.CreateMachineResult{InstanceID: "i-1", MaxIdleSeconds: maxIdleSeconds}, nil
		})
	h.env.OnActivity(a.DeleteMachine, mock.Anything, mock.Anything).Return(
		func(context.Context, activities.MachineInput) error {
			h.deletes++
			return h.deleteErr
		})
	h.env.OnActivity(a.RefreshMachine, mock.Anything, mock.Anything).Return(nil)
	h.env.OnActivity(a.WakeDispatcher, mock.Anything, mock.Anything).Return(
		func(context.Context, activities.WakeDispatcherInput) error { h.wakes++; return nil })
	return h
}

// allocate changes the row's allocations and signals the count, as the
// dispatcher does.
func (h *cloudHarness) allocate(d time.Duration, n int) {
	h.at(d, func() { h.allocated = n })
	h.allocations(d, n)
}

func (h *cloudHarness) runCloud() error {
	h.t.Helper()
	return h.run(contract.SpawnWorkflowInput{Kind: domain.SpawnKindCloud})
}

func TestCloudSpawnIdleTimeoutTerminatesTheMachine(t *testing.T) {
	h := newCloudHarness(t, 300)
	h.pingEvery(time.Minute, 3*time.Hour, time.Minute)
	h.allocate(2*time.Minute, 1)
	h.allocate(4*time.Minute, 0)

	require.NoError(t, h.runCloud())
	assert.Equal(t, []string{domain.SpawnIdle, domain.SpawnBusy, domain.SpawnIdle, domain.SpawnTerminating, domain.SpawnTerminated}, h.states())
	assert.Equal(t, 1, h.creates)
	assert.Equal(t, 1, h.deletes)
	assert.Equal(t, time.Minute, h.recorded[0].After, "idle at the agent's first ping")
	assert.GreaterOrEqual(t, h.wakes, 1, "the first ping wakes the dispatcher to place the jobs waiting for the spawn")
	assert.Equal(t, 9*time.Minute, h.recorded[3].After, "terminating exactly the queue's max idle time after the last run ended (the timer restarts on every change)")
	assert.Contains(t, h.recorded[3].Reason, "idle for 5m0s")
}

func TestCloudSpawnIdleTimeoutResetsWhenWorkArrives(t *testing.T) {
	h := newCloudHarness(t, 600)
	h.pingEvery(time.Minute, 3*time.Hour, time.Minute)
	// Work arrives 9 minutes into each idle period, never letting 10 pass.
	h.allocate(10*time.Minute, 1)
	h.allocate(11*time.Minute, 0)
	h.allocate(20*time.Minute, 1)
	h.allocate(21*time.Minute, 0)

	require.NoError(t, h.runCloud())
	last := h.recorded[len(h.recorded)-2]
	assert.Equal(t, domain.SpawnTerminating, last.State)
	assert.Equal(t, 31*time.Minute, last.After)
}

func TestCloudSpawnMinIdleKeepsAFreshMachineForItsJobs(t *testing.T) {
	h := newCloudHarness(t, 0) // the queue says: terminate at once
	h.pingEvery(time.Minute, time.Hour, time.Minute)

	require.NoError(t, h.runCloud())
	assert.Equal(t, []string{domain.SpawnIdle, domain.SpawnTerminating, domain.SpawnTerminated}, h.states())
	assert.Equal(t, time.Minute+workflows.DefaultMinIdle, h.recorded[1].After, "max idle 0 still waits MinIdle, so the dispatcher can place the jobs that asked for the spawn")
}

func TestCloudSpawnCreateFailureFailsWithTheProvidersSentence(t *testing.T) {
	h := newCloudHarness(t, 300)
	h.createErr = temporal.NewNonRetryableApplicationError("DigitalOcean could not create a s-2vcpu-4gb machine in nyc3: droplet limit reached (raise the account's limit or lower the queue's max_spawns)",
		activities.ErrTypeCloudPermanent, nil)

	require.NoError(t, h.runCloud())
	assert.Equal(t, []string{domain.SpawnFailed}, h.states())
	assert.Contains(t, h.recorded[0].Reason, "droplet limit reached")
	assert.Equal(t, 1, h.creates, "a permanent refusal is not retried")
	assert.Equal(t, 1, h.deletes, "whatever the create may have left is deleted")
	assert.Equal(t, 1, h.wakes, "the dispatcher is told: its jobs may go to another environment")
}

func TestCloudSpawnThrottledCreateIsRetried(t *testing.T) {
	h := newCloudHarness(t, 60)
	h.throttled = 2
	h.ping(10 * time.Minute)
	h.terminate(11 * time.Minute)

	require.NoError(t, h.runCloud())
	assert.Equal(t, 3, h.creates)
	assert.Equal(t, []string{domain.SpawnIdle, domain.SpawnTerminating, domain.SpawnTerminated}, h.states()[:3])
}

func TestCloudSpawnBootTimeoutDeletesAndFails(t *testing.T) {
	h := newCloudHarness(t, 300)

	require.NoError(t, h.runCloud())
	assert.Equal(t, []string{domain.SpawnTerminating, domain.SpawnFailed}, h.states())
	assert.Equal(t, workflows.DefaultBootTimeout, h.recorded[0].After)
	assert.Contains(t, h.recorded[0].Reason, "did not ping within 15m0s")
	assert.Equal(t, 1, h.deletes)
}

func TestCloudSpawnDeleteFailureEndsInTerminationFailed(t *testing.T) {
	h := newCloudHarness(t, 60)
	h.deleteErr = errors.New("DigitalOcean could not delete machine 42: 503 service unavailable")
	h.ping(time.Minute)
	h.terminate(2 * time.Minute)

	require.NoError(t, h.runCloud())
	assert.Equal(t, []string{domain.SpawnIdle, domain.SpawnTerminating, domain.SpawnTerminationFailed}, h.states())
	assert.Equal(t, 8, h.deletes, "the delete is retried with backoff before giving up")
	assert.Contains(t, h.recorded[2].Reason, "503 service unavailable")
	assert.Contains(t, h.recorded[2].Reason, "reconciliation keeps trying")
	assert.Greater(t, h.recorded[2].After, 2*time.Minute+5*time.Minute, "retries back off over minutes, not milliseconds")
}

// A machine made in another account than its cloud auth's keys belong to
// now: the delete says so at once (no retry can reach it) and the spawn
// ends termination_failed with that sentence as its note, never terminated.
func TestCloudSpawnOfAnotherAccountEndsTerminationFailed(t *testing.T) {
	const note = "machine i-0abc was created in AWS account 111111111111, but cloud auth 'x' now holds keys of account 222222222222: " +
		"daestro can no longer see or delete it; delete it in account 111111111111"
	h := newCloudHarness(t, 60)
	h.deleteErr = temporal.NewNonRetryableApplicationError(note, activities.ErrTypeAccountChanged, nil)
	h.ping(time.Minute)
	h.terminate(2 * time.Minute)

	require.NoError(t, h.runCloud())
	assert.Equal(t, []string{domain.SpawnIdle, domain.SpawnTerminating, domain.SpawnTerminationFailed}, h.states())
	assert.Equal(t, 1, h.deletes, "not retried")
	assert.Equal(t, note, h.recorded[2].Reason)
	assert.Equal(t, note, h.notes[2], "the note names both accounts and says what to do")
}

// A create that failed while the cloud auth's keys moved to another
// account may have left a machine in the old one: the spawn is not
// "failed" (nothing left) but termination_failed with the note.
func TestCloudSpawnCreateFailureAcrossAnAccountChangeIsNotFailed(t *testing.T) {
	const note = "the spawn's machine was created in DigitalOcean account a, but cloud auth 'x' now holds keys of account b: " +
		"daestro can no longer see or delete it; delete it in account a"
	h := newCloudHarness(t, 60)
	h.createErr = temporal.NewNonRetryableApplicationError("DigitalOcean could not create: unauthorized", activities.ErrTypeCloudPermanent, nil)
	h.deleteErr = temporal.NewNonRetryableApplicationError(note, activities.ErrTypeAccountChanged, nil)

	require.NoError(t, h.runCloud())
	assert.Equal(t, []string{domain.SpawnTerminationFailed}, h.states())
	assert.Equal(t, note, h.notes[0])
}

func TestCloudSpawnIdleTimeoutLosesToARacingPlacement(t *testing.T) {
	h := newCloudHarness(t, 120)
	h.pingEvery(time.Minute, 2*time.Hour, time.Minute)
	// The dispatcher allocated a run just as the timer fired; its signal
	// arrives after the refused transition.
	h.at(time.Minute+2*time.Minute-time.Second, func() { h.allocated = 1 })
	h.allocations(time.Minute+2*time.Minute+time.Second, 1)
	h.allocate(30*time.Minute, 0)

	require.NoError(t, h.runCloud())
	assert.Equal(t, []string{domain.SpawnIdle, domain.SpawnBusy, domain.SpawnIdle, domain.SpawnTerminating, domain.SpawnTerminated}, h.states())
	assert.Equal(t, 32*time.Minute, h.recorded[3].After)
}

func TestCloudSpawnHealsALostAllocationSignal(t *testing.T) {
	h := newCloudHarness(t, 300)
	h.pingEvery(time.Minute, 3*time.Hour, time.Minute)
	h.allocate(2*time.Minute, 1)
	// The run ends but its "0 allocated" signal is lost: only the row knows.
	h.at(4*time.Minute, func() { h.allocated = 0 })

	require.NoError(t, h.runCloud())
	assert.Equal(t, []string{domain.SpawnIdle, domain.SpawnBusy, domain.SpawnIdle, domain.SpawnTerminating, domain.SpawnTerminated}, h.states())
	assert.LessOrEqual(t, h.recorded[2].After, 4*time.Minute+workflows.DefaultUnreachableAfter,
		"the next liveness read (at most one unreachable period away) adopts the database's count")
}

func TestCloudSpawnRestartedInTerminationFailedDeletesItsMachine(t *testing.T) {
	h := newCloudHarness(t, 300)
	h.state = domain.SpawnTerminationFailed
	h.env.ExecuteWorkflow(workflows.SpawnWorkflow, contract.SpawnWorkflowInput{SpawnID: "0190a5c2-0000-7000-8000-000000000001",
		ProjectID: "0190a5c2-0000-7000-8000-0000000000aa", Kind: domain.SpawnKindCloud, State: domain.SpawnTerminationFailed, MachineCreated: true})
	require.True(t, h.env.IsWorkflowCompleted())
	require.NoError(t, h.env.GetWorkflowError())
	assert.Equal(t, 0, h.creates)
	assert.Equal(t, 1, h.deletes)
	assert.Equal(t, []string{domain.SpawnTerminated}, h.states())
}

func TestCloudSpawnTerminatedBeforeItsMachineEnds(t *testing.T) {
	h := newCloudHarness(t, 300)
	h.createErr = temporal.NewNonRetryableApplicationError("compute spawn x is terminated: no machine is created for it",
		activities.ErrTypeSpawnNotRequested, nil)

	require.NoError(t, h.runCloud())
	assert.Empty(t, h.states(), "nothing recorded over the terminated row")
	assert.Equal(t, 0, h.deletes)
}

func TestCloudSpawnFollowsAnEditOfTheQueuesMaxIdleTime(t *testing.T) {
	h := newCloudHarness(t, 3600)
	h.pingEvery(time.Minute, 5*time.Hour, time.Minute)
	h.allocate(2*time.Minute, 1)
	h.at(3*time.Minute, func() { h.maxIdleSeconds = 120 }) // PATCH max_idle_seconds
	h.allocate(20*time.Minute, 0)

	require.NoError(t, h.runCloud())
	last := h.recorded[len(h.recorded)-2]
	assert.Equal(t, domain.SpawnTerminating, last.State)
	assert.Equal(t, 22*time.Minute, last.After, "the idle period after the edit uses the new max idle time")
}
