#!/usr/bin/env bash
# `make dev`: start the project-local Postgres and a Temporal dev server with
# its Web UI, build the agent image (daestro-agent:dev, unless
# DAESTRO_AGENT_IMAGE names one), then run API + worker in one process
# (`daestro dev`).
# Ctrl-C stops daestro; the services keep running (`make stop` stops them).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

eval "$(scripts/postgres.sh start)"
eval "$(scripts/temporal.sh start dev)"
export DAESTRO_HTTP_ADDR="${DAESTRO_HTTP_ADDR:-127.0.0.1:8080}"

eval "$(scripts/dev-agent-image.sh)"

echo "building bin/daestro…" >&2
go build -o bin/daestro ./cmd/daestro
status=0
bin/daestro dev --dir "$ROOT/.data" || status=$?
echo >&2
echo "daestro dev stopped. Postgres and Temporal keep running; \`make stop\` stops them." >&2
exit "$status"
