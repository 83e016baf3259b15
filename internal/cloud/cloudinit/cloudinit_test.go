package cloudinit

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"daestro/internal/cloud"
)

func TestScriptStartsTheAgentWithItsToken(t *testing.T) {
	agent := cloud.AgentLaunch{Image: "ghcr.io/x/daestro-agent:1.2", Env: map[string]string{
		"DAESTRO_AUTH_TOKEN": "dsa_0123456789ab_secret'with quote",
		"DAESTRO_SERVER_URL": "https://daestro.example.com",
	}}
	s := Script(agent, "ssh-ed25519 AAAAC3Nza user@host")
	require.True(t, strings.HasPrefix(s, "#!/bin/bash\n"))
	require.Contains(t, s, "useradd --create-home --shell /bin/bash --groups docker daestro")
	require.Contains(t, s, "'ssh-ed25519 AAAAC3Nza user@host'")
	require.Contains(t, s, "'ghcr.io/x/daestro-agent:1.2'")
	require.Equal(t, agent.Env, AgentEnv(s))
	require.Contains(t, s, "iptables -I DOCKER-USER -d 169.254.169.254/32 -j DROP", "job containers cannot read the metadata service")
	require.Contains(t, s, "systemctl enable --now daestro-metadata-block.service", "and the rule comes back at every boot")

	// The script is valid bash, and the quoting survives a real shell.
	dir := t.TempDir()
	path := filepath.Join(dir, "user-data.sh")
	require.NoError(t, os.WriteFile(path, []byte(s), 0o600))
	if bash, err := exec.LookPath("bash"); err == nil {
		out, err := exec.Command(bash, "-n", path).CombinedOutput()
		require.NoError(t, err, string(out))
		echo, err := exec.Command(bash, "-c", "printf %s "+Quote(agent.Env["DAESTRO_AUTH_TOKEN"])).Output()
		require.NoError(t, err)
		require.Equal(t, agent.Env["DAESTRO_AUTH_TOKEN"], string(echo))
	}
}

func TestScriptWithoutSSHKeyAddsNoUser(t *testing.T) {
	s := Script(cloud.AgentLaunch{Image: "img", Env: map[string]string{"A": "b"}}, "")
	require.NotContains(t, s, "useradd")
	require.Equal(t, map[string]string{"A": "b"}, AgentEnv(s))
}
