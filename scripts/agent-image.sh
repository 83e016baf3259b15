#!/usr/bin/env bash
# Builds the agent image the end-to-end tests run (`daestro-agent:test`):
# FROM scratch + the static daestro binary, so no base image is pulled.
# Prints `export DAESTRO_AGENT_TEST_IMAGE=…` for eval.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
stdout_to_stderr

image=${DAESTRO_AGENT_TEST_IMAGE:-daestro-agent:test}
ctx=$DATA_DIR/agent-image
mkdir -p "$ctx"
log "building the static daestro binary for $image"
(cd "$ROOT" && CGO_ENABLED=0 go build -trimpath -o "$ctx/daestro" ./cmd/daestro)
cat > "$ctx/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY daestro /daestro
ENV DAESTRO_AGENT_STATE_DIR=/var/lib/daestro-agent
ENTRYPOINT ["/daestro"]
CMD ["agent"]
DOCKERFILE
hash=$(cat "$ctx/daestro" "$ctx/Dockerfile" | sha256sum | cut -c1-16)
if [ "$(docker image inspect -f '{{index .Config.Labels "daestro.test.hash"}}' "$image" 2>/dev/null || true)" = "$hash" ]; then
	log "$image is up to date (daestro.test.hash=$hash)"
else
	DOCKER_BUILDKIT=0 docker build -q --label "daestro.test.hash=$hash" -t "$image" "$ctx" >/dev/null
	log "built $image (daestro.test.hash=$hash)"
fi
emit_export DAESTRO_AGENT_TEST_IMAGE "$image"
