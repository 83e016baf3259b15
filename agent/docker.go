// Package agent runs on every compute spawn: it registers with the server,
// polls its spawn's task queue and runs each job as a Docker container.
package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
)

// Docker is the agent's handle on the local Docker engine.
type Docker struct {
	cli *client.Client
}

// NewDocker connects to the engine named by DOCKER_HOST (default the local
// socket), negotiating the API version so old and new engines both work.
func NewDocker() (*Docker, error) {
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	return &Docker{cli: cli}, nil
}

// Ping checks that the engine answers.
func (d *Docker) Ping(ctx context.Context) error {
	if _, err := d.cli.Ping(ctx); err != nil {
		return fmt.Errorf("docker engine does not answer (is /var/run/docker.sock mounted, or DOCKER_HOST set?): %w", err)
	}
	return nil
}

// Close releases the client's connections.
func (d *Docker) Close() error { return d.cli.Close() }

// ContainerSpec is what to run in a one-shot container.
type ContainerSpec struct {
	// Name is the container name; a deterministic one makes a retried create idempotent.
	Name string
	// Image must already be present on the engine.
	Image string
	// Cmd replaces the image's command.
	Cmd []string
	// Env is KEY=value pairs.
	Env []string
	// Labels mark the container as daestro's.
	Labels map[string]string
}

// ContainerResult is how a one-shot container ended.
type ContainerResult struct {
	// ExitCode is the main process's exit status.
	ExitCode int
	// OOMKilled is true when the kernel killed the container for memory.
	OOMKilled bool
	// Stdout and Stderr are the demultiplexed output streams.
	Stdout, Stderr string
}

// RunOnce creates, starts and waits for a container, collects its output and
// removes it. It is the smallest slice of the job executor the agent grows into.
func (d *Docker) RunOnce(ctx context.Context, spec ContainerSpec) (ContainerResult, error) {
	created, err := d.cli.ContainerCreate(ctx,
		&container.Config{Image: spec.Image, Cmd: spec.Cmd, Env: spec.Env, Labels: spec.Labels},
		&container.HostConfig{Init: boolPtr(true)}, nil, nil, spec.Name)
	if err != nil {
		return ContainerResult{}, fmt.Errorf("create container from %s: %w", spec.Image, err)
	}
	id := created.ID
	defer func() {
		_ = d.cli.ContainerRemove(context.WithoutCancel(ctx), id, container.RemoveOptions{Force: true})
	}()

	// Wait before start, as the docker CLI does, so a fast exit is never missed.
	waitc, errc := d.cli.ContainerWait(ctx, id, container.WaitConditionNextExit)
	if err := d.cli.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		return ContainerResult{}, fmt.Errorf("start container: %w", err)
	}
	select {
	case <-waitc:
	case err := <-errc:
		return ContainerResult{}, fmt.Errorf("wait for container: %w", err)
	}

	info, err := d.cli.ContainerInspect(ctx, id)
	if err != nil {
		return ContainerResult{}, fmt.Errorf("inspect container: %w", err)
	}
	if info.State == nil {
		return ContainerResult{}, errors.New("inspect container: no state")
	}
	logs, err := d.cli.ContainerLogs(ctx, id, container.LogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		return ContainerResult{}, fmt.Errorf("read container logs: %w", err)
	}
	defer logs.Close()
	var stdout, stderr bytes.Buffer
	if _, err := stdcopy.StdCopy(&stdout, &stderr, logs); err != nil {
		return ContainerResult{}, fmt.Errorf("demultiplex container logs: %w", err)
	}
	return ContainerResult{
		ExitCode:  info.State.ExitCode,
		OOMKilled: info.State.OOMKilled,
		Stdout:    stdout.String(),
		Stderr:    stderr.String(),
	}, nil
}

func boolPtr(b bool) *bool { return &b }

// HostCapacity reads the engine's host: the jobs run on the daemon's machine,
// which runtime.NumCPU inside the agent's own container would not see.
func (d *Docker) HostCapacity(ctx context.Context) (Capacity, error) {
	info, err := d.cli.Info(ctx)
	if err != nil {
		return Capacity{}, fmt.Errorf("docker engine info: %w", err)
	}
	return Capacity{CPUPct: info.NCPU * 100, MemoryMB: int(info.MemTotal >> 20)}, nil
}

// Client exposes the engine client to the job executor.
func (d *Docker) Client() *client.Client { return d.cli }
