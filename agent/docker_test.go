package agent_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/agent"
	"daestro/internal/testenv"
)

// Smoke test 3 of the ladder: a container from a locally built image runs on
// the real Docker engine; the test reads its output and exit code.
func TestSmokeContainerRunsOnRealDocker(t *testing.T) {
	d := testenv.Docker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	res, err := d.RunOnce(ctx, agent.ContainerSpec{
		Name:   testenv.RandomName("daestro-smoke"),
		Image:  testenv.TestImage(),
		Cmd:    []string{"sh", "-c", `echo "hello $WHO"; echo oops >&2; exit 7`},
		Env:    []string{"WHO=daestro"},
		Labels: map[string]string{"daestro.test": "smoke"},
	})
	require.NoError(t, err, "is the test image built? scripts/docker-images.sh builds it")
	assert.Equal(t, 7, res.ExitCode)
	assert.Equal(t, "hello daestro\n", res.Stdout)
	assert.Equal(t, "oops\n", res.Stderr)
	assert.False(t, res.OOMKilled)
}

func TestRunOnceRunsBashInTheBashImage(t *testing.T) {
	d := testenv.Docker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	res, err := d.RunOnce(ctx, agent.ContainerSpec{
		Name:  testenv.RandomName("daestro-smoke-bash"),
		Image: testenv.BashImage(),
		Cmd:   []string{"bash", "-c", `arr=(a b c); echo "${#arr[@]} ${BASH_VERSINFO[0]:+bash}"`},
	})
	require.NoError(t, err)
	assert.Equal(t, 0, res.ExitCode)
	assert.Equal(t, "3 bash\n", res.Stdout)
}

func TestRunOnceReportsAMissingImage(t *testing.T) {
	d := testenv.Docker(t)
	_, err := d.RunOnce(context.Background(), agent.ContainerSpec{
		Name:  testenv.RandomName("daestro-smoke-missing"),
		Image: "daestro-test/does-not-exist:never",
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "daestro-test/does-not-exist:never")
}
