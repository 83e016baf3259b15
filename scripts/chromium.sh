#!/usr/bin/env bash
# Make sure a headless-capable Chromium is installed for the console's
# browser tests (Debian's `chromium` package).
#
#   eval "$(scripts/chromium.sh)"
#
# STDOUT is only:
#   export DAESTRO_CHROMIUM=/usr/bin/chromium
#
# Idempotent: an installed browser (DAESTRO_CHROMIUM, or chromium on PATH)
# is only checked; a missing one is installed with apt.
set -euo pipefail

LOG_NAME=chromium
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

case ${1:-} in
"") ;;
-h | --help | help)
	sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" >&2
	exit 0
	;;
*)
	log "no arguments expected"
	exit 2
	;;
esac

bin=${DAESTRO_CHROMIUM:-}
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
	bin=$(command -v chromium || true)
fi
if [ -z "$bin" ]; then
	log "installing Debian's chromium (once; about 100 MB)"
	apt_install chromium
	bin=$(command -v chromium) || die "chromium is not on PATH after apt-get install chromium"
fi
log "using $("$bin" --version 2>/dev/null || echo "$bin")"
emit_export DAESTRO_CHROMIUM "$bin"
