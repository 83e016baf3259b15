package executor

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"maps"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
)

// logConfig pins the container's log driver. Run reads the whole log back
// (from the start, after a re-attach), so it must be readable (the daemon's
// default driver may be journald or none) and must keep its start: the
// daemon's default log-opts (often max-size 10m × 3 files) would drop the
// beginning of a chatty job and shift the line numbering. json-file cannot
// be told "never rotate", so it keeps up to 1 GiB, far beyond the batch jobs
// it serves; the container, and with it the log, is removed once shipped.
// Past 1 GiB the oldest lines are dropped, and only a re-attach (which
// re-reads from the start) would then number lines differently.
var logConfig = container.LogConfig{
	Type:   "json-file",
	Config: map[string]string{"max-size": "100m", "max-file": "10"},
}

// findContainer returns the run's container, or nil when there is none.
func (e *Executor) findContainer(ctx context.Context, runID string) (*container.InspectResponse, error) {
	name := ContainerName(runID)
	c, err := e.docker.ContainerInspect(ctx, name)
	if cerrdefs.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look for container %s: %w", name, err)
	}
	if c.Config == nil || c.Config.Labels[LabelRunID] != runID {
		return nil, fmt.Errorf("%w: a container named %s exists but is not run %s's (no %s=%s label): remove or rename it",
			ErrInvalidSpec, name, runID, LabelRunID, runID)
	}
	if c.State == nil {
		return nil, fmt.Errorf("inspect container %s: the engine reported no state", name)
	}
	return &c, nil
}

// create creates the run's container, or finds it when a concurrent or
// earlier attempt got there first.
func (e *Executor) create(ctx context.Context, spec Spec) (*container.InspectResponse, error) {
	labels := maps.Clone(spec.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelRunID] = spec.RunID
	if spec.JobID != "" {
		labels[LabelJobID] = spec.JobID
	}
	cfg := &container.Config{Image: spec.Image, Env: spec.Env, Labels: labels}
	if len(spec.Cmd) > 0 {
		cfg.Cmd = spec.Cmd
	}
	if spec.Script != "" {
		// The entrypoint too: an image's ENTRYPOINT would otherwise get the
		// script path as its argument.
		cfg.Entrypoint = []string{"bash"}
		cfg.Cmd = []string{ScriptPath}
	}
	init := true // without an init, a shell script as PID 1 ignores SIGTERM and every stop takes the full grace
	host := &container.HostConfig{
		Init:       &init,
		Privileged: spec.Privileged,
		LogConfig:  logConfig,
		Resources: container.Resources{
			NanoCPUs:   int64(spec.CPUQuotaPct) * 1e7,
			Memory:     int64(spec.MemoryMB) << 20,
			MemorySwap: int64(spec.MemoryMB) << 20, // 0 would mean swap = 2 × memory
		},
	}
	if !spec.Privileged {
		// A tenant's code: no setuid escalation inside the container, and a
		// fork bomb stops at the pids limit instead of taking the host down.
		pids := int64(DefaultPidsLimit)
		host.SecurityOpt = []string{"no-new-privileges"}
		host.Resources.PidsLimit = &pids
	}
	name := ContainerName(spec.RunID)
	_, err := e.docker.ContainerCreate(ctx, cfg, host, nil, nil, name)
	if err != nil && !cerrdefs.IsConflict(err) {
		if cerrdefs.IsInvalidArgument(err) {
			return nil, fmt.Errorf("%w: the engine refused to create the container: %v", ErrInvalidSpec, err)
		}
		return nil, fmt.Errorf("create container %s from %s: %w", name, spec.Image, err)
	}
	c, err := e.findContainer(ctx, spec.RunID)
	if err == nil && c == nil {
		err = fmt.Errorf("container %s vanished right after it was created", name)
	}
	return c, err
}

// copyScript puts the script into the created container (a tar to "/").
func (e *Executor) copyScript(ctx context.Context, id, script string) error {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dir := strings.TrimPrefix(ScriptPath[:strings.LastIndexByte(ScriptPath, '/')], "/")
	now := time.Now()
	hdrs := []*tar.Header{
		{Name: dir + "/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: now},
		{Name: strings.TrimPrefix(ScriptPath, "/"), Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(script)), ModTime: now},
	}
	for _, h := range hdrs {
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
	}
	if _, err := tw.Write([]byte(script)); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := e.docker.CopyToContainer(ctx, id, "/", &buf, container.CopyToContainerOptions{}); err != nil {
		return fmt.Errorf("copy the script into the container: %w", err)
	}
	return nil
}

// stop sends SIGTERM, waits grace, then SIGKILL. Already stopped or gone is
// fine; if the engine fails the stop, a plain kill is the last resort.
func (e *Executor) stop(ctx context.Context, id string, grace time.Duration) {
	secs := int((grace + time.Second - 1) / time.Second)
	ctx, cancel := context.WithTimeout(ctx, grace+30*time.Second)
	defer cancel()
	err := e.docker.ContainerStop(ctx, id, container.StopOptions{Timeout: &secs})
	if err == nil || cerrdefs.IsNotFound(err) || cerrdefs.IsNotModified(err) {
		return
	}
	e.log.Warn("stop container failed, killing it", "container", id, "error", err)
	if err := e.docker.ContainerKill(ctx, id, "KILL"); err != nil && !cerrdefs.IsNotFound(err) && !cerrdefs.IsConflict(err) {
		e.log.Error("kill container failed", "container", id, "error", err)
	}
}

func (e *Executor) remove(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	err := e.docker.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("remove container %.12s: %w", id, err)
	}
	return nil
}

// systemNote explains to the user why a run failed. The executor's own
// decisions come first: a stopped container exits 143 or 137, which alone
// would read as a crash.
func systemNote(r Result, spec Spec) string {
	switch {
	case r.Cancelled:
		return "cancelled"
	case r.TimedOut:
		return "exceeded execution timeout of " + humanDuration(spec.Timeout)
	case r.OOMKilled && spec.MemoryMB > 0:
		return fmt.Sprintf("killed: out of memory at %d MB", spec.MemoryMB)
	case r.OOMKilled:
		return "killed: out of memory (the host ran out)"
	case r.ExitCode > 128 && r.ExitCode < 128+65:
		sig := r.ExitCode - 128
		if name, ok := signalNames[sig]; ok {
			return fmt.Sprintf("killed by signal %s (exit code %d)", name, r.ExitCode)
		}
		return fmt.Sprintf("killed by signal %d (exit code %d)", sig, r.ExitCode)
	case r.ExitCode != 0:
		return fmt.Sprintf("exited with code %d", r.ExitCode)
	}
	return ""
}

var signalNames = map[int]string{1: "HUP", 2: "INT", 3: "QUIT", 4: "ILL", 6: "ABRT", 7: "BUS", 8: "FPE", 9: "KILL", 11: "SEGV", 13: "PIPE", 15: "TERM"}

// humanDuration is time.Duration.String without the trailing zero units:
// "30s", "5m", "1h30m".
func humanDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// engineTime parses the engine's RFC 3339 times; its "never" is year 1.
func engineTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Year() <= 1 {
		return time.Time{}
	}
	return t
}
