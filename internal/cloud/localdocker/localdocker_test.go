package localdocker

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/stretchr/testify/require"

	"daestro/internal/cloud"
	"daestro/internal/testenv"
)

// provider returns a Provider whose "agent" is the busybox test image
// sleeping, so the instance stays up without a server to register with.
func provider(t *testing.T) *Provider {
	t.Helper()
	testenv.Docker(t)
	p, err := New(WithImage(testenv.TestImage()), WithCommand("sleep", "300"))
	require.NoError(t, err)
	return p
}

func TestInstanceLifecycle(t *testing.T) {
	p := provider(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, p.ValidateCredentials(ctx))
	engine, err := p.Account(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, engine.ID, "the engine stands for the account")
	same, err := p.Account(ctx)
	require.NoError(t, err)
	require.Equal(t, engine, same, "the same engine, the same account")
	regions, err := p.Regions(ctx)
	require.NoError(t, err)
	require.Equal(t, []cloud.Region{{ID: Region, Name: "This machine's Docker engine"}}, regions)
	its, err := p.InstanceTypes(ctx, Region)
	require.NoError(t, err)
	require.NotEmpty(t, its)

	spawnID := testenv.RandomName("spawn")
	tags := []string{"daestro", "daestro-spawn-" + spawnID}
	req := cloud.CreateRequest{Name: "daestro-" + spawnID, Region: Region, InstanceType: "local-2c-2g", Tags: tags,
		Agent: cloud.AgentLaunch{Env: map[string]string{"DAESTRO_AUTH_TOKEN": "dsa_x", "DAESTRO_SERVER_URL": "http://127.0.0.1:1"}}}
	inst, err := p.CreateInstance(ctx, req)
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.DeleteInstance(context.Background(), inst.ID) })
	require.Equal(t, cloud.StatusRunning, inst.Status)
	require.Equal(t, "127.0.0.1", inst.PublicIPv4)
	require.Equal(t, "::1", inst.PublicIPv6, "host networking: the host's loopback addresses")
	require.ElementsMatch(t, tags, inst.Tags)

	// The agent is capped to the instance type and gets the launch env.
	c, err := p.docker.ContainerInspect(ctx, inst.ID)
	require.NoError(t, err)
	require.Subset(t, c.Config.Env, []string{"DAESTRO_AGENT_CPU_PCT=200", "DAESTRO_AGENT_MEMORY_MB=2048", "DAESTRO_AUTH_TOKEN=dsa_x"})
	require.Equal(t, container.NetworkMode("host"), c.HostConfig.NetworkMode)

	// Creating again by the same name returns the same instance.
	again, err := p.CreateInstance(ctx, req)
	require.NoError(t, err)
	require.Equal(t, inst.ID, again.ID)

	listed, err := p.ListInstancesByTag(ctx, "daestro-spawn-"+spawnID)
	require.NoError(t, err)
	require.Len(t, listed, 1)
	require.Equal(t, inst.ID, listed[0].ID)

	// A job container the agent started goes with the instance.
	job, err := p.docker.ContainerCreate(ctx, &container.Config{Image: testenv.TestImage(), Cmd: []string{"sleep", "300"},
		Labels: map[string]string{labelSpawnID: spawnID}}, nil, nil, nil, "")
	require.NoError(t, err)
	require.NoError(t, p.DeleteInstance(ctx, inst.ID))
	_, err = p.docker.ContainerInspect(ctx, job.ID)
	require.Error(t, err, "the job container must be removed with its instance")
	_, err = p.Instance(ctx, inst.ID)
	require.True(t, errors.Is(err, cloud.ErrNotFound), "got %v", err)
	require.NoError(t, p.DeleteInstance(ctx, inst.ID), "deleting twice succeeds")
	listed, err = p.ListInstancesByTag(ctx, "daestro-spawn-"+spawnID)
	require.NoError(t, err)
	require.Empty(t, listed)
}

func TestBadRequestsAreInvalid(t *testing.T) {
	p := provider(t)
	ctx := context.Background()
	_, err := p.CreateInstance(ctx, cloud.CreateRequest{Name: "x", InstanceType: "huge"})
	require.True(t, errors.Is(err, cloud.ErrInvalid), "got %v", err)
	_, err = p.InstanceTypes(ctx, "mars-1")
	require.True(t, errors.Is(err, cloud.ErrInvalid), "got %v", err)
	other, err := New(WithImage("daestro-test/no-such-image:1"))
	require.NoError(t, err)
	_, err = other.CreateInstance(ctx, cloud.CreateRequest{Name: testenv.RandomName("x"), InstanceType: "local-1c-1g"})
	require.True(t, errors.Is(err, cloud.ErrInvalid), "got %v", err)
	require.Contains(t, err.Error(), "is not on the local Docker engine")
}
