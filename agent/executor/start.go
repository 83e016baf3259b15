package executor

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/docker/docker/api/types/container"
)

// Started is a run's container once it started.
type Started struct {
	// ContainerID is the run's container.
	ContainerID string
	// ImageDigest pins what runs (see Result.ImageDigest).
	ImageDigest string
	// StartedAt is the engine's start time.
	StartedAt time.Time
}

// Start is the first half of Run, for a caller that records the start before
// it follows the container (the agent's StartJob activity): it pulls the
// image, creates the run's container and starts it, and returns once the
// container started. Run with Cursor{ContainerID: …} then follows it to its
// exit. Start is idempotent by RunID like Run: an existing container is
// started when it was only created, and otherwise reported as it is (running,
// or already exited). When ctx ends before the start, Start returns an error
// and leaves no container behind (a detach, ErrDetach, leaves a created one
// for the next attempt).
func (e *Executor) Start(ctx context.Context, spec Spec) (Started, error) {
	spec = spec.withDefaults()
	if err := e.validate(ctx, spec); err != nil {
		return Started{}, err
	}
	if !e.claim(spec.RunID) {
		return Started{}, fmt.Errorf("run %s: %w; a second attempt has to wait for the first to end", spec.RunID, ErrRunBusy)
	}
	defer e.release(spec.RunID)

	c, err := e.findContainer(ctx, spec.RunID)
	if err == nil && c == nil {
		c, err = e.pullAndCreate(ctx, spec)
	}
	if err != nil {
		return Started{}, err
	}
	cleanup := context.WithoutCancel(ctx)
	if c.State.Status == stateCreated {
		if ctx.Err() != nil {
			if !detached(ctx) {
				_ = e.remove(cleanup, c.ID)
			}
			return Started{}, fmt.Errorf("run %s: stopped before the container started: %w", spec.RunID, context.Cause(ctx))
		}
		r := &run{e: e, spec: spec, id: c.ID}
		if _, started, err := r.start(ctx, cleanup); !started {
			if err == nil {
				err = fmt.Errorf("run %s: stopped before the container started: %w", spec.RunID, context.Cause(ctx))
			}
			return Started{}, err
		}
		if again, err := e.findContainer(cleanup, spec.RunID); err == nil && again != nil {
			c = again
		}
	}
	out := Started{ContainerID: c.ID, ImageDigest: e.digestOf(cleanup, c.Image, spec.Image), StartedAt: engineTime(c.State.StartedAt)}
	if out.StartedAt.IsZero() {
		out.StartedAt = time.Now()
	}
	return out, nil
}

// pullAndCreate makes the run's container where there is none: the image
// first (pulled, or the local one), then the container.
func (e *Executor) pullAndCreate(ctx context.Context, spec Spec) (*container.InspectResponse, error) {
	if err := e.ensureImage(ctx, spec); err != nil {
		return nil, err
	}
	return e.create(ctx, spec)
}

// ContainerOf returns the ID of the run's container, or "" when there is none.
func (e *Executor) ContainerOf(ctx context.Context, runID string) (string, error) {
	c, err := e.findContainer(ctx, runID)
	if err != nil || c == nil {
		return "", err
	}
	return c.ID, nil
}

// ActiveRuns lists the runs this executor is starting or following now,
// sorted: what the agent reports in its pings.
func (e *Executor) ActiveRuns() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]string, 0, len(e.active))
	for id := range e.active {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}
