package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"daestro/activities"
	"daestro/internal/contract"
	"daestro/internal/domain"
)

// DefaultUnreachableAfter is how long a spawn may go without a ping before it
// is unreachable (the product's rule: 5 minutes).
const DefaultUnreachableAfter = 5 * time.Minute

// Defaults of a cloud spawn's timers.
const (
	// DefaultBootTimeout bounds create → first ping.
	DefaultBootTimeout = 15 * time.Minute
	// DefaultMinIdle is the least idle time before a cloud spawn terminates.
	DefaultMinIdle = 30 * time.Second
)

// SpawnStatus is the answer to contract.QuerySpawnStatus.
type SpawnStatus struct {
	// State is the spawn's current state.
	State string
	// Allocations is the last allocation count received.
	Allocations int
}

// spawnActivityOptions retry state writes without a limit on attempts: the
// lifecycle cannot move on without them, and a database outage only delays
// them. A vanished spawn is the one permanent error.
var spawnActivityOptions = workflow.ActivityOptions{
	StartToCloseTimeout: 30 * time.Second,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:        time.Second,
		BackoffCoefficient:     2,
		MaximumInterval:        time.Minute,
		NonRetryableErrorTypes: []string{activities.ErrTypeSpawnNotFound},
	},
}

// SpawnWorkflow is the lifecycle of one compute spawn, `spawn/<spawnID>`.
// Self-hosted: initialized → idle at the agent's first ping; idle ↔ busy as
// runs are allocated; unreachable after UnreachableAfter without a ping and
// back when pings resume; terminating → terminated on the terminate signal.
// Cloud: requested → the machine is created (or adopted by its tag) → idle
// at the agent's first ping (failed after BootTimeout without one); idle ↔
// busy; after the queue's max idle time with nothing allocated (a durable
// timer, restarted on every change) terminating → machine deleted →
// terminated, or termination_failed when the delete keeps failing. Every
// transition is written to Postgres through RecordSpawnState. (A
// continue-as-new run restarts the idle and boot timers.)
func SpawnWorkflow(ctx workflow.Context, in contract.SpawnWorkflowInput) error {
	w := &spawnImpl{in: in}
	if err := w.setup(ctx); err != nil {
		return err
	}
	return w.run(ctx)
}

// spawnImpl holds one run's state; setup validates and installs handlers,
// run is the signal loop.
type spawnImpl struct {
	in          contract.SpawnWorkflowInput
	state       string
	allocations int
	// transitions numbers this run's state changes for idempotency keys.
	transitions int
	pings       workflow.ReceiveChannel
	allocs      workflow.ReceiveChannel
	terminates  workflow.ReceiveChannel
	// liveness fires when the agent's silence may have reached
	// UnreachableAfter; nil when no check is pending.
	liveness       workflow.Future
	cancelLiveness workflow.CancelFunc
	// idle (cloud) fires when the spawn has been without work for its idle
	// limit; boot (cloud) when the machine's agent never pinged in time.
	idle, boot             workflow.Future
	cancelIdle, cancelBoot workflow.CancelFunc
}

func (w *spawnImpl) setup(ctx workflow.Context) error {
	if w.in.SpawnID == "" {
		return temporal.NewNonRetryableApplicationError("contract.SpawnWorkflowInput.SpawnID is empty", "InvalidSpawnInput", nil)
	}
	if w.in.Kind != domain.SpawnKindSelfHosted && w.in.Kind != domain.SpawnKindCloud {
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("compute spawn %s: kind %q has no lifecycle: only %s and %s spawns do", w.in.SpawnID, w.in.Kind,
				domain.SpawnKindSelfHosted, domain.SpawnKindCloud),
			"UnsupportedSpawnKind", nil)
	}
	if w.in.UnreachableAfter <= 0 {
		w.in.UnreachableAfter = DefaultUnreachableAfter
	}
	if w.in.BootTimeout <= 0 {
		w.in.BootTimeout = DefaultBootTimeout
	}
	if w.in.MinIdle <= 0 {
		w.in.MinIdle = DefaultMinIdle
	}
	w.state, w.allocations = w.in.State, w.in.Allocations
	if w.state == "" {
		w.state = domain.SpawnInitialized
		if w.cloud() {
			w.state = domain.SpawnRequested
		}
	}
	w.pings = workflow.GetSignalChannel(ctx, contract.SignalSpawnPing)
	w.allocs = workflow.GetSignalChannel(ctx, contract.SignalAllocationsChanged)
	w.terminates = workflow.GetSignalChannel(ctx, contract.SignalTerminateSpawn)
	if err := workflow.SetQueryHandler(ctx, contract.QuerySpawnStatus, func() (SpawnStatus, error) {
		return SpawnStatus{State: w.state, Allocations: w.allocations}, nil
	}); err != nil {
		return err
	}
	// The workflow tags itself instead of relying on its starter: the API's
	// start would fail on a namespace where no worker has registered the
	// attributes yet, and a run started from the CLI gets them too. Checking
	// first keeps continue-as-new runs (which inherit them) from adding an
	// event each.
	spawnKey := temporal.NewSearchAttributeKeyKeyword(contract.SearchAttrSpawnID)
	projectKey := temporal.NewSearchAttributeKeyKeyword(contract.SearchAttrProjectID)
	if _, ok := workflow.GetTypedSearchAttributes(ctx).GetKeyword(spawnKey); !ok {
		if err := workflow.UpsertTypedSearchAttributes(ctx, spawnKey.ValueSet(w.in.SpawnID), projectKey.ValueSet(w.in.ProjectID)); err != nil {
			return err
		}
	}
	return nil
}

func (w *spawnImpl) run(ctx workflow.Context) error {
	ctx = workflow.WithActivityOptions(ctx, spawnActivityOptions)
	var err error
	if w.cloud() && (w.state == domain.SpawnTerminating || w.state == domain.SpawnTerminationFailed) {
		// Started (again) mid-termination: the API restarts the workflow of
		// a cloud spawn whose workflow ended, to delete its machine.
		err = w.deleteMachine(ctx, domain.SpawnTerminated, "machine deleted")
	} else {
		err = w.loop(ctx)
	}
	var canErr *workflow.ContinueAsNewError
	if err != nil && w.cloud() && !notFound(err) && !errors.As(err, &canErr) && !temporal.IsCanceledError(err) {
		w.cleanUp(ctx, err)
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.Type() == activities.ErrTypeSpawnNotFound {
		workflow.GetLogger(ctx).Warn("compute spawn vanished; nothing left to manage", "spawn_id", w.in.SpawnID, "error", err)
		return nil
	}
	return err
}

func (w *spawnImpl) loop(ctx workflow.Context) error {
	for !domain.SpawnStateIsFinal(w.state) && w.state != domain.SpawnTerminationFailed {
		if w.cloud() && w.state == domain.SpawnRequested && !w.in.MachineCreated {
			if err := w.createMachine(ctx); err != nil {
				return err
			}
			continue
		}
		if w.cloud() {
			w.armCloudTimers(ctx)
		}
		if w.live() && w.liveness == nil {
			if err := w.checkLiveness(ctx); err != nil {
				return err
			}
			continue
		}
		var err error
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(w.terminates, func(c workflow.ReceiveChannel, _ bool) {
			var sig contract.TerminateSignal
			c.Receive(ctx, &sig)
			err = w.onTerminate(ctx, sig)
		})
		sel.AddReceive(w.allocs, func(c workflow.ReceiveChannel, _ bool) {
			var sig contract.AllocationsChangedSignal
			c.Receive(ctx, &sig)
			err = w.onAllocations(ctx, sig)
		})
		sel.AddReceive(w.pings, func(c workflow.ReceiveChannel, _ bool) {
			var sig contract.PingSignal
			c.Receive(ctx, &sig)
			err = w.onPing(ctx, sig)
		})
		if w.liveness != nil {
			sel.AddFuture(w.liveness, func(workflow.Future) {
				// The silence may have reached UnreachableAfter: the next
				// turn of the loop reads the last ping again. (A cancelled
				// timer is never selected: stopLiveness forgets it first.)
				w.liveness, w.cancelLiveness = nil, nil
			})
		}
		if w.idle != nil {
			sel.AddFuture(w.idle, func(workflow.Future) {
				w.idle, w.cancelIdle = nil, nil
				err = w.onIdleTimeout(ctx)
			})
		}
		if w.boot != nil {
			sel.AddFuture(w.boot, func(workflow.Future) {
				w.boot, w.cancelBoot = nil, nil
				err = w.onBootTimeout(ctx)
			})
		}
		sel.Select(ctx)
		if err != nil {
			return err
		}
		if workflow.GetInfo(ctx).GetContinueAsNewSuggested() && !domain.SpawnStateIsFinal(w.state) {
			return w.continueAsNew(ctx)
		}
	}
	return nil
}

// live reports whether the spawn's agent is expected to ping.
func (w *spawnImpl) live() bool {
	return w.state == domain.SpawnIdle || w.state == domain.SpawnBusy
}

// checkLiveness reads the last ping and either arms a durable timer until it
// is UnreachableAfter old or, when it already is, marks the spawn
// unreachable. The mark re-checks the silence under the row lock, so a ping
// that landed meanwhile keeps the spawn live and the check starts over.
func (w *spawnImpl) checkLiveness(ctx workflow.Context) error {
	var res activities.SpawnLivenessResult
	if err := workflow.ExecuteActivity(ctx, a.SpawnLiveness, activities.SpawnLivenessInput{SpawnID: w.in.SpawnID}).Get(ctx, &res); err != nil {
		return err
	}
	if w.cloud() && res.MaxIdleSeconds != w.in.MaxIdleSeconds {
		// The queue's max idle time was edited: the next idle period uses it.
		w.in.MaxIdleSeconds = res.MaxIdleSeconds
	}
	if res.Allocations != w.allocations && w.cloud() {
		// A lost allocation signal would keep the machine from going idle
		// (and being deleted): the count in Postgres is the truth.
		workflow.GetLogger(ctx).Warn("allocation count out of step; adopting the database's", "spawn_id", w.in.SpawnID,
			"had", w.allocations, "database", res.Allocations)
		if err := w.onAllocations(ctx, contract.AllocationsChangedSignal{Count: res.Allocations}); err != nil {
			return err
		}
	}
	silence := res.SinceLastPing
	if res.LastPingAt == nil {
		silence = w.in.UnreachableAfter
	}
	if remaining := w.in.UnreachableAfter - silence; remaining > 0 {
		timerCtx, cancel := workflow.WithCancel(ctx)
		w.liveness, w.cancelLiveness = workflow.NewTimer(timerCtx, remaining), cancel
		return nil
	}
	applied, err := w.transition(ctx, domain.SpawnUnreachable, fmt.Sprintf("no ping for %s", w.in.UnreachableAfter), w.in.UnreachableAfter)
	if err != nil {
		return err
	}
	if applied {
		return w.interruptRuns(ctx, fmt.Sprintf("compute spawn %s became unreachable (no ping for %s)", w.in.SpawnID, w.in.UnreachableAfter))
	}
	workflow.GetLogger(ctx).Info("a ping arrived while marking the spawn unreachable; checking again", "spawn_id", w.in.SpawnID)
	return nil
}

// interruptRuns ends the runs started on the spawn as interrupted (their
// retry strategies decide what comes next): a spawn silent past its limit
// is not waited for with the jobs' capacity held.
func (w *spawnImpl) interruptRuns(ctx workflow.Context, note string) error {
	if workflow.GetVersion(ctx, "interrupt-runs", workflow.DefaultVersion, 1) != 1 {
		return nil
	}
	return workflow.ExecuteActivity(ctx, a.InterruptSpawnRuns, activities.InterruptSpawnRunsInput{SpawnID: w.in.SpawnID, Note: note}).Get(ctx, nil)
}

// stopLiveness cancels a pending liveness timer.
func (w *spawnImpl) stopLiveness() {
	if w.cancelLiveness != nil {
		w.cancelLiveness()
	}
	w.liveness, w.cancelLiveness = nil, nil
}

// workingState is idle or busy, whichever the allocations say.
func (w *spawnImpl) workingState() string {
	if w.allocations > 0 {
		return domain.SpawnBusy
	}
	return domain.SpawnIdle
}

func (w *spawnImpl) onPing(ctx workflow.Context, sig contract.PingSignal) error {
	var reason string
	switch w.state {
	case domain.SpawnInitialized, domain.SpawnRequested:
		reason = "agent registered: first ping"
		if sig.AgentVersion != "" {
			reason += " from agent " + sig.AgentVersion
		}
	case domain.SpawnUnreachable:
		reason = "pings resumed"
	default:
		// A ping the workflow does not wait for (a repeat, or one that
		// raced a transition) changes nothing: liveness reads Postgres.
		return nil
	}
	first := w.state == domain.SpawnRequested
	if _, err := w.transition(ctx, w.workingState(), reason, 0); err != nil {
		return err
	}
	if !first {
		return nil
	}
	// Its addresses are known now; then the jobs this spawn was requested
	// for, which wait for it, are placed at once rather than at the
	// dispatcher's next re-check.
	w.refreshMachine(ctx)
	return w.wakeDispatcher(ctx)
}

func (w *spawnImpl) onAllocations(ctx workflow.Context, sig contract.AllocationsChangedSignal) error {
	w.allocations = max(sig.Count, 0)
	if !w.live() || w.state == w.workingState() {
		// Initialized and unreachable spawns keep their state; the count
		// decides between idle and busy when the agent pings.
		return nil
	}
	reason := "no run allocated"
	if w.allocations > 0 {
		reason = fmt.Sprintf("%d %s allocated", w.allocations, plural(w.allocations, "run", "runs"))
	}
	_, err := w.transition(ctx, w.workingState(), reason, 0)
	return err
}

func (w *spawnImpl) onTerminate(ctx workflow.Context, sig contract.TerminateSignal) error {
	if domain.SpawnStateIsFinal(w.state) {
		return nil
	}
	w.stopLiveness()
	reason := sig.Reason
	if reason == "" {
		reason = "terminate requested"
	}
	if _, err := w.transition(ctx, domain.SpawnTerminating, reason, 0); err != nil {
		return err
	}
	if w.cloud() {
		return w.deleteMachine(ctx, domain.SpawnTerminated, "machine deleted")
	}
	// Self-hosted: there is no machine to release. The agent learns at its
	// next ping (terminate: true) and stops taking work.
	_, err := w.transition(ctx, domain.SpawnTerminated, "self-hosted spawn: no machine to release; the agent stops at its next ping", 0)
	return err
}

// transition records a state change through the activity and, when it
// applied, adopts it. requireSilence is passed to RecordSpawnState.
func (w *spawnImpl) transition(ctx workflow.Context, state, reason string, requireSilence time.Duration) (bool, error) {
	return w.record(ctx, activities.RecordSpawnStateInput{State: state, Reason: reason, RequireSilence: requireSilence})
}

// record writes the change in (its SpawnID and Key filled in here) and,
// when it applied, adopts its state.
func (w *spawnImpl) record(ctx workflow.Context, in activities.RecordSpawnStateInput) (bool, error) {
	w.transitions++
	state := in.State
	in.SpawnID = w.in.SpawnID
	in.Key = fmt.Sprintf("%s/%s/%d", contract.SpawnWorkflowID(w.in.SpawnID), workflow.GetInfo(ctx).WorkflowExecution.RunID, w.transitions)
	var res activities.RecordSpawnStateResult
	if err := workflow.ExecuteActivity(ctx, a.RecordSpawnState, in).Get(ctx, &res); err != nil {
		return false, err
	}
	if !res.Applied {
		return false, nil
	}
	w.state = state
	if !w.live() {
		w.stopLiveness()
	}
	return true, nil
}

// cloud reports whether the spawn is a cloud machine daestro manages.
func (w *spawnImpl) cloud() bool { return w.in.Kind == domain.SpawnKindCloud }

// continueAsNew starts a fresh run with the current state once every signal
// already delivered is handled: a signal left in a channel would be lost.
func (w *spawnImpl) continueAsNew(ctx workflow.Context) error {
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return err
	}
	for pending := true; pending; {
		pending = false
		var term contract.TerminateSignal
		for w.terminates.ReceiveAsync(&term) {
			pending = true
			if err := w.onTerminate(ctx, term); err != nil {
				return err
			}
		}
		var alloc contract.AllocationsChangedSignal
		for w.allocs.ReceiveAsync(&alloc) {
			pending = true
			if err := w.onAllocations(ctx, alloc); err != nil {
				return err
			}
		}
		var ping contract.PingSignal
		for w.pings.ReceiveAsync(&ping) {
			pending = true
			if err := w.onPing(ctx, ping); err != nil {
				return err
			}
		}
	}
	if domain.SpawnStateIsFinal(w.state) {
		return nil
	}
	next := w.in
	next.State, next.Allocations = w.state, w.allocations
	next.MachineCreated, next.MaxIdleSeconds = w.in.MachineCreated, w.in.MaxIdleSeconds
	return workflow.NewContinueAsNewError(ctx, SpawnWorkflow, next)
}

// plural picks the singular or plural noun for n.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
