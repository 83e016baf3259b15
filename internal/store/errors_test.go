package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/internal/domain"
	"daestro/internal/store"
	"daestro/internal/testenv"
)

// Database errors that reach a handler become what a user can act on.
func TestUserErrorMapsConstraintsAndOutages(t *testing.T) {
	st := testenv.Store(t)
	ctx := context.Background()
	_, err := st.Pool.Exec(ctx, `INSERT INTO compute_envs (id, project_id, name, kind) VALUES (gen_random_uuid(), gen_random_uuid(), 'x', 'selfhosted')`)
	require.Error(t, err, "a foreign key violation")
	mapped := store.UserError(err)
	assert.Equal(t, domain.ECONFLICT, domain.ErrorCode(mapped))
	assert.Contains(t, domain.ErrorMessage(mapped), "nothing was changed")

	// Postgres not answering: a pool on a loopback port nothing listens on.
	down, err := pgxpool.New(ctx, "postgres://postgres@127.0.0.1:1/daestro?connect_timeout=2")
	require.NoError(t, err)
	defer down.Close()
	err = (&store.Store{Pool: down}).Ping(ctx)
	require.Error(t, err)
	mapped = store.UserError(err)
	assert.Equal(t, domain.EUNAVAILABLE, domain.ErrorCode(mapped), "%v", err)
	assert.Equal(t, "the database is not reachable right now: nothing was changed; try again (GET /readyz shows what is down)", domain.ErrorMessage(mapped))

	plain := errors.New("a bug")
	assert.Equal(t, plain, store.UserError(plain), "anything else stays internal")
	nf := domain.Errorf(domain.ENOTFOUND, "no such thing")
	assert.Equal(t, error(nf), store.UserError(nf))
}
