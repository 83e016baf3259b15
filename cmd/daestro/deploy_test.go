package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/internal/testenv"
)

// The production-like compose file must stay valid and keep the services the
// README promises. Images cannot be pulled here, so `config` is the check.
func TestComposeFileIsValid(t *testing.T) {
	args := []string{"-f", "../../docker-compose.temporal.yml", "config", "--services"}
	bin, err := exec.LookPath("docker-compose")
	if err != nil {
		// Compose v2 is a docker CLI plugin.
		if _, derr := exec.LookPath("docker"); derr == nil && exec.Command("docker", "compose", "version").Run() == nil {
			bin, args, err = "docker", append([]string{"compose"}, args...), nil
		}
	}
	if err != nil {
		testenv.Missing(t, "docker compose", "apt-get install docker-compose", errors.New("neither docker-compose nor `docker compose` found"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	require.NoError(t, err, "%s", out)
	services := strings.Fields(string(out))
	for _, want := range []string{"temporal", "temporal-postgresql", "temporal-ui", "temporal-admin-tools", "daestro-postgresql"} {
		assert.Contains(t, services, want)
	}
}

// `make dev` builds the agent image its localdocker machines run from the
// checkout, so a new user's first cloud-style queue works on a laptop
// (localdocker refuses an image the engine does not have).
func TestDevBuildsTheAgentImageItsMachinesRun(t *testing.T) {
	testenv.Docker(t)
	image := testenv.RandomName("daestro-agent-devtest") + ":dev"
	t.Cleanup(func() { _ = exec.Command("docker", "image", "rm", "-f", image).Run() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "../../scripts/dev-agent-image.sh")
	cmd.Env = append(filteredEnv("DAESTRO_AGENT_IMAGE"), "DAESTRO_DEV_AGENT_IMAGE="+image)
	out, err := cmd.Output()
	require.NoError(t, err)
	assert.Equal(t, "export DAESTRO_AGENT_IMAGE="+image+"\n", string(out), "dev.sh evals this before `daestro dev`")
	inspect, err := exec.Command("docker", "image", "inspect", "-f", "{{json .Config.Cmd}}", image).CombinedOutput()
	require.NoError(t, err, "the image is on the engine: %s", inspect)
	assert.Equal(t, `["agent"]`, strings.TrimSpace(string(inspect)))

	// A user's own choice wins, and nothing is built.
	cmd = exec.CommandContext(ctx, "../../scripts/dev-agent-image.sh")
	cmd.Env = append(filteredEnv("DAESTRO_AGENT_IMAGE"), "DAESTRO_AGENT_IMAGE=ghcr.io/acme/agent:1")
	out, err = cmd.Output()
	require.NoError(t, err)
	assert.Empty(t, string(out))
}

// filteredEnv is the test's environment without the named variables.
func filteredEnv(drop ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(drop, name) {
			out = append(out, kv)
		}
	}
	return out
}
