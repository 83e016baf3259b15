// Package cloudinit renders the user-data a cloud spawn's machine boots
// with: install Docker when the image lacks it, add a `daestro` user with
// the queue's SSH key, and start the agent container with the spawn's token.
package cloudinit

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"daestro/internal/cloud"
)

// Script renders a cloud-init user-data shell script that starts agent. The
// script is idempotent (a reboot re-runs nothing harmful) and quotes every
// value, so a token or key cannot break out of its argument.
func Script(agent cloud.AgentLaunch, sshPublicKey string) string {
	var b strings.Builder
	b.WriteString("#!/bin/bash\n")
	b.WriteString("# daestro agent bootstrap (cloud-init user-data)\n")
	b.WriteString("set -euo pipefail\n")
	b.WriteString("if ! command -v docker >/dev/null 2>&1; then\n")
	b.WriteString("  curl -fsSL https://get.docker.com | sh\n")
	b.WriteString("fi\n")
	b.WriteString("systemctl enable --now docker\n")
	b.WriteString(metadataBlock)
	if key := strings.TrimSpace(sshPublicKey); key != "" {
		b.WriteString("id daestro >/dev/null 2>&1 || useradd --create-home --shell /bin/bash --groups docker daestro\n")
		b.WriteString("install -d -m 700 -o daestro -g daestro /home/daestro/.ssh\n")
		fmt.Fprintf(&b, "printf '%%s\\n' %s > /home/daestro/.ssh/authorized_keys\n", Quote(key))
		b.WriteString("chown daestro:daestro /home/daestro/.ssh/authorized_keys && chmod 600 /home/daestro/.ssh/authorized_keys\n")
	}
	b.WriteString("docker rm -f daestro-agent >/dev/null 2>&1 || true\n")
	b.WriteString("docker run -d --name daestro-agent --restart unless-stopped \\\n")
	for _, k := range slices.Sorted(maps.Keys(agent.Env)) {
		fmt.Fprintf(&b, "  -e %s \\\n", Quote(k+"="+agent.Env[k]))
	}
	b.WriteString("  -v /var/run/docker.sock:/var/run/docker.sock \\\n")
	b.WriteString("  -v daestro_agent_data:/var/lib/daestro-agent \\\n")
	b.WriteString("  --network host \\\n")
	fmt.Fprintf(&b, "  %s\n", Quote(agent.Image))
	return b.String()
}

// MetadataAddress is the cloud metadata service every provider here serves
// (instance credentials, the user-data): job containers must not reach it.
const MetadataAddress = "169.254.169.254"

// metadataBlock installs a unit that drops traffic from containers to the
// metadata service (Docker's DOCKER-USER chain, re-applied at every boot
// after Docker starts). The agent runs on the host network and needs none.
var metadataBlock = `cat > /etc/systemd/system/daestro-metadata-block.service <<'UNIT'
[Unit]
Description=Keep daestro job containers away from the cloud metadata service
After=docker.service
Requires=docker.service
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'iptables -C DOCKER-USER -d ` + MetadataAddress + `/32 -j DROP 2>/dev/null || iptables -I DOCKER-USER -d ` + MetadataAddress + `/32 -j DROP'
[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable --now daestro-metadata-block.service
`

// Quote single-quotes s for a POSIX shell.
func Quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// AgentEnv extracts the agent container's environment from a script made by
// Script, as a test (or a fake provider) would: it is the inverse of the
// `-e` lines. Values come back unquoted.
func AgentEnv(script string) map[string]string {
	env := map[string]string{}
	for _, line := range strings.Split(script, "\n") {
		line = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(line), "\\"))
		if !strings.HasPrefix(line, "-e '") {
			continue
		}
		kv := unquote(strings.TrimPrefix(line, "-e "))
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	return env
}

// unquote reverses Quote.
func unquote(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "'")
	s = strings.TrimSuffix(s, "'")
	return strings.ReplaceAll(s, `'\''`, "'")
}
