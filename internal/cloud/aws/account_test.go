package aws_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/internal/cloud"
	"daestro/internal/cloud/aws"
	"daestro/internal/cloud/cloudtest/ec2fake"
)

// Keys of one AWS account name the same account (STS GetCallerIdentity,
// through the real SDK); a key of another account names that one, and its
// calls do not find the first account's machines: EC2's not-found, which
// DeleteInstance reads as "already gone" — why daestro must compare
// accounts before believing it.
func TestAccountTellsKeysOfAnotherAccountApart(t *testing.T) {
	const second, stranger, otherAccount = "AKIASECONDKEY0000001", "AKIAOTHERACCOUNT0001", "222233334444"
	f := ec2fake.New(t)
	f.AddAccessKey(second, ec2fake.OwnerID)
	f.AddAccessKey(stranger, otherAccount)
	ctx := context.Background()
	first := newProvider(t, f, ec2fake.AccessKeyID)

	a, err := first.Account(ctx)
	require.NoError(t, err)
	assert.Equal(t, cloud.Account{ID: ec2fake.OwnerID, Name: "arn:aws:iam::" + ec2fake.OwnerID + ":user/daestro"}, a)
	b, err := newProvider(t, f, second).Account(ctx)
	require.NoError(t, err)
	assert.Equal(t, ec2fake.OwnerID, b.ID, "two keys of one account")
	c, err := newProvider(t, f, stranger).Account(ctx)
	require.NoError(t, err)
	assert.Equal(t, otherAccount, c.ID)

	in, err := first.CreateInstance(ctx, agent("vm-1", "daestro", "spawn-1"))
	require.NoError(t, err)
	_, err = newProvider(t, f, second).Instance(ctx, in.ID)
	require.NoError(t, err, "another key of the same account sees the machine")

	other := newProvider(t, f, stranger, aws.WithRetry(2, time.Millisecond, time.Millisecond))
	_, err = other.Instance(ctx, in.ID)
	require.ErrorIs(t, err, cloud.ErrNotFound, "another account's key does not see it")
	listed, err := other.ListInstancesByTag(ctx, "spawn-1")
	require.NoError(t, err)
	assert.Empty(t, listed)
	require.NoError(t, other.DeleteInstance(ctx, in.ID), "unknown to that account: 'already gone'")
	got, err := first.Instance(ctx, in.ID)
	require.NoError(t, err)
	assert.NotEqual(t, cloud.StatusTerminated, got.Status, "the machine still runs in its own account")

	_, err = newProvider(t, f, "AKIANOSUCHKEY0000001").Account(ctx)
	require.ErrorIs(t, err, cloud.ErrUnauthorized)
	assert.Contains(t, err.Error(), "AWS rejected this access key")
	_, err = newProvider(t, f, "").Account(ctx)
	require.ErrorIs(t, err, cloud.ErrUnauthorized)
}

// The registry's validation says which account the keys belong to.
func TestValidateReturnsTheAccount(t *testing.T) {
	f := ec2fake.New(t)
	reg := cloud.NewRegistry()
	reg.Register(cloud.AWS, aws.NewFactory(aws.WithBaseURL(f.URL), aws.WithRetry(2, time.Millisecond, time.Millisecond)))
	good := cloud.Credentials{AccessKeyID: ec2fake.AccessKeyID, SecretAccessKey: ec2fake.SecretAccessKey}
	v, err := reg.Validate(context.Background(), cloud.AWS, good, "eu-west-1")
	require.NoError(t, err)
	assert.Equal(t, ec2fake.OwnerID, v.Account.ID)
	a, err := reg.Account(context.Background(), cloud.AWS, good, "")
	require.NoError(t, err)
	assert.Equal(t, ec2fake.OwnerID, a.ID)
}
