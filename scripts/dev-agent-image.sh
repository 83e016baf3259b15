#!/usr/bin/env bash
# The agent image `make dev` hands localdocker (and cloud) machines: built
# from this checkout as daestro-agent:dev (scripts/agent-image.sh), so a
# first localdocker queue works on a laptop without a registry. Prints
# `export DAESTRO_AGENT_IMAGE=…` for eval; prints nothing when
# DAESTRO_AGENT_IMAGE is already set (the user's choice wins) or no Docker
# engine answers (the dev agent needs one anyway and says so).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
stdout_to_stderr

if [[ -n ${DAESTRO_AGENT_IMAGE:-} ]]; then
	log "using DAESTRO_AGENT_IMAGE=$DAESTRO_AGENT_IMAGE"
	exit 0
fi
if ! docker info >/dev/null 2>&1; then
	log "no Docker engine answers: not building the agent image"
	exit 0
fi
image=${DAESTRO_DEV_AGENT_IMAGE:-daestro-agent:dev}
DAESTRO_AGENT_TEST_IMAGE=$image "$SCRIPTS_DIR/agent-image.sh" >/dev/null
emit_export DAESTRO_AGENT_IMAGE "$image"
