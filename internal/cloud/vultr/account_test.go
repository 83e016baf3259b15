package vultr_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/internal/cloud"
	"daestro/internal/cloud/cloudtest/vultrfake"
)

// API keys of one Vultr account name the same account (GET /v2/account's
// email through govultr: Vultr shows no account ID); a key of another
// account names that one and gets Vultr's 404 for the first account's
// instances.
func TestAccountTellsKeysOfAnotherAccountApart(t *testing.T) {
	const second, stranger, otherAccount = "VULTRSECONDKEY", "VULTRSTRANGERKEY", "someone@else.example"
	f := vultrfake.New(t)
	f.AddToken(second, vultrfake.AccountEmail)
	f.AddToken(stranger, otherAccount)
	ctx := context.Background()
	first := newProvider(t, f, vultrfake.Token)

	a, err := first.Account(ctx)
	require.NoError(t, err)
	assert.Equal(t, cloud.Account{ID: vultrfake.AccountEmail, Name: "daestro dev"}, a)
	b, err := newProvider(t, f, second).Account(ctx)
	require.NoError(t, err)
	assert.Equal(t, vultrfake.AccountEmail, b.ID, "two keys of one account")
	c, err := newProvider(t, f, stranger).Account(ctx)
	require.NoError(t, err)
	assert.Equal(t, otherAccount, c.ID)

	in, err := first.CreateInstance(ctx, cloud.CreateRequest{Name: "vm-1", Region: "ewr", InstanceType: "vc2-1c-1gb", Tags: []string{"spawn-1"}})
	require.NoError(t, err)
	_, err = newProvider(t, f, second).Instance(ctx, in.ID)
	require.NoError(t, err, "another key of the same account sees the instance")

	other := newProvider(t, f, stranger)
	_, err = other.Instance(ctx, in.ID)
	require.ErrorIs(t, err, cloud.ErrNotFound, "another account's key does not see it")
	listed, err := other.ListInstancesByTag(ctx, "spawn-1")
	require.NoError(t, err)
	assert.Empty(t, listed)
	require.NoError(t, other.DeleteInstance(ctx, in.ID), "unknown to that account: 'already gone'")
	_, err = first.Instance(ctx, in.ID)
	require.NoError(t, err, "the instance still runs in its own account")

	_, err = newProvider(t, f, "WRONGKEY").Account(ctx)
	if !errors.Is(err, cloud.ErrUnauthorized) {
		t.Fatalf("wrong key: %v", err)
	}
}
