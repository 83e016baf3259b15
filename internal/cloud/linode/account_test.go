package linode_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/internal/cloud"
	"daestro/internal/cloud/cloudtest/linodefake"
)

// Tokens of one Linode account name the same account (GET /v4/account's
// euuid through linodego); a token of another account names that one and
// gets Linode's 404 for the first account's Linodes.
func TestAccountTellsTokensOfAnotherAccountApart(t *testing.T) {
	const second, stranger, otherAccount = "linode-second", "linode-stranger", "A0B1C2D3-0000-4000-8000EEEEEEEEEEEE"
	f := linodefake.New(t)
	f.AddToken(second, linodefake.AccountEUUID)
	f.AddToken(stranger, otherAccount)
	ctx := context.Background()
	first := newProvider(t, f, linodefake.Token)

	a, err := first.Account(ctx)
	require.NoError(t, err)
	assert.Equal(t, cloud.Account{ID: linodefake.AccountEUUID, Name: "dev@example.com"}, a)
	b, err := newProvider(t, f, second).Account(ctx)
	require.NoError(t, err)
	assert.Equal(t, linodefake.AccountEUUID, b.ID, "two tokens of one account")
	c, err := newProvider(t, f, stranger).Account(ctx)
	require.NoError(t, err)
	assert.Equal(t, otherAccount, c.ID)

	in, err := first.CreateInstance(ctx, smallCreate("vm-1"))
	require.NoError(t, err)
	_, err = newProvider(t, f, second).Instance(ctx, in.ID)
	require.NoError(t, err, "another token of the same account sees the Linode")

	other := newProvider(t, f, stranger)
	_, err = other.Instance(ctx, in.ID)
	require.ErrorIs(t, err, cloud.ErrNotFound, "another account's token does not see it")
	listed, err := other.ListInstancesByTag(ctx, "daestro")
	require.NoError(t, err)
	assert.Empty(t, listed)
	require.NoError(t, other.DeleteInstance(ctx, in.ID), "unknown to that account: 'already gone'")
	_, err = first.Instance(ctx, in.ID)
	require.NoError(t, err, "the Linode still runs in its own account")

	_, err = newProvider(t, f, "wrong").Account(ctx)
	require.ErrorIs(t, err, cloud.ErrUnauthorized)
}
