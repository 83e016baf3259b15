package activities

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"daestro/internal/contract"
	"daestro/internal/store"
	"daestro/internal/testenv"
)

// A run without rows is a final answer the workflow can wait on, not an
// error the local activity retries forever.
func TestLoadJobRunOfAnUnsavedRunIsNotRetried(t *testing.T) {
	a := &Activities{Store: testenv.Store(t)}
	_, err := a.LoadJobRun(context.Background(), LoadJobRunInput{RunID: store.NewID()})
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr), "%v", err)
	assert.Equal(t, contract.ErrTypeJobRunNotFound, appErr.Type())
	assert.True(t, appErr.NonRetryable())
}
