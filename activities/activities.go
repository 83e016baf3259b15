// Package activities touches the world on behalf of workflows: Postgres,
// clouds, agents. Activities are methods on one struct so they share their
// dependencies; workflows refer to them through a nil *Activities.
package activities

import (
	"daestro/internal/store"
)

// Activities holds what the control-plane activities need.
type Activities struct {
	// Store is the Postgres handle.
	Store *store.Store
}
