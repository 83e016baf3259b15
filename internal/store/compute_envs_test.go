package store_test

import (
	"context"
	"crypto/rand"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/internal/cloud"
	"daestro/internal/domain"
	"daestro/internal/secrets"
	"daestro/internal/store"
	"daestro/internal/testenv"
)

// sealingStore is a fresh store with a random master key, for cloud auths.
func sealingStore(t *testing.T) *store.Store {
	t.Helper()
	st := testenv.Store(t)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	ring, err := secrets.NewKeyring(key)
	require.NoError(t, err)
	st.Secrets = ring
	return st
}

// A cloud compute environment stores the instance size its caller looked
// up at the provider; the store refuses to guess one.
func TestCreateComputeEnvStoresTheInstanceSize(t *testing.T) {
	t.Parallel()
	st := sealingStore(t)
	ctx := context.Background()
	p, err := st.CreateProject(ctx, "acme", "")
	require.NoError(t, err)
	ca, err := st.CreateCloudAuth(ctx, p.ID, domain.CloudAuthInput{Name: "local", Provider: cloud.LocalDocker}, "")
	require.NoError(t, err)
	assert.Equal(t, "", ca.CredentialsHint)
	_, creds, err := st.CloudAuthCredentials(ctx, p.ID, ca.ID)
	require.NoError(t, err, "localdocker's empty credentials are sealed and opened")
	assert.Equal(t, cloud.Credentials{}, creds)

	in := domain.ComputeEnvInput{Name: "laptop", CloudAuthID: ca.ID, Region: "local", InstanceType: "agent"}
	_, err = st.CreateComputeEnv(ctx, p.ID, in)
	require.Error(t, err, "a cloud environment without its size")
	in.Size = &domain.InstanceSize{VCPU: 0, MemoryMB: 1024}
	_, err = st.CreateComputeEnv(ctx, p.ID, in)
	require.Error(t, err, "an impossible size")

	in.Size = &domain.InstanceSize{VCPU: 4, MemoryMB: 8192, HourlyPrice: 0.125}
	env, err := st.CreateComputeEnv(ctx, p.ID, in)
	require.NoError(t, err)
	require.NotNil(t, env.InstanceVCPU)
	assert.Equal(t, 4, *env.InstanceVCPU)
	assert.Equal(t, 8192, *env.InstanceMemoryMB)
	assert.Equal(t, 0.125, *env.HourlyPrice)
	got, err := st.ComputeEnv(ctx, p.ID, env.ID)
	require.NoError(t, err)
	assert.Equal(t, env, got)

	_, err = st.CreateComputeEnv(ctx, p.ID, domain.ComputeEnvInput{Name: "rack", Kind: domain.ComputeEnvSelfHosted, Size: in.Size})
	require.Error(t, err, "a self-hosted environment has no instance size")
	self, err := st.CreateComputeEnv(ctx, p.ID, domain.ComputeEnvInput{Name: "rack", Kind: domain.ComputeEnvSelfHosted})
	require.NoError(t, err)
	assert.Nil(t, self.InstanceVCPU)
	assert.Nil(t, self.InstanceMemoryMB)
	assert.Nil(t, self.HourlyPrice)
}
