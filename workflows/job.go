package workflows

import (
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"daestro/activities"
	"daestro/internal/agentapi"
	"daestro/internal/contract"
	"daestro/internal/domain"
	"daestro/internal/store"
)

// Activity timeouts of a job run. The pull allowance keeps image pulls from
// eating the execution timeout (the agent enforces the timeout precisely).
const (
	pullAllowance = 15 * time.Minute
	// noTimeoutRunLimit is "indefinite" for a job without an execution
	// timeout: Temporal wants a bound, the product promises none. A dead
	// agent is noticed by the heartbeat timeout, not by this.
	noTimeoutRunLimit  = 10 * 365 * 24 * time.Hour
	agentPickupTimeout = 10 * time.Minute
	agentAttempts      = 20
	// runHeartbeatTimeout is how soon a dead agent's attempt is given up,
	// so that the restarted agent takes its runs back within seconds (the
	// retry follows half a second later). An attempt it ends while the agent is
	// merely cut off costs nothing: the agent leaves the container running
	// and the next attempt re-attaches. The SDK sends the agent's heartbeats
	// at most every 0.8 × this, one gateway call per running job.
	runHeartbeatTimeout = 6 * time.Second
	// rowWait bounds how long a workflow waits for its job's rows: far
	// longer than a submission's transaction (one Temporal call), which
	// commits or rolls back well within it.
	rowWait = 5 * time.Minute
	rowPoll = 5 * time.Second
	// dependencyPoll is how often a job waiting for others looks again
	// without being told (a dependency's signal is the usual wake-up).
	dependencyPoll = 5 * time.Minute
)

// JobWorkflow is one run of a job: wait for schedule_at, queue as runnable
// until the dispatcher assigns a spawn, run on that spawn's agent, record the
// outcome and give the capacity back. Cancel works in every phase.
func JobWorkflow(ctx workflow.Context, in contract.JobWorkflowInput) (contract.JobWorkflowResult, error) {
	j := &jobRun{in: in, state: domain.JobSubmitted, operatorCancel: ctx.Done()}
	if !in.RetryAt.IsZero() {
		j.state = domain.JobPending // the attempt before wrote this run pending
	}
	if err := j.setup(ctx); err != nil {
		return contract.JobWorkflowResult{}, err
	}
	// The job runs on a context that an operator's cancellation of the
	// workflow (Temporal's Web UI, `temporal workflow cancel`) does not cut:
	// that cancellation is one more way to cancel the job, watched like the
	// API's signal, so the job still records its end in Postgres, releases
	// its capacity and stops its container.
	work, _ := workflow.NewDisconnectedContext(ctx)
	return j.run(work)
}

// jobRun is the state of one JobWorkflow run.
type jobRun struct {
	in        contract.JobWorkflowInput
	state     domain.JobState
	spawnID   string
	cancelled bool
	cancelCh  workflow.ReceiveChannel
	assignCh  workflow.ReceiveChannel
	// operatorCancel is closed when the workflow itself is cancelled;
	// operatorCancelled stops watching it once seen (a closed channel
	// would fire every select).
	operatorCancel    workflow.ReceiveChannel
	operatorCancelled bool
	// recovered says, in the final note, that the outcome was read from the
	// container on its engine after the agent was lost.
	recovered bool
	// info are the run's facts once loaded: its attempt and retry strategy.
	info *domain.JobRunFacts
	// interruptCh carries JobInterruptedSignal; interrupted is its note
	// once one for this run and spawn arrived.
	interruptCh workflow.ReceiveChannel
	interrupted string
}

// onCancel adds both ways a job is cancelled to sel — the API's signal and
// an operator's cancellation of the workflow — calling then for each.
func (j *jobRun) onCancel(ctx workflow.Context, sel workflow.Selector, then func(by string)) {
	sel.AddReceive(j.cancelCh, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil); then("cancel requested") })
	if !j.operatorCancelled {
		sel.AddReceive(j.operatorCancel, func(workflow.ReceiveChannel, bool) {
			j.operatorCancelled = true
			then("workflow cancelled in Temporal")
		})
	}
}

func (j *jobRun) setup(ctx workflow.Context) error {
	j.cancelCh = workflow.GetSignalChannel(ctx, contract.SignalJobCancel)
	j.assignCh = workflow.GetSignalChannel(ctx, contract.SignalJobAssigned)
	j.interruptCh = workflow.GetSignalChannel(ctx, contract.SignalJobInterrupted)
	return workflow.SetQueryHandler(ctx, contract.QueryJobState, func() (domain.JobState, error) { return j.state, nil })
}

// localStep runs a control-plane step (a database write, a signal) as a local
// activity: it runs inside the workflow task and costs one history event
// instead of a scheduled/started/completed triple and a workflow task of
// its own — the difference between ~56 and ~24 events per job. Retried
// until the database answers.
func localStep(ctx workflow.Context) workflow.Context {
	return workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute},
	})
}

// record writes a state change through an activity and mirrors it in the
// run's search attribute.
func (j *jobRun) record(ctx workflow.Context, state domain.JobState, reason string, fields store.RunFields) error {
	err := workflow.ExecuteLocalActivity(localStep(ctx), a.SetJobRunState, activities.SetJobRunStateInput{
		RunID: j.in.RunID, State: state, Reason: reason, Fields: fields,
	}).Get(ctx, nil)
	if err != nil {
		return err
	}
	j.state = state
	return workflow.UpsertTypedSearchAttributes(ctx, temporal.NewSearchAttributeKeyKeyword(contract.SearchAttrJobState).ValueSet(string(state)))
}

func (j *jobRun) finish(ctx workflow.Context, state domain.JobState, note string, fields store.RunFields) (contract.JobWorkflowResult, error) {
	if j.recovered {
		note += " (the compute spawn's agent was lost: daestro followed the container on its engine to its end)"
	}
	if reason := runReason(state, fields); reason != "" {
		fields.Reason = &reason
	}
	if j.retries(ctx, state, fields) {
		return j.retry(ctx, state, note, fields)
	}
	fields.SystemNote = &note
	// The outcome and the capacity must be recorded even when the workflow
	// was cancelled from outside.
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	if err := j.record(ctx, state, note, fields); err != nil {
		return contract.JobWorkflowResult{}, err
	}
	if err := workflow.ExecuteLocalActivity(localStep(ctx), a.ReleaseRun, activities.ReleaseRunInput{
		RunID: j.in.RunID, ProjectID: j.in.ProjectID,
	}).Get(ctx, nil); err != nil {
		return contract.JobWorkflowResult{}, err
	}
	if workflow.GetVersion(ctx, "notify-dependents", workflow.DefaultVersion, 1) == 1 {
		if err := workflow.ExecuteLocalActivity(localStep(ctx), a.NotifyDependents, activities.JobDependenciesInput{JobID: j.in.JobID}).Get(ctx, nil); err != nil {
			return contract.JobWorkflowResult{}, err
		}
	}
	return contract.JobWorkflowResult{State: state, SystemNote: note}, nil
}

func (j *jobRun) run(ctx workflow.Context) (contract.JobWorkflowResult, error) {
	// The project, queue and first state search attributes are set when the
	// API starts the workflow; the workflow keeps the state current.
	info, found, err := j.load(ctx)
	if err != nil || !found {
		return contract.JobWorkflowResult{SystemNote: fmt.Sprintf("job run %s was never saved: nothing ran", j.in.RunID)}, err
	}
	j.info = &info

	// Phase 0, for a retry: the backoff before this attempt, pending (the
	// attempt before recorded that, with the time it ends).
	if wait := j.in.RetryAt.Sub(workflow.Now(ctx)); wait > 0 {
		if !j.sleepUnlessCancelled(ctx, wait) {
			return j.finish(ctx, domain.JobCancelled, "cancelled while waiting to retry", store.RunFields{})
		}
	}

	// Phase 1: the jobs it depends on, then schedule_at, a durable timer
	// (a past time runs now).
	if info.Dependencies > 0 && workflow.GetVersion(ctx, "dependencies", workflow.DefaultVersion, 1) == 1 {
		if res, ended, err := j.waitForDependencies(ctx); ended {
			return res, err
		}
	}
	if info.ScheduleAt != nil {
		if wait := info.ScheduleAt.Sub(workflow.Now(ctx)); wait > 0 {
			if err := j.record(ctx, domain.JobPending, "scheduled for "+info.ScheduleAt.UTC().Format(time.RFC3339), store.RunFields{}); err != nil {
				return contract.JobWorkflowResult{}, err
			}
			if !j.sleepUnlessCancelled(ctx, wait) {
				return j.finish(ctx, domain.JobCancelled, "cancelled before its scheduled time", store.RunFields{})
			}
		}
	}

	// Phase 2: runnable until the dispatcher assigns a spawn.
	if err := j.record(ctx, domain.JobRunnable, "waiting for capacity in queue "+info.QueueName, store.RunFields{}); err != nil {
		return contract.JobWorkflowResult{}, err
	}
	if err := workflow.ExecuteLocalActivity(localStep(ctx), a.WakeDispatcher, activities.WakeDispatcherInput{ProjectID: j.in.ProjectID}).Get(ctx, nil); err != nil {
		return contract.JobWorkflowResult{}, err
	}
	sel := workflow.NewSelector(ctx)
	sel.AddReceive(j.assignCh, func(c workflow.ReceiveChannel, _ bool) {
		var s contract.JobAssignedSignal
		c.Receive(ctx, &s)
		j.spawnID = s.SpawnID
	})
	j.onCancel(ctx, sel, func(string) { j.cancelled = true })
	sel.Select(ctx)
	if j.cancelled {
		// An assignment may race the cancel: ReleaseRun frees whatever was allocated.
		return j.finish(ctx, domain.JobCancelled, "cancelled while queued", store.RunFields{})
	}

	// Phase 3: start the container on the assigned spawn's agent, record
	// `running`, then wait for its exit.
	if err := j.record(ctx, domain.JobStarting, "assigned to compute spawn "+j.spawnID, store.RunFields{SpawnID: &j.spawnID}); err != nil {
		return contract.JobWorkflowResult{}, err
	}
	limit := noTimeoutRunLimit
	if info.TimeoutSeconds > 0 {
		limit = time.Duration(info.TimeoutSeconds)*time.Second + pullAllowance
	}
	agentCtx, cancelAgent := workflow.WithCancel(ctx)
	defer cancelAgent()
	var started agentapi.StartJobResult
	startErr := j.onAgent(ctx, cancelAgent, workflow.ExecuteActivity(j.agentOptions(agentCtx, pullAllowance), agentapi.StartJobActivity,
		agentapi.RunJobInput{RunID: j.in.RunID, JobID: j.in.JobID}), &started)
	fields := store.RunFields{}
	if startErr == nil {
		fields = store.RunFields{ContainerID: &started.ContainerID, ImageDigest: &started.ImageDigest, StartedAt: &started.StartedAt}
	}
	switch {
	case j.interrupted != "":
		return j.finishInterrupted(ctx, fields)
	case j.cancelled:
		// The cancel came while the agent started the container, and the
		// start may have got there anyway (its answer then is lost to the
		// cancellation): the wait is told to stop whatever started.
	case startErr != nil && agentLost(startErr):
		// Nothing started: the spawn's agent is gone.
		fields.Reason = ptr(domain.ReasonInterrupted)
		return j.finish(ctx, domain.JobError, "interrupted: "+runErrorNote(startErr, false), fields)
	case startErr != nil:
		return j.finish(ctx, domain.JobError, runErrorNote(startErr, false), fields)
	default:
		if err := j.record(ctx, domain.JobRunning, "container started on compute spawn "+j.spawnID, fields); err != nil {
			return contract.JobWorkflowResult{}, err
		}
	}
	waitCtx := agentCtx
	if j.cancelled {
		waitCtx, _ = workflow.NewDisconnectedContext(ctx)
	}
	var res agentapi.RunJobResult
	runErr := j.onAgent(ctx, cancelAgent, workflow.ExecuteActivity(j.agentOptions(waitCtx, limit), agentapi.WaitJobActivity,
		agentapi.WaitJobInput{RunID: j.in.RunID, JobID: j.in.JobID, ContainerID: started.ContainerID, Stop: j.cancelled}), &res)
	cancelAgent()
	lostNote := ""
	if runErr != nil && !j.cancelled && started.ContainerID != "" && agentLost(runErr) &&
		workflow.GetVersion(ctx, "recover-lost-run", workflow.DefaultVersion, 1) == 1 {
		res, lostNote, runErr = j.recoverLostRun(ctx, info, started, limit, runErr)
	}

	fields.OOMKilled = &res.OOMKilled
	if res.ImageDigest != "" {
		fields.ImageDigest = &res.ImageDigest
	}
	if !res.FinishedAt.IsZero() {
		fields.FinishedAt = &res.FinishedAt
	}
	switch {
	case j.interrupted != "":
		return j.finishInterrupted(ctx, fields)
	case (j.cancelled || res.Cancelled) && started.ContainerID == "" && res.ContainerID == "":
		return j.finish(ctx, domain.JobCancelled, "cancelled before the container started", fields)
	case j.cancelled || res.Cancelled:
		return j.finish(ctx, domain.JobCancelled, "cancelled while running", fields)
	case runErr != nil && agentLost(runErr):
		// The job did nothing wrong: its machine or agent went away.
		fields.Reason = ptr(domain.ReasonInterrupted)
		return j.finish(ctx, domain.JobError, "interrupted: "+runErrorNote(runErr, true)+lostNote, fields)
	case runErr != nil:
		return j.finish(ctx, domain.JobError, runErrorNote(runErr, true)+lostNote, fields)
	}
	fields.ExitCode = &res.ExitCode
	switch {
	case res.TimedOut:
		note := res.SystemNote
		if note == "" {
			note = fmt.Sprintf("exceeded execution timeout of %ds", info.TimeoutSeconds)
		}
		return j.finish(ctx, domain.JobTimeout, note, fields)
	case res.OOMKilled:
		// The agent knows the limit that held (an oversize quota is capped
		// to the spawn, a job without one has the spawn's memory).
		note := res.SystemNote
		if note == "" {
			note = fmt.Sprintf("killed: out of memory at %d MB", info.MemoryMB)
		}
		return j.finish(ctx, domain.JobFailed, note, fields)
	case res.ExitCode != 0:
		note := res.SystemNote
		if note == "" {
			note = fmt.Sprintf("exited with code %d", res.ExitCode)
		}
		return j.finish(ctx, domain.JobFailed, note, fields)
	default:
		return j.finish(ctx, domain.JobCompleted, "exited with code 0", fields)
	}
}

// waitForDependencies holds the job pending until the jobs it depends on
// let it run ("waiting for job X (running)"), and ends it cancelled when
// one it needs to succeed ended otherwise ("dependency X failed"). ended
// says the job ended here.
func (j *jobRun) waitForDependencies(ctx workflow.Context) (res contract.JobWorkflowResult, ended bool, err error) {
	doneCh := workflow.GetSignalChannel(ctx, contract.SignalDependencyDone)
	shown := ""
	for {
		var v domain.DependencyVerdict
		if err := workflow.ExecuteLocalActivity(localStep(ctx), a.CheckDependencies, activities.JobDependenciesInput{JobID: j.in.JobID}).Get(ctx, &v); err != nil {
			return res, true, err
		}
		switch {
		case v.Failed != nil:
			res, err := j.finish(ctx, domain.JobCancelled, v.Failed.FailedNote(), store.RunFields{})
			return res, true, err
		case v.Wait == nil:
			return res, false, nil
		}
		if v.Wait.JobID != shown {
			if err := j.record(ctx, domain.JobPending, v.Wait.WaitSentence(),
				store.RunFields{Pending: &domain.PendingReason{Reason: domain.PendingDependency, Detail: v.Wait.JobID}}); err != nil {
				return res, true, err
			}
			shown = v.Wait.JobID
		}
		timerCtx, stopTimer := workflow.WithCancel(ctx)
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(doneCh, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil) })
		sel.AddFuture(workflow.NewTimer(timerCtx, dependencyPoll), func(workflow.Future) {})
		j.onCancel(ctx, sel, func(string) { j.cancelled = true })
		sel.Select(ctx)
		stopTimer()
		if j.cancelled {
			res, err := j.finish(ctx, domain.JobCancelled, "cancelled while waiting for its dependencies", store.RunFields{})
			return res, true, err
		}
		for doneCh.ReceiveAsync(nil) {
			// One look covers every dependency that ended meanwhile.
		}
	}
}

// sleepUnlessCancelled waits d on a durable timer and reports whether it
// fired; a cancel ends the wait first (and marks the run cancelled).
func (j *jobRun) sleepUnlessCancelled(ctx workflow.Context, d time.Duration) bool {
	timerCtx, stopTimer := workflow.WithCancel(ctx)
	defer stopTimer()
	fired := false
	sel := workflow.NewSelector(ctx)
	sel.AddFuture(workflow.NewTimer(timerCtx, d), func(f workflow.Future) { fired = f.Get(ctx, nil) == nil })
	j.onCancel(ctx, sel, func(string) { j.cancelled = true })
	sel.Select(ctx)
	return fired
}

// runReason is how a run that did not complete ended, as retry rules
// match it: the reason an error already carries (interrupted), else one
// from its state.
func runReason(state domain.JobState, f store.RunFields) string {
	switch {
	case f.Reason != nil:
		return *f.Reason
	case state == domain.JobTimeout:
		return domain.ReasonTimeout
	case state == domain.JobFailed && f.OOMKilled != nil && *f.OOMKilled:
		return domain.ReasonOOM
	case state == domain.JobError:
		return domain.ReasonError
	}
	return ""
}

// retries reports whether the job's retry strategy gives a run that ended
// in state another attempt. Completed and cancelled runs never retry.
func (j *jobRun) retries(ctx workflow.Context, state domain.JobState, f store.RunFields) bool {
	if j.info == nil || j.cancelled || (state != domain.JobFailed && state != domain.JobTimeout && state != domain.JobError) {
		return false
	}
	if workflow.GetVersion(ctx, "retry-strategy", workflow.DefaultVersion, 1) != 1 {
		return false
	}
	o := domain.RunOutcome{ExitCode: f.ExitCode}
	if f.Reason != nil {
		o.Reason = *f.Reason
	}
	return j.info.RetryStrategy.Retries(j.info.Attempt, o)
}

// retry ends this run and hands the job to its next attempt: one write
// records this run's end and the next run, pending until the backoff ends
// (the job is never seen final in between); the allocation is released at
// once; and the workflow continues as new with the next run, so each
// attempt has a history of its own.
func (j *jobRun) retry(ctx workflow.Context, state domain.JobState, note string, fields store.RunFields) (contract.JobWorkflowResult, error) {
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	next := j.info.Attempt + 1
	retryAt := workflow.Now(ctx).Add(domain.RetryBackoff(next))
	note += fmt.Sprintf("; retrying as attempt %d of %d", next, j.info.RetryStrategy.Attempts)
	fields.SystemNote = &note
	var nextRun string
	if err := workflow.ExecuteLocalActivity(localStep(ctx), a.RetryJobRun, activities.RetryJobRunInput{
		RunID: j.in.RunID, State: state, Reason: note, Fields: fields, Attempts: j.info.RetryStrategy.Attempts, RetryAt: retryAt,
	}).Get(ctx, &nextRun); err != nil {
		return contract.JobWorkflowResult{}, err
	}
	if err := workflow.ExecuteLocalActivity(localStep(ctx), a.ReleaseRun, activities.ReleaseRunInput{
		RunID: j.in.RunID, ProjectID: j.in.ProjectID,
	}).Get(ctx, nil); err != nil {
		return contract.JobWorkflowResult{}, err
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, temporal.NewSearchAttributeKeyKeyword(contract.SearchAttrJobState).ValueSet(string(domain.JobPending))); err != nil {
		return contract.JobWorkflowResult{}, err
	}
	return contract.JobWorkflowResult{}, workflow.NewContinueAsNewError(ctx, JobWorkflow,
		contract.JobWorkflowInput{JobID: j.in.JobID, RunID: nextRun, ProjectID: j.in.ProjectID, RetryAt: retryAt})
}

// load reads the run's facts. The API starts the workflow inside the
// transaction that writes the rows, so the rows may be a moment behind; a
// submission that crashed before its commit never writes them, and the
// workflow then ends (found false) after rowWait instead of looking forever.
func (j *jobRun) load(ctx workflow.Context) (domain.JobRunFacts, bool, error) {
	var info domain.JobRunFacts
	deadline := workflow.Now(ctx).Add(rowWait)
	for {
		err := workflow.ExecuteLocalActivity(localStep(ctx), a.LoadJobRun, activities.LoadJobRunInput{RunID: j.in.RunID}).Get(ctx, &info)
		var appErr *temporal.ApplicationError
		if !errors.As(err, &appErr) || appErr.Type() != contract.ErrTypeJobRunNotFound {
			return info, err == nil, err
		}
		if !workflow.Now(ctx).Before(deadline) {
			workflow.GetLogger(ctx).Warn("the job run's rows never appeared: ending", "run_id", j.in.RunID)
			return info, false, nil
		}
		if err := workflow.Sleep(ctx, rowPoll); err != nil {
			return info, false, err
		}
	}
}

// agentOptions are the options of an activity on the spawn's agent that may
// run for limit. A retry after an agent restart finds the same container.
func (j *jobRun) agentOptions(ctx workflow.Context, limit time.Duration) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:              contract.SpawnTaskQueue(j.spawnID),
		ScheduleToStartTimeout: agentPickupTimeout,
		StartToCloseTimeout:    limit,
		HeartbeatTimeout:       runHeartbeatTimeout,
		WaitForCancellation:    true,
		// Attempts end by an agent restart or a lost heartbeat, never by
		// the server being away (the agent retries its spec fetch inside
		// the attempt): enough of them to outlast a few agent restarts.
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: 500 * time.Millisecond, MaximumInterval: time.Minute, MaximumAttempts: agentAttempts,
			NonRetryableErrorTypes: []string{agentapi.ErrTypeInvalidJobSpec, agentapi.ErrTypeImage, agentapi.ErrTypeContainerGone},
		},
	})
}

// onAgent waits for an agent activity's result while taking the user's
// cancel: the first cancels the activity (the agent stops the container)
// and records `cancelling`.
func (j *jobRun) onAgent(ctx workflow.Context, cancel workflow.CancelFunc, f workflow.Future, out any) error {
	var err error
	for done := false; !done; {
		sel := workflow.NewSelector(ctx)
		sel.AddFuture(f, func(f workflow.Future) { err = f.Get(ctx, out); done = true })
		j.onCancel(ctx, sel, func(by string) {
			if j.cancelled || j.interrupted != "" {
				return
			}
			j.cancelled = true
			cancel()
			_ = j.record(ctx, domain.JobCancelling, by+": stopping the container (SIGTERM, then SIGKILL)", store.RunFields{})
		})
		sel.AddReceive(j.interruptCh, func(c workflow.ReceiveChannel, _ bool) {
			var sig contract.JobInterruptedSignal
			c.Receive(ctx, &sig)
			if sig.RunID != j.in.RunID || sig.SpawnID != j.spawnID || j.cancelled || j.interrupted != "" {
				return // another run's, or too late to matter
			}
			j.interrupted = sig.Note
			cancel() // the agent is gone: nothing answers for the activity
		})
		sel.Select(ctx)
	}
	return err
}

func ptr[T any](v T) *T { return &v }

// finishInterrupted ends a run whose spawn went away under it.
func (j *jobRun) finishInterrupted(ctx workflow.Context, fields store.RunFields) (contract.JobWorkflowResult, error) {
	fields.Reason = ptr(domain.ReasonInterrupted)
	return j.finish(ctx, domain.JobError, "interrupted: "+j.interrupted, fields)
}

// agentLost reports whether an agent activity ended because no agent
// answered: none picked it up, or its heartbeats stopped, through every
// attempt.
func agentLost(err error) bool {
	var timeoutErr *temporal.TimeoutError
	return errors.As(err, &timeoutErr) &&
		(timeoutErr.TimeoutType() == enumspb.TIMEOUT_TYPE_SCHEDULE_TO_START || timeoutErr.TimeoutType() == enumspb.TIMEOUT_TYPE_HEARTBEAT)
}

// recoverLostRun has the control plane follow a run whose agent was lost to
// its real end, where it reaches the spawn's Docker engine itself
// (localdocker): the last logs are stored and the container removed. It
// returns the run's result and a nil error when the outcome became known;
// otherwise lost, with a note on why it stays unknown.
func (j *jobRun) recoverLostRun(ctx workflow.Context, info domain.JobRunFacts, started agentapi.StartJobResult, limit time.Duration, lost error) (agentapi.RunJobResult, string, error) {
	recCtx, cancelRec := workflow.WithCancel(ctx)
	defer cancelRec()
	opts := workflow.WithActivityOptions(recCtx, workflow.ActivityOptions{
		StartToCloseTimeout: limit,
		HeartbeatTimeout:    30 * time.Second,
		WaitForCancellation: true,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute, MaximumAttempts: 5},
	})
	var rec activities.RecoverLostRunResult
	err := j.onAgent(ctx, cancelRec, workflow.ExecuteActivity(opts, a.RecoverLostRun, activities.RecoverLostRunInput{
		ProjectID: j.in.ProjectID, SpawnID: j.spawnID, RunID: j.in.RunID, JobID: j.in.JobID, ContainerID: started.ContainerID,
		Image: started.ImageDigest, TimeoutSeconds: info.TimeoutSeconds, MemoryMB: info.MemoryMB,
	}), &rec)
	switch {
	case err != nil:
		return agentapi.RunJobResult{}, " (reading it from the spawn's engine failed: " + err.Error() + ")", lost
	case !rec.Known:
		return agentapi.RunJobResult{}, " (" + rec.Why + ")", lost
	}
	j.recovered = true
	return rec.Result, "", nil
}

// runErrorNote says why the system, not the job, failed the run; started
// says the container had started, so it may have finished on its own.
func runErrorNote(err error, started bool) string {
	var timeoutErr *temporal.TimeoutError
	var appErr *temporal.ApplicationError
	switch {
	case started && errors.As(err, &timeoutErr) &&
		(timeoutErr.TimeoutType() == enumspb.TIMEOUT_TYPE_SCHEDULE_TO_START || timeoutErr.TimeoutType() == enumspb.TIMEOUT_TYPE_HEARTBEAT):
		// The agent went away while the container ran and no agent took
		// the run back: what the container did is not known here.
		return "the compute spawn's agent was lost while the job ran, and no agent took the run back within " + agentPickupTimeout.String() +
			": the container's outcome is unknown (an agent that returns removes it)"
	case errors.As(err, &timeoutErr) && timeoutErr.TimeoutType() == enumspb.TIMEOUT_TYPE_SCHEDULE_TO_START:
		return "the compute spawn's agent did not pick up the job within " + agentPickupTimeout.String() + ": is it running?"
	case errors.As(err, &timeoutErr) && timeoutErr.TimeoutType() == enumspb.TIMEOUT_TYPE_HEARTBEAT:
		return "lost contact with the compute spawn's agent while the job ran"
	case errors.As(err, &timeoutErr):
		return "the run exceeded its time limit on the agent"
	case errors.As(err, &appErr):
		return appErr.Message()
	default:
		return err.Error()
	}
}
