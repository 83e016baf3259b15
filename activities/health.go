package activities

import (
	"context"
	"fmt"
)

// HealthCheckInput is the input of HealthCheck.
type HealthCheckInput struct {
	// Note is echoed back, so a caller can tell its own check from another's.
	Note string
}

// HealthCheckResult reports what the worker saw.
type HealthCheckResult struct {
	// Note is the input's note.
	Note string
	// SchemaVersion is the highest migration applied in the worker's database.
	SchemaVersion int
}

// HealthCheck proves that a control worker runs activities and reaches Postgres.
func (a *Activities) HealthCheck(ctx context.Context, in HealthCheckInput) (HealthCheckResult, error) {
	v, err := a.Store.SchemaVersion(ctx)
	if err != nil {
		return HealthCheckResult{}, fmt.Errorf("read schema version: %w", err)
	}
	return HealthCheckResult{Note: in.Note, SchemaVersion: v}, nil
}
