package executor

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
)

// run is one Run call's state once the container exists.
type run struct {
	e        *Executor
	spec     Spec
	sink     Sink
	progress func(Cursor)
	id       string // container ID
	digest   string
	from     Cursor
}

// stop reasons: the executor's own decisions, which the exit code cannot tell
// from a crash (a stopped container exits 143 or 137 like a crashed one).
const (
	reasonTimeout = "timeout"
	reasonCancel  = "cancel"
)

// execute starts the container if it is only created, follows it to its exit
// and collects the result. Goroutines: a log reader and a log shipper
// (joined by a bounded channel, so a slow Sink holds the reader back rather
// than filling memory) and a metrics sampler.
func (r *run) execute(ctx context.Context, c *container.InspectResponse) (Result, error) {
	e := r.e
	// Cleanup calls outlive ctx: a cancelled run is still stopped, awaited,
	// flushed and removed.
	cleanup := context.WithoutCancel(ctx)
	var bg sync.WaitGroup
	defer bg.Wait()

	waitCtx, cancelWait := context.WithCancel(cleanup)
	var (
		waitC     <-chan container.WaitResponse
		waitErr   <-chan error
		startedAt = engineTime(c.State.StartedAt)
		exited    = make(chan struct{})
	)
	defer func() {
		// The client's wait goroutine sends its answer on an unbuffered
		// channel: take it, or that goroutine would block forever.
		cancelWait()
		if waitC != nil {
			go func(c <-chan container.WaitResponse, e <-chan error) {
				select {
				case <-c:
				case <-e:
				}
			}(waitC, waitErr)
		}
	}()
	switch {
	case c.State.Status == stateCreated:
		if ctx.Err() != nil {
			if !detached(ctx) {
				_ = e.remove(cleanup, r.id)
			}
			return e.beforeStart(ctx, ctx.Err())
		}
		// Wait before start, as the docker CLI does: ContainerWait returns
		// once the engine registered the wait, so even an instant exit is seen.
		waitC, waitErr = e.docker.ContainerWait(waitCtx, r.id, container.WaitConditionNextExit)
		if res, started, err := r.start(ctx, cleanup); !started {
			return res, err
		}
		startedAt = time.Now()
	case isRunning(c.State):
		// not-running, not next-exit: the container may exit between the
		// inspect and this call, and next-exit would then wait forever.
		waitC, waitErr = e.docker.ContainerWait(waitCtx, r.id, container.WaitConditionNotRunning)
		if startedAt.IsZero() {
			startedAt = time.Now()
		}
	default:
		close(exited) // exited before this attempt: only collect it
	}

	shipCtx, stopShipping := context.WithCancel(cleanup)
	defer stopShipping()
	done := make(chan struct{})
	defer close(done)
	go r.boundShipping(ctx, done, stopShipping)

	lines := make(chan LogLine, lineBuffer)
	readErr, shipErr := make(chan error, 1), make(chan error, 1)
	go func() { readErr <- r.readLogs(shipCtx, exited, lines) }()
	go func() { shipErr <- r.shipLogs(shipCtx, lines) }()
	metricsCtx, stopMetrics := context.WithCancel(shipCtx)
	defer stopMetrics()
	metricsDone := make(chan struct{})
	if isClosed(exited) {
		close(metricsDone)
	} else {
		go func() { defer close(metricsDone); r.sampleMetrics(metricsCtx, shipCtx) }()
	}
	// quit stops the goroutines without stopping or removing the container.
	quit := func(err error) (Result, error) {
		stopShipping()
		<-readErr
		<-shipErr
		<-metricsDone
		return Result{}, err
	}

	reason := ""
	var lastWait container.WaitResponse
	if !isClosed(exited) {
		var timeout <-chan time.Time
		if r.spec.Timeout > 0 {
			t := time.NewTimer(max(0, r.spec.Timeout-time.Since(startedAt)))
			defer t.Stop()
			timeout = t.C
		}
		stopFor := func(why string) {
			if reason != "" {
				return
			}
			reason = why
			bg.Go(func() { e.stop(cleanup, r.id, r.spec.StopGrace) })
		}
		ctxDone := ctx.Done()
	wait:
		for {
			select {
			case lastWait = <-waitC:
				break wait
			case err := <-waitErr:
				if cerrdefs.IsNotFound(err) {
					return quit(fmt.Errorf("run %s: %w while it ran: %v", r.spec.RunID, ErrContainerGone, err))
				}
				// The wait's HTTP stream broke (engine restart, proxy):
				// ask again; not-running answers at once if it already exited.
				e.log.Warn("waiting for the container failed, waiting again", "run_id", r.spec.RunID, "error", err)
				time.Sleep(500 * time.Millisecond)
				waitC, waitErr = e.docker.ContainerWait(waitCtx, r.id, container.WaitConditionNotRunning)
			case <-timeout:
				stopFor(reasonTimeout)
			case <-ctxDone:
				ctxDone = nil
				if detached(ctx) {
					return quit(fmt.Errorf("run %s: %w", r.spec.RunID, ErrDetach))
				}
				stopFor(reasonCancel)
			}
		}
		close(exited)
	}

	res := r.collect(cleanup, reason, lastWait)
	stopMetrics()
	<-metricsDone
	if err := errors.Join(<-readErr, <-shipErr); err != nil {
		if detached(ctx) {
			return Result{}, fmt.Errorf("run %s: %w (after the container exited)", r.spec.RunID, ErrDetach)
		}
		return res, fmt.Errorf("run %s: %w, so container %.12s is kept for a retry to ship the rest: %w",
			r.spec.RunID, ErrLogsNotShipped, r.id, err)
	}
	if err := e.remove(cleanup, r.id); err != nil {
		// Not the run's failure: its result and logs are safe. ReapDangling
		// removes the leftover.
		e.log.Warn("remove finished container", "run_id", r.spec.RunID, "error", err)
	}
	return res, nil
}

// start copies the script in and starts the created container. When it does
// not start, it returns Run's answer. An executable missing from the image is
// not such a case: with an init process it fails inside the container, with
// exit code 127 and the reason in the logs, like any other job failure.
func (r *run) start(ctx, cleanup context.Context) (Result, bool, error) {
	e := r.e
	err := func() error {
		if r.spec.Script != "" {
			if err := e.copyScript(ctx, r.id, r.spec.Script); err != nil {
				return err
			}
		}
		return e.docker.ContainerStart(ctx, r.id, container.StartOptions{})
	}()
	if err == nil {
		return Result{}, true, nil
	}
	// Removed so that a retry starts afresh instead of re-attaching to a
	// container that never ran.
	if rmErr := e.remove(cleanup, r.id); rmErr != nil {
		e.log.Warn("remove container that did not start", "run_id", r.spec.RunID, "error", rmErr)
	}
	if ctx.Err() != nil {
		res, err := e.beforeStart(ctx, err)
		return res, false, err
	}
	return Result{}, false, fmt.Errorf("the container of run %s could not start: %w", r.spec.RunID, err)
}

// collect inspects the exited container. If the engine does not answer, the
// wait's status code is the best remaining answer.
func (r *run) collect(ctx context.Context, reason string, wait container.WaitResponse) Result {
	res := Result{
		ContainerID: r.id,
		ImageDigest: r.digest,
		ExitCode:    int(wait.StatusCode),
		TimedOut:    reason == reasonTimeout,
		Cancelled:   reason == reasonCancel,
	}
	var info container.InspectResponse
	var err error
	for attempt := 1; ; attempt++ {
		if info, err = r.e.docker.ContainerInspect(ctx, r.id); (err == nil && info.State != nil) || attempt == 3 {
			break
		}
		time.Sleep(time.Duration(attempt) * 200 * time.Millisecond)
	}
	if err != nil || info.State == nil {
		r.e.log.Warn("inspect exited container failed, using the wait status", "run_id", r.spec.RunID, "error", err)
	} else {
		res.ExitCode = info.State.ExitCode
		res.OOMKilled = info.State.OOMKilled
		res.StartedAt = engineTime(info.State.StartedAt)
		res.FinishedAt = engineTime(info.State.FinishedAt)
		if res.FinishedAt.Before(res.StartedAt) {
			// The engine records a fast container's exit before it gets
			// round to recording its start (seen with a plain echo).
			res.StartedAt = res.FinishedAt
		}
	}
	if reason == "" && r.spec.Timeout > 0 && !res.StartedAt.IsZero() && res.FinishedAt.Sub(res.StartedAt) >= r.spec.Timeout &&
		(res.ExitCode == 128+9 || res.ExitCode == 128+15) {
		// Collected by a retry after an agent restart: the attempt that
		// stopped it is gone, but a stop at the timeout is what this was.
		res.TimedOut = true
	}
	res.SystemNote = systemNote(res, r.spec)
	return res
}

// boundShipping ends shipping when ctx ends: at once on a detach, otherwise
// after StopGrace (the container's own stop) plus FinalFlushTimeout, so a
// cancelled run's last lines still reach the server but a dead server cannot
// hold Run forever.
func (r *run) boundShipping(ctx context.Context, done <-chan struct{}, stopShipping context.CancelFunc) {
	select {
	case <-done:
		return
	case <-ctx.Done():
	}
	if detached(ctx) {
		stopShipping()
		return
	}
	t := time.NewTimer(r.spec.StopGrace + r.e.opts.FinalFlushTimeout)
	defer t.Stop()
	select {
	case <-t.C:
		stopShipping()
	case <-done:
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// backoff sleeps 100 ms, 200 ms, … up to 5 s, with jitter so that many agents
// do not retry a recovering server in lockstep.
type backoff struct{ n int }

func (b *backoff) sleep(ctx context.Context) bool {
	d := min(100*time.Millisecond<<min(b.n, 6), 5*time.Second)
	d = d - d/5 + rand.N(d*2/5+1)
	b.n++
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
