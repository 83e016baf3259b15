package activities

import (
	"context"
	"fmt"
	"time"

	"daestro/internal/store"
)

// PurgeRunOutputInput is the input of PurgeRunOutput.
type PurgeRunOutputInput struct {
	// Now is the moment retention is measured from (the workflow's).
	Now time.Time
	// Limit is the most rows the one transaction deletes.
	Limit int
}

// PurgeRunOutput deletes one batch of the logs and metrics past their
// project's retention (store.PurgeRunOutput).
func (a *Activities) PurgeRunOutput(ctx context.Context, in PurgeRunOutputInput) (store.PurgeBatch, error) {
	b, err := a.Store.PurgeRunOutput(ctx, in.Now, in.Limit)
	if err != nil {
		return b, fmt.Errorf("purge run output older than the retention: %w", err)
	}
	return b, nil
}
