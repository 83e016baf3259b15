package digitalocean_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/internal/cloud"
	"daestro/internal/cloud/cloudtest/dofake"
)

// Tokens of one DigitalOcean account name the same account (GET
// /v2/account through godo); a token of another account names that one and
// gets DigitalOcean's 404 for the first account's droplets.
func TestAccountTellsTokensOfAnotherAccountApart(t *testing.T) {
	const second, stranger, otherAccount = "dop_v1_second", "dop_v1_stranger", "7c1e2f9a-0000-4000-8000-000000000002"
	f := dofake.New(t)
	f.AddToken(second, dofake.AccountUUID)
	f.AddToken(stranger, otherAccount)
	ctx := context.Background()
	first := newProvider(t, f, dofake.Token)

	a, err := first.Account(ctx)
	require.NoError(t, err)
	assert.Equal(t, cloud.Account{ID: dofake.AccountUUID, Name: "dev@example.com"}, a)
	b, err := newProvider(t, f, second).Account(ctx)
	require.NoError(t, err)
	assert.Equal(t, dofake.AccountUUID, b.ID, "two tokens of one account")
	c, err := newProvider(t, f, stranger).Account(ctx)
	require.NoError(t, err)
	assert.Equal(t, otherAccount, c.ID)

	in, err := first.CreateInstance(ctx, cloud.CreateRequest{Name: "vm-1", Region: "nyc3", InstanceType: "s-1vcpu-1gb", Tags: []string{"spawn-1"}})
	require.NoError(t, err)
	_, err = newProvider(t, f, second).Instance(ctx, in.ID)
	require.NoError(t, err, "another token of the same account sees the droplet")

	other := newProvider(t, f, stranger)
	_, err = other.Instance(ctx, in.ID)
	require.ErrorIs(t, err, cloud.ErrNotFound, "another account's token does not see it")
	listed, err := other.ListInstancesByTag(ctx, "spawn-1")
	require.NoError(t, err)
	assert.Empty(t, listed)
	require.NoError(t, other.DeleteInstance(ctx, in.ID), "unknown to that account: 'already gone'")
	assert.Equal(t, 1, f.Droplets(), "the droplet still runs in its own account")

	_, err = newProvider(t, f, "dop_v1_wrong").Account(ctx)
	if !errors.Is(err, cloud.ErrUnauthorized) {
		t.Fatalf("wrong token: %v", err)
	}
}
