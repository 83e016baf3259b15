package main

import (
	"context"
	"errors"
	"os/exec"
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
