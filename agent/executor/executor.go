// Package executor runs one daestro job run as a container on the local Docker
// engine: pull, create (idempotently, by run ID), start, follow and ship the
// logs and CPU/memory samples, enforce the execution timeout, honour
// cancellation, report how the container ended and remove it once its logs are
// safe on the server.
//
// The container's own json-file log on the engine is the durable spool. Log
// lines are numbered by their position in that log, so a retried Run (agent
// restart, activity retry) re-reads it from the start and continues after the
// last line the server acknowledged, without gaps or duplicates, and a Sink
// that is down only holds the reader back: nothing is lost while the container
// exists, and it is removed only after every line was acknowledged.
package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"

	"daestro/internal/agentapi"
)

// Label names on every run container. They cross a process boundary (the
// engine keeps them across agent restarts), so they never change.
const (
	// LabelRunID carries the run ID; ReapDangling finds daestro's containers by it.
	LabelRunID = "daestro.run-id"
	// LabelJobID carries the job ID, for people reading `docker ps`.
	LabelJobID = "daestro.job-id"
)

// ScriptPath is where a bash-type run's script is copied into the container.
const ScriptPath = "/daestro/script.sh"

// Defaults for the zero values of Spec and Options.
const (
	// DefaultPullTimeout is Spec.PullTimeout's default and Pull's timeout.
	DefaultPullTimeout = 10 * time.Minute
	// DefaultStopGrace is Spec.StopGrace's default, the docker CLI's.
	DefaultStopGrace = 10 * time.Second
	// DefaultMetricsInterval is Options.MetricsInterval's default.
	DefaultMetricsInterval = 5 * time.Second
	// DefaultFinalFlushTimeout is Options.FinalFlushTimeout's default.
	DefaultFinalFlushTimeout = 30 * time.Second
)

// MinMemoryMB is the smallest memory limit the engine accepts.
const MinMemoryMB = 6

// DefaultPidsLimit is the most processes a job container that is not
// privileged may have: plenty for builds and data tools, a bound for a fork bomb.
const DefaultPidsLimit = 4096

// Errors a caller tells apart with errors.Is. ErrInvalidSpec and
// ErrRegistryAuth are permanent (retrying cannot help); the rest may be
// transient.
var (
	// ErrInvalidSpec: the Spec cannot run on this host as given.
	ErrInvalidSpec = errors.New("invalid run spec")
	// ErrRegistryAuth: the registry refused the pull (wrong or missing credentials).
	ErrRegistryAuth = errors.New("registry rejected the credentials")
	// ErrImageNotFound: the registry does not have the image.
	ErrImageNotFound = errors.New("image not found")
	// ErrContainerGone: the Cursor names a container that no longer exists, so
	// the run's result cannot be collected; starting a new one would run the
	// job twice.
	ErrContainerGone = errors.New("the run's container is gone")
	// ErrLogsNotShipped: the container ended but not every log line reached the
	// Sink; the Result is valid and the container is kept, so a Run with the
	// last Cursor ships the rest and then removes it.
	ErrLogsNotShipped = errors.New("logs not fully shipped")
	// ErrSinkRejected is what a Sink wraps when retrying cannot help (the
	// server does not know the run on this spawn): Run stops shipping
	// instead of retrying until its context ends.
	ErrSinkRejected = errors.New("the sink refused the run's output")
	// ErrRunBusy: this executor is already running the same run ID.
	ErrRunBusy = errors.New("run already in progress on this agent")
	// ErrDetach is the cause to cancel Run's context with
	// (context.WithCancelCause) to leave the container running untouched, as
	// an agent crash or an agent shutdown for an upgrade would: Run then
	// returns an error wrapping ErrDetach, and a later Run with the last
	// Cursor re-attaches to the container.
	ErrDetach = errors.New("detached from the run, container left running")
)

// RegistryAuth are the credentials for a private registry.
type RegistryAuth struct {
	// ServerAddress is the registry host (and port), e.g. "ghcr.io".
	ServerAddress string
	// Username is reported in errors, never the password.
	Username string
	// Password is the password or token.
	Password string
}

// Spec is everything Run needs to execute one run. The agent fetches it from
// the server rather than through Temporal, so secrets in Env and Registry
// never enter a workflow history.
type Spec struct {
	// RunID names the container ("daestro-run-<RunID>"), which makes Run
	// idempotent; letters, digits, '_', '.', '-'.
	RunID string
	// JobID is put on a label.
	JobID string
	// Image is the image reference, e.g. "ubuntu:24.04".
	Image string
	// Registry authenticates the pull; nil pulls anonymously.
	Registry *RegistryAuth
	// Cmd replaces the image's command (docker-type jobs); empty keeps it.
	Cmd []string
	// Script is a bash-type job's script, run as `bash /daestro/script.sh`.
	// It is copied into the container before start, not bind-mounted: the
	// agent runs in a container itself, where bind sources are host paths.
	// Script and Cmd are mutually exclusive.
	Script string
	// Env is KEY=value pairs, already merged by the caller.
	Env []string
	// CPUQuotaPct caps CPU, 100 = one core; 0 = no limit. Above the host's
	// cores × 100 the run is refused.
	CPUQuotaPct int
	// MemoryMB caps memory without swap; 0 = no limit, under MinMemoryMB refused.
	MemoryMB int
	// Privileged runs the container privileged; otherwise it runs with
	// no-new-privileges and at most DefaultPidsLimit processes.
	Privileged bool
	// Timeout bounds execution from start to exit (pull time does not
	// count); 0 = none.
	Timeout time.Duration
	// PullTimeout bounds the image pull; 0 = DefaultPullTimeout.
	PullTimeout time.Duration
	// StopGrace is the time between SIGTERM and SIGKILL when the run is
	// stopped; 0 = DefaultStopGrace. The engine counts whole seconds, so it
	// is rounded up.
	StopGrace time.Duration
	// Labels are extra labels (agent ID, spawn ID); LabelRunID and LabelJobID
	// are added.
	Labels map[string]string
}

// LogLine is one line of a run's output.
type LogLine struct {
	// Seq numbers the run's lines from 1, by position in the container's log,
	// so a resent line has the same Seq and the server can upsert.
	Seq int64
	// Stream is "stdout" or "stderr".
	Stream string
	// Time is when the engine received the line (its first part).
	Time time.Time
	// Text is the line without its newline.
	Text string
	// Partial means the line was longer than MaxLineBytes: Text is one piece
	// and the line continues in the next line of the same Stream.
	Partial bool
}

// MaxLineBytes caps LogLine.Text so one endless line cannot exhaust memory.
// Changing it renumbers split lines, which a re-attach relies on: keep it.
const MaxLineBytes = 64 << 10

// Metric is one CPU/memory sample of a running container.
type Metric struct {
	// Time is when the engine took the sample.
	Time time.Time
	// CPUPct is CPU use over the last interval, 100 = one core (the scale of
	// Spec.CPUQuotaPct).
	CPUPct float64
	// MemoryBytes is memory in use without the page cache, as `docker stats`
	// shows it.
	MemoryBytes int64
}

// Sink receives a run's logs and metrics; the agent implements it over HTTP.
type Sink interface {
	// ShipLogs delivers lines in order. It must be idempotent by Seq (lines
	// are resent after a failure or a re-attach) and may fail transiently:
	// Run retries with backoff.
	ShipLogs(ctx context.Context, runID string, lines []LogLine) error
	// ShipMetrics delivers samples. Best effort: a failure keeps the samples
	// for the next try and never fails the run.
	ShipMetrics(ctx context.Context, runID string, samples []Metric) error
}

// Cursor is what the activity heartbeats so that a retried Run re-attaches to
// the container and resumes the logs where the server's acknowledgements end.
type Cursor struct {
	// ContainerID is the run's container, once created.
	ContainerID string
	// LastAckedSeq is the Seq of the last line the Sink acknowledged.
	LastAckedSeq int64
}

// Result is how a run ended. It is the agent's activity result itself
// (agentapi.RunJobResult), so it reaches the workflow without a copy.
type Result = agentapi.RunJobResult

// Options tune an Executor; the zero value is usable.
type Options struct {
	// MetricsInterval is how often a running container is sampled;
	// 0 = DefaultMetricsInterval.
	MetricsInterval time.Duration
	// FinalFlushTimeout bounds how long Run keeps shipping the last logs
	// after its context was cancelled, so a cancelled run's final lines
	// still arrive; 0 = DefaultFinalFlushTimeout.
	FinalFlushTimeout time.Duration
	// Logger receives the executor's own warnings (a failing Sink, a pull
	// that fell back to the local image); nil discards them.
	Logger *slog.Logger
}

// Executor runs job runs on one Docker engine. It is safe for concurrent use.
type Executor struct {
	docker Engine
	opts   Options
	log    *slog.Logger

	mu      sync.Mutex
	active  map[string]bool // run IDs inside Run, which ReapDangling must not touch
	hostCPU int             // NCPU × 100, cached: it does not change under a running engine
}

// New returns an Executor over docker (normally a *client.Client with API
// version negotiation).
func New(docker Engine, opts Options) *Executor {
	if opts.MetricsInterval <= 0 {
		opts.MetricsInterval = DefaultMetricsInterval
	}
	if opts.FinalFlushTimeout <= 0 {
		opts.FinalFlushTimeout = DefaultFinalFlushTimeout
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Executor{docker: docker, opts: opts, log: log, active: map[string]bool{}}
}

// ContainerName is the deterministic name of a run's container; the engine
// refuses a second container of the same name, which makes creation
// idempotent.
func ContainerName(runID string) string { return "daestro-run-" + runID }

// Run executes spec to the end and reports how it ended. It is idempotent by
// RunID: when the run's container already exists (the agent restarted, the
// activity was retried) Run re-attaches to it, or only collects its result if
// it already exited; it never starts a second container for one run. from is
// the last Cursor progress reported (zero for a first attempt); progress is
// called, from one goroutine at a time, once the container is known and after
// every batch of lines the Sink acknowledged.
//
// When ctx is cancelled Run stops the container (SIGTERM, StopGrace, SIGKILL),
// still ships its last logs for up to Options.FinalFlushTimeout, and returns a
// Result with Cancelled set and a nil error, so the caller can record it.
// Cancelling with cause ErrDetach instead leaves the container running.
func (e *Executor) Run(ctx context.Context, spec Spec, sink Sink, from Cursor, progress func(Cursor)) (Result, error) {
	if progress == nil {
		progress = func(Cursor) {}
	}
	spec = spec.withDefaults()
	if err := e.validate(ctx, spec); err != nil {
		return Result{}, err
	}
	if !e.claim(spec.RunID) {
		return Result{}, fmt.Errorf("run %s: %w; a second attempt has to wait for the first to end", spec.RunID, ErrRunBusy)
	}
	defer e.release(spec.RunID)

	c, err := e.findContainer(ctx, spec.RunID)
	if err == nil && c == nil && from.ContainerID != "" {
		return Result{}, fmt.Errorf("run %s: container %.12s: %w (removed by hand, or by an earlier attempt that finished): its exit status is lost",
			spec.RunID, from.ContainerID, ErrContainerGone)
	}
	if err == nil && c == nil {
		c, err = e.pullAndCreate(ctx, spec)
	}
	if err != nil {
		return e.beforeStart(ctx, err)
	}
	r := &run{e: e, spec: spec, sink: sink, progress: progress, id: c.ID, from: from}
	r.digest = e.digestOf(ctx, c.Image, spec.Image)
	progress(Cursor{ContainerID: c.ID, LastAckedSeq: from.LastAckedSeq})
	return r.execute(ctx, c)
}

// beforeStart turns a failure before the container started into Run's
// answer: a cancellation is a Result, like one after the start.
func (e *Executor) beforeStart(ctx context.Context, err error) (Result, error) {
	switch {
	case ctx.Err() == nil:
		return Result{}, err
	case detached(ctx):
		return Result{}, fmt.Errorf("%w (before the container started)", ErrDetach)
	default:
		return Result{ExitCode: -1, Cancelled: true, SystemNote: "cancelled before the container started"}, nil
	}
}

// detached reports whether ctx was cancelled with cause ErrDetach.
func detached(ctx context.Context) bool { return errors.Is(context.Cause(ctx), ErrDetach) }

func (s Spec) withDefaults() Spec {
	if s.PullTimeout <= 0 {
		s.PullTimeout = DefaultPullTimeout
	}
	if s.StopGrace <= 0 {
		s.StopGrace = DefaultStopGrace
	}
	return s
}

// runIDPattern is the engine's container-name alphabet.
var runIDPattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,199}$`)

// validate refuses specs the engine would reject with a less helpful message,
// or would run differently from what the user asked.
func (e *Executor) validate(ctx context.Context, s Spec) error {
	invalid := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidSpec}, args...)...)
	}
	switch {
	case !runIDPattern.MatchString(s.RunID):
		return invalid("run ID %q must be 1-200 letters, digits, '_', '.' or '-'", s.RunID)
	case s.Image == "":
		return invalid("run %s has no image", s.RunID)
	case s.Script != "" && len(s.Cmd) > 0:
		return invalid("run %s has both a script and a command: a bash job runs its script, a docker job its command", s.RunID)
	case s.CPUQuotaPct < 0:
		return invalid("CPU quota %d%% is negative", s.CPUQuotaPct)
	case s.MemoryMB < 0:
		return invalid("memory limit %d MB is negative", s.MemoryMB)
	case s.MemoryMB > 0 && s.MemoryMB < MinMemoryMB:
		return invalid("memory limit %d MB is below the engine's minimum of %d MB: raise it", s.MemoryMB, MinMemoryMB)
	case s.Timeout < 0:
		return invalid("timeout %s is negative", s.Timeout)
	}
	if s.CPUQuotaPct > 0 {
		host, err := e.hostCPUPct(ctx)
		if err != nil {
			return err
		}
		if s.CPUQuotaPct > host {
			return invalid("CPU quota %d%% is more than this host has (%d cores = %d%%): lower the quota or use a bigger instance",
				s.CPUQuotaPct, host/100, host)
		}
	}
	return nil
}

func (e *Executor) hostCPUPct(ctx context.Context) (int, error) {
	e.mu.Lock()
	cached := e.hostCPU
	e.mu.Unlock()
	if cached > 0 {
		return cached, nil
	}
	cpu, _, err := e.HostCapacity(ctx)
	if err != nil {
		return 0, err
	}
	e.mu.Lock()
	e.hostCPU = cpu
	e.mu.Unlock()
	return cpu, nil
}

func (e *Executor) claim(runID string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.active[runID] {
		return false
	}
	e.active[runID] = true
	return true
}

func (e *Executor) release(runID string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.active, runID)
}

func (e *Executor) isActive(runID string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.active[runID]
}

// stateCreated is the engine's state of a container that was never started.
const stateCreated = "created"

// isRunning reports whether the container's process may still exit on its own.
func isRunning(s *container.State) bool {
	return s != nil && (s.Running || s.Paused || s.Restarting)
}
