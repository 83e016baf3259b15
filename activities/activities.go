// Package activities touches the world on behalf of workflows: Postgres,
// clouds, agents. Activities are methods on one struct so they share their
// dependencies; workflows refer to them through a nil *Activities.
package activities

import (
	"go.temporal.io/sdk/client"

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
}
