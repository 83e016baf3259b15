#!/usr/bin/env bash
# Project-local PostgreSQL for development and tests.
#
#   scripts/postgres.sh start    start (or reuse) the cluster; STDOUT is only
#                                `export DAESTRO_DATABASE_URL=…`, so:
#                                  eval "$(scripts/postgres.sh start)"
#   scripts/postgres.sh stop     stop the project-local cluster (no error if stopped)
#   scripts/postgres.sh status   exit 0 and print one line if running, else exit 3
#   scripts/postgres.sh url      print the project-local URL (does not start anything)
#
# Environment:
#   DAESTRO_DATABASE_URL  if set and answering, `start` just re-exports it
#   DAESTRO_PG_PORT       TCP port of the local cluster (default 55432, 127.0.0.1 only)
#   DAESTRO_PG_DB         database to create (default daestro)
#
# The cluster lives in $ROOT/.data/postgres (trust auth, loopback only). When the
# `postgres` OS user cannot reach that directory (e.g. the clone is under /root),
# it lives in /var/tmp/daestro-pg-<hash of $ROOT> instead; the choice is recorded
# in $ROOT/.data/postgres.datadir. initdb/postgres run as the `postgres` user
# when this script runs as root. Missing server binaries are installed with apt.
set -euo pipefail

LOG_NAME=postgres
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

PG_PORT=${DAESTRO_PG_PORT:-55432}
PG_DB=${DAESTRO_PG_DB:-daestro}
PG_SUPERUSER=postgres
if ! [[ $PG_PORT =~ ^[1-9][0-9]{0,4}$ ]] || ((PG_PORT > 65535)); then
	die "DAESTRO_PG_PORT=$PG_PORT is not a valid TCP port"
fi
[[ $PG_DB =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] ||
	die "DAESTRO_PG_DB=$PG_DB: use letters, digits and _ only"

LOCATION_FILE=$DATA_DIR/postgres.datadir
PRIMARY_DIR=$DATA_DIR/postgres
FALLBACK_DIR=/var/tmp/daestro-pg-$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)
PG_BIN=   # server bindir, set by find_bindir
PGDIR=    # data dir, set by resolve_datadir / recorded_datadir

local_url() {
	printf 'postgres://%s@127.0.0.1:%s/%s?sslmode=disable' "$PG_SUPERUSER" "$PG_PORT" "$PG_DB"
}

# OS user that owns and runs the cluster: `postgres` when we are root
# (initdb/postgres refuse to run as root), else ourselves.
if [[ $(id -u) -eq 0 ]]; then PG_OS_USER=postgres; else PG_OS_USER=$(id -un); fi

as_pg() {
	if [[ $(id -u) -eq 0 ]]; then
		(cd / && runuser -u "$PG_OS_USER" -- "$@")
	else
		(cd / && "$@")
	fi
}

find_bindir() {
	local d best=
	for d in /usr/lib/postgresql/*/bin; do
		[[ -x $d/initdb && -x $d/pg_ctl ]] && best+="$d"$'\n'
	done
	if [[ -n $best ]]; then
		PG_BIN=$(printf '%s' "$best" | sort -V | tail -n1)
		return 0
	fi
	if command -v pg_config >/dev/null 2>&1; then
		d=$(pg_config --bindir 2>/dev/null || true)
		if [[ -n $d && -x $d/initdb && -x $d/pg_ctl ]]; then
			PG_BIN=$d
			return 0
		fi
	fi
	return 1
}

ensure_server() {
	if ! find_bindir; then
		log "PostgreSQL server binaries (initdb) not found: installing Debian package postgresql"
		apt_install postgresql
		find_bindir || die "initdb still not found under /usr/lib/postgresql/*/bin after installing postgresql"
	fi
	id -u "$PG_OS_USER" >/dev/null 2>&1 || die "OS user $PG_OS_USER does not exist (it comes with the postgresql package)"
}

# The data dir recorded by the last `start`, else the primary location.
recorded_datadir() {
	PGDIR=$PRIMARY_DIR
	if [[ -s $LOCATION_FILE ]]; then
		PGDIR=$(head -n1 "$LOCATION_FILE")
	fi
}

# Choose (and create) the data dir for `start`.
resolve_datadir() {
	ensure_data_dir
	local reason=
	# A Unix socket path must fit in 107 bytes (socket dir = data dir).
	if ((${#PRIMARY_DIR} + ${#PG_PORT} + 12 > 107)); then
		reason="the path $PRIMARY_DIR is too long for a Unix socket"
	elif ! as_pg test -x "$DATA_DIR" 2>/dev/null; then
		reason="user $PG_OS_USER cannot traverse $DATA_DIR (or one of its parents)"
	else
		if [[ ! -e $PRIMARY_DIR ]]; then
			mkdir -m 700 -- "$PRIMARY_DIR"
			chown "$PG_OS_USER:" "$PRIMARY_DIR" 2>/dev/null || true
		fi
		if ! as_pg test -w "$PRIMARY_DIR" 2>/dev/null || ! as_pg test -x "$PRIMARY_DIR" 2>/dev/null; then
			reason="user $PG_OS_USER cannot write $PRIMARY_DIR"
			rmdir -- "$PRIMARY_DIR" 2>/dev/null || true
		fi
	fi
	if [[ -z $reason ]]; then
		PGDIR=$PRIMARY_DIR
	else
		PGDIR=$FALLBACK_DIR
		log "$reason: using $PGDIR for the cluster instead"
		if [[ ! -e $PGDIR ]]; then
			mkdir -m 700 -- "$PGDIR"
			chown "$PG_OS_USER:" "$PGDIR"
		fi
		as_pg test -w "$PGDIR" || die "user $PG_OS_USER cannot write $PGDIR either"
	fi
	if [[ ! -s $LOCATION_FILE ]] || [[ $(head -n1 "$LOCATION_FILE") != "$PGDIR" ]]; then
		printf '%s\n' "$PGDIR" >"$LOCATION_FILE"
	fi
}

initialised() { [[ -f $PGDIR/PG_VERSION ]]; }

init_cluster() {
	initialised && return 0
	if [[ -n $(ls -A -- "$PGDIR" 2>/dev/null) ]]; then
		die "$PGDIR is not empty but holds no cluster (no PG_VERSION); remove it and retry"
	fi
	log "initdb $PGDIR ($("$PG_BIN/initdb" --version))"
	local out
	if ! out=$(as_pg "$PG_BIN/initdb" -D "$PGDIR" --auth=trust -U "$PG_SUPERUSER" \
		--encoding=UTF8 --locale=C.UTF-8 --no-instructions 2>&1); then
		printf '%s\n' "$out" >&2
		die "initdb failed"
	fi
}

# pid of our postmaster if it is running, else empty. Uses pg_ctl status and
# double-checks that the pid really is a postgres whose cwd is our data dir
# (a stale postmaster.pid can name a pid that was reused by something else).
running_pid() {
	[[ -f $PGDIR/postmaster.pid ]] || return 0
	local pid
	pid=$(head -n1 "$PGDIR/postmaster.pid" 2>/dev/null || true)
	[[ $pid =~ ^[0-9]+$ ]] || return 0
	if [[ -n $PG_BIN ]] && ! as_pg "$PG_BIN/pg_ctl" -D "$PGDIR" status >/dev/null 2>&1; then
		return 0
	fi
	[[ -d /proc/$pid ]] || return 0
	local cwd real
	cwd=$(readlink "/proc/$pid/cwd" 2>/dev/null || true)
	real=$(cd -- "$PGDIR" && pwd -P)
	if [[ $cwd == "$real" ]]; then
		printf '%s\n' "$pid"
	fi
}

running_port() { sed -n 4p "$PGDIR/postmaster.pid" 2>/dev/null || true; }

remove_stale_pidfile() {
	if [[ -f $PGDIR/postmaster.pid ]]; then
		log "removing stale $PGDIR/postmaster.pid (pid $(head -n1 "$PGDIR/postmaster.pid") is not our postgres)"
		rm -f -- "$PGDIR/postmaster.pid"
	fi
}

pg_ready() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$1" -t "${2:-3}"; }

stop_cluster() {
	log "stopping the cluster in $PGDIR"
	as_pg "$PG_BIN/pg_ctl" -D "$PGDIR" -m fast -w -t 60 stop >&2 || die "pg_ctl stop failed"
}

port_taken_msg() {
	local owner
	owner=$(port_owner "$PG_PORT")
	printf 'port 127.0.0.1:%s is already in use by another process%s that is not this project'"'"'s cluster (%s); stop it or set DAESTRO_PG_PORT to a free port' \
		"$PG_PORT" "${owner:+ (pid $owner)}" "$PGDIR"
}

start_cluster() {
	log "starting postgres on 127.0.0.1:$PG_PORT (data $PGDIR, log $PGDIR/postgres.log)"
	# 3>&- 9>&- : the postmaster must not inherit the caller's STDOUT pipe (an
	# `eval "$(…)"` would never see EOF) nor our lock (the next start would block).
	if ! as_pg "$PG_BIN/pg_ctl" -D "$PGDIR" -l "$PGDIR/postgres.log" -w -t 60 \
		-o "-p $PG_PORT -k $PGDIR -c listen_addresses=127.0.0.1" start >&2 3>&- 9>&-; then
		tail -n 20 "$PGDIR/postgres.log" >&2 2>/dev/null || true
		die "pg_ctl start failed (log: $PGDIR/postgres.log)"
	fi
}

ensure_database() {
	local psql=("$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U "$PG_SUPERUSER")
	local have
	have=$("${psql[@]}" -d postgres -Atc "select 1 from pg_database where datname = '$PG_DB'") ||
		die "cannot query the cluster on 127.0.0.1:$PG_PORT"
	if [[ $have != 1 ]]; then
		log "creating database $PG_DB"
		"${psql[@]}" -d postgres -c "create database \"$PG_DB\"" >&2 ||
			die "create database $PG_DB failed"
	fi
}

url_answers() {
	PGCONNECT_TIMEOUT=5 psql -X -Atq -d "$1" -c 'select 1' >/dev/null 2>&1
}

cmd_start() {
	stdout_to_stderr
	if [[ -n ${DAESTRO_DATABASE_URL:-} ]]; then
		command -v psql >/dev/null 2>&1 || ensure_server
		local psql_dir=
		command -v psql >/dev/null 2>&1 || psql_dir=$PG_BIN
		if PATH=${psql_dir:+$psql_dir:}$PATH url_answers "$DAESTRO_DATABASE_URL"; then
			log "DAESTRO_DATABASE_URL answers: using it"
			emit_export DAESTRO_DATABASE_URL "$DAESTRO_DATABASE_URL"
			return 0
		fi
		log "DAESTRO_DATABASE_URL is set but does not answer: starting the project-local cluster"
	fi
	with_lock postgres
	ensure_server
	resolve_datadir
	init_cluster

	local pid port
	pid=$(running_pid)
	if [[ -n $pid ]]; then
		port=$(running_port)
		if [[ $port != "$PG_PORT" ]]; then
			port_in_use "$PG_PORT" && die "$(port_taken_msg)"
			log "our cluster runs on port $port but DAESTRO_PG_PORT=$PG_PORT: restarting it"
			stop_cluster
			pid=
		elif ! pg_ready "$PG_PORT" 30; then
			die "our cluster (pid $pid) runs but does not answer on 127.0.0.1:$PG_PORT; see $PGDIR/postgres.log"
		else
			log "already running (pid $pid) on 127.0.0.1:$PG_PORT"
		fi
	fi
	if [[ -z $pid ]]; then
		remove_stale_pidfile
		port_in_use "$PG_PORT" && die "$(port_taken_msg)"
		start_cluster
	fi
	ensure_database
	emit_export DAESTRO_DATABASE_URL "$(local_url)"
}

cmd_stop() {
	recorded_datadir
	find_bindir || {
		log "postgres server not installed: nothing to stop"
		return 0
	}
	local pid
	pid=$(running_pid)
	if [[ -z $pid ]]; then
		[[ -f $PGDIR/postmaster.pid ]] && remove_stale_pidfile
		log "not running ($PGDIR)"
		return 0
	fi
	stop_cluster
}

cmd_status() {
	recorded_datadir
	find_bindir || true
	local pid port
	pid=$(running_pid)
	if [[ -z $pid ]]; then
		log "not running ($PGDIR)"
		return 3
	fi
	port=$(running_port)
	printf 'postgres running: pid %s, 127.0.0.1:%s, data %s, url %s\n' "$pid" "$port" "$PGDIR" \
		"postgres://$PG_SUPERUSER@127.0.0.1:$port/$PG_DB?sslmode=disable"
}

usage() {
	sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" >&2
}

case ${1:-} in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
url) local_url && echo ;;
-h | --help | help) usage ;;
*)
	usage
	exit 2
	;;
esac
