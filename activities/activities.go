// Package activities touches the world on behalf of workflows: Postgres,
// clouds, agents. Activities are methods on one struct so they share their
// dependencies; workflows refer to them through a nil *Activities.
package activities

import (
	"go.temporal.io/sdk/client"

	"daestro/internal/cloud"
	"daestro/internal/metrics"
	"daestro/internal/store"
)

// Activities holds what the control-plane activities need.
type Activities struct {
	// Store is the Postgres handle.
	Store *store.Store
	// Temporal signals and starts workflows (the dispatcher, spawns);
	// worker.New sets it to the worker's own client.
	Temporal client.Client
	// ControlTaskQueue is where the dispatcher runs; worker.New sets it to
	// the worker's own task queue.
	ControlTaskQueue string
	// Clouds opens the provider of a cloud auth; nil means no provider is
	// configured and cloud spawns fail with a note saying so.
	Clouds *cloud.Registry
	// Agent is what a cloud spawn's machine runs: the agent image and the
	// URL the agent reaches the API at.
	Agent AgentConfig
	// Metrics records job transitions and dispatcher rounds; nil records nothing.
	Metrics *metrics.Metrics
}

// AgentConfig is the agent a cloud machine starts.
type AgentConfig struct {
	// Image is the agent's Docker image.
	Image string
	// ServerURL is the daestro API as the machine reaches it.
	ServerURL string
}
