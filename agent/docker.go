// Package agent runs on every compute spawn: it registers with the server,
// polls its spawn's task queue and runs each job as a Docker container.
package agent

import (
	"context"
	"fmt"

	"github.com/docker/docker/client"
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

// Client exposes the engine client to the job executor.
func (d *Docker) Client() *client.Client { return d.cli }
