# shellcheck shell=bash
# Shared helpers for scripts/*.sh. Source it, do not run it:
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# Provides: ROOT (repo root), SCRIPTS_DIR, DATA_DIR ($ROOT/.data), log, die,
# emit_export, ensure_data_dir, apt_install, port_in_use, port_owner, with_lock.
#
# Convention: everything human-readable goes to STDERR. Scripts whose output
# is meant for `eval "$(scripts/x.sh start)"` call `stdout_to_stderr` first and
# then print only through emit_export (fd 3 = the original STDOUT).

unset CDPATH

SCRIPTS_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
ROOT=$(cd -- "$SCRIPTS_DIR/.." && pwd -P)
DATA_DIR=$ROOT/.data
LOG_NAME=${LOG_NAME:-$(basename -- "$0" .sh)}

log() {
	printf '%s %s: %s\n' "$(date +%H:%M:%S)" "$LOG_NAME" "$*" >&2
}

die() {
	log "ERROR: $*"
	exit 1
}

# After this, fd 1 is STDERR and fd 3 is the caller's STDOUT: no stray output
# (apt, pg_ctl, docker…) can end up in the caller's eval. Background processes
# must be started with `3>&-` so they do not keep the caller's pipe open.
_STDOUT_FD=1
stdout_to_stderr() {
	exec 3>&1 1>&2
	_STDOUT_FD=3
}

# emit_export NAME VALUE → `export NAME=VALUE` on the original STDOUT (fd 3 if
# stdout_to_stderr was called, else fd 1). The value is single-quoted only when
# it holds characters that are not safe unquoted in a shell assignment.
emit_export() {
	local name=$1 value=$2 fd=$_STDOUT_FD
	if [[ $value =~ ^[A-Za-z0-9_./:@%+=?,-]*$ ]]; then
		printf 'export %s=%s\n' "$name" "$value" >&"$fd"
	else
		printf "export %s='%s'\n" "$name" "${value//\'/\'\\\'\'}" >&"$fd"
	fi
}

# State dir, git-ignored by its own .gitignore (so the repo's .gitignore need
# not know about it).
ensure_data_dir() {
	# 0755 whatever the umask: the postgres user must be able to traverse it.
	[[ -d $DATA_DIR ]] || mkdir -m 0755 -- "$DATA_DIR"
	if [[ ! -e $DATA_DIR/.gitignore ]]; then
		printf '# state of scripts/*.sh — never commit\n*\n' >"$DATA_DIR/.gitignore"
	fi
}

# with_lock NAME: take an exclusive lock ($DATA_DIR/NAME.lock) for the rest of
# the script, so concurrent `start`s do not race (held until exit). The lock is
# fd 9: start daemons with `9>&-` or they keep holding it.
with_lock() {
	ensure_data_dir
	local lock=$DATA_DIR/$1.lock
	if ! command -v flock >/dev/null 2>&1; then
		return 0
	fi
	exec 9>"$lock"
	if ! flock -n 9; then
		log "waiting for another $LOG_NAME run (lock $lock)…"
		flock 9
	fi
}

_APT_UPDATED=${_APT_UPDATED:-0}

# apt_install PKG… — install Debian packages (apt-get update at most once per
# script run). Needs root (or sudo). apt's chatter is shown only on failure.
apt_install() {
	command -v apt-get >/dev/null 2>&1 ||
		die "need Debian package(s) $* but apt-get is not available; install them by hand"
	local sudo=() out
	if [[ $(id -u) -ne 0 ]]; then
		command -v sudo >/dev/null 2>&1 || die "need root (or sudo) to apt-get install $*"
		sudo=(sudo)
	fi
	if [[ $_APT_UPDATED -eq 0 ]]; then
		log "apt-get update…"
		if ! out=$("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq 2>&1); then
			printf '%s\n' "$out" >&2
			die "apt-get update failed"
		fi
		_APT_UPDATED=1
	fi
	log "apt-get install $*…"
	if ! out=$("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends "$@" 2>&1 </dev/null); then
		printf '%s\n' "$out" >&2
		die "apt-get install $* failed"
	fi
}

# port_in_use PORT [HOST] — 0 if something accepts TCP connections there.
port_in_use() {
	local port=$1 host=${2:-127.0.0.1}
	# shellcheck disable=SC2016 # $1/$2 expand in the inner bash
	timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$host" "$port" 2>/dev/null
}

# port_owner PORT — best-effort "pid/name" of the process listening on PORT
# (empty if unknown; needs ss from iproute2 and enough privileges).
port_owner() {
	command -v ss >/dev/null 2>&1 || return 0
	ss -Hltnp "sport = :$1" 2>/dev/null |
		sed -n 's/.*users:((\("[^"]*"\),pid=\([0-9]*\).*/\2 \1/p' | head -n1
}

# port_pids PORT — pids listening on TCP PORT (best effort, may be empty).
port_pids() {
	command -v ss >/dev/null 2>&1 || return 0
	ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u
}
