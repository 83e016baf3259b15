#!/usr/bin/env bash
# Local Temporal dev server (the `temporal` CLI's `server start-dev`, SQLite).
#
#   scripts/temporal.sh start  [test|dev]  start (or reuse) the instance; STDOUT is
#                                          only `export …` lines, so:
#                                            eval "$(scripts/temporal.sh start)"
#   scripts/temporal.sh stop   [test|dev]  stop it (TERM, KILL after 10 s); no error if stopped
#   scripts/temporal.sh status [test|dev]  exit 0 and print one line if running, else exit 3
#   scripts/temporal.sh path               print the CLI binary path (builds it if missing)
#
# Instances (default: test), both on 127.0.0.1, namespace `default`:
#   test  gRPC ${DAESTRO_TEMPORAL_TEST_PORT:-7243}, headless, db .data/temporal/test.db
#         (WAL, synchronous=off: survives the process, not the machine)
#   dev   gRPC ${DAESTRO_TEMPORAL_DEV_PORT:-7233}, Web UI on gRPC port + 1000 (8233),
#         db .data/temporal/dev.db (WAL, synchronous=normal)
# Logs and pid files: .data/temporal/<instance>.{log,pid}.
# `start` prints TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE (dev: also DAESTRO_TEMPORAL_UI_URL).
#
# The binary is built once with `go install github.com/temporalio/cli/cmd/temporal@$TEMPORAL_CLI_VERSION`
# (≈5 min) and cached as ${DAESTRO_TOOLS_DIR:-$(go env GOPATH)/bin}/temporal-$TEMPORAL_CLI_VERSION.
# Keep TEMPORAL_CLI_VERSION at v1.5.1: v1.6.0+ cannot be `go install`ed (temporalio/cli#213).
set -euo pipefail

LOG_NAME=temporal
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

TEMPORAL_CLI_VERSION=${TEMPORAL_CLI_VERSION:-v1.5.1}
TEMPORAL_PKG=github.com/temporalio/cli/cmd/temporal
NAMESPACE=default
HEALTH_TIMEOUT=${DAESTRO_TEMPORAL_START_TIMEOUT:-60}

tools_dir() {
	if [[ -n ${DAESTRO_TOOLS_DIR:-} ]]; then
		printf '%s\n' "$DAESTRO_TOOLS_DIR"
		return
	fi
	command -v go >/dev/null 2>&1 ||
		die "go is not installed: install Go or set DAESTRO_TOOLS_DIR to a directory holding temporal-$TEMPORAL_CLI_VERSION"
	local gopath
	gopath=$(go env GOPATH)
	[[ -n $gopath ]] || die "go env GOPATH is empty; set DAESTRO_TOOLS_DIR"
	printf '%s/bin\n' "${gopath%%:*}"
}

BIN=
bin_path() { BIN=$(tools_dir)/temporal-$TEMPORAL_CLI_VERSION; }

# Build the CLI into the cache unless it is there. A lock next to the binary
# keeps concurrent runs from building twice; the result is moved into place
# atomically (temp dir in the same directory), so readers never see half a file.
ensure_bin() {
	bin_path
	[[ -x $BIN ]] && return 0
	local dir=${BIN%/*}
	mkdir -p -- "$dir"
	exec 8>"$dir/.temporal-$TEMPORAL_CLI_VERSION.lock"
	if command -v flock >/dev/null 2>&1 && ! flock -n 8; then
		log "another process is building $BIN: waiting for it…"
		flock 8
	fi
	if [[ -x $BIN ]]; then
		exec 8>&-
		return 0
	fi
	command -v go >/dev/null 2>&1 || die "$BIN is missing and go is not installed to build it"

	local tmp gopid start now last=0
	tmp=$(mktemp -d "$dir/.temporal-$TEMPORAL_CLI_VERSION.build.XXXXXX")
	log "building $TEMPORAL_PKG@$TEMPORAL_CLI_VERSION → $BIN ($(go env GOVERSION)); the first build takes ~5 min…"
	# GOFLAGS/GOWORK cleared: a -mod=… or go.work of the caller must not leak into `go install pkg@version`.
	(cd "$tmp" && GOBIN=$tmp GOWORK=off GOFLAGS='' exec go install "$TEMPORAL_PKG@$TEMPORAL_CLI_VERSION") \
		</dev/null >&2 3>&- 8>&- 9>&- &
	gopid=$!
	# shellcheck disable=SC2064 # expand now: these locals are gone when the trap fires
	trap "kill $gopid 2>/dev/null || true; rm -rf -- '$tmp'" EXIT
	start=$SECONDS
	while kill -0 "$gopid" 2>/dev/null; do
		sleep 2
		now=$((SECONDS - start))
		if ((now - last >= 30)); then
			log "still building the temporal CLI… (${now}s)"
			last=$now
		fi
	done
	if ! wait "$gopid"; then
		die "go install $TEMPORAL_PKG@$TEMPORAL_CLI_VERSION failed"
	fi
	"$tmp/temporal" --version >/dev/null 2>&1 || die "the freshly built $tmp/temporal does not run"
	mv -f -- "$tmp/temporal" "$BIN"
	rm -rf -- "$tmp"
	trap - EXIT
	exec 8>&-
	log "built $BIN in $((SECONDS - start))s"
}

instance() {
	NAME=${1:-test}
	case $NAME in
	test)
		PORT=${DAESTRO_TEMPORAL_TEST_PORT:-7243}
		PORT_VAR=DAESTRO_TEMPORAL_TEST_PORT
		UI_PORT=
		# A test server's history need only survive its process (tests
		# kill and restart servers, never the machine): SQLite does not
		# wait for the disk on every commit. It costs the dev server about
		# a tenth of its throughput on a 2-core machine (make bench).
		PRAGMAS=(--sqlite-pragma journal_mode=wal --sqlite-pragma synchronous=off)
		;;
	dev)
		PORT=${DAESTRO_TEMPORAL_DEV_PORT:-7233}
		PORT_VAR=DAESTRO_TEMPORAL_DEV_PORT
		# Durable across a crash of the process, as a user's data should be.
		PRAGMAS=(--sqlite-pragma journal_mode=wal --sqlite-pragma synchronous=normal)
		;;
	*) die "unknown instance '$NAME' (use test or dev)" ;;
	esac
	if ! [[ $PORT =~ ^[1-9][0-9]{0,4}$ ]] || ((PORT > 64535)); then
		die "$PORT_VAR=$PORT is not a valid port"
	fi
	[[ $NAME == dev ]] && UI_PORT=$((PORT + 1000))
	ADDRESS=127.0.0.1:$PORT
	TDIR=$DATA_DIR/temporal
	DB=$TDIR/$NAME.db
	LOGFILE=$TDIR/$NAME.log
	PIDFILE=$TDIR/$NAME.pid
}

# pid of our server for this instance if alive: the pid file's process, or
# (pid file lost) the process listening on our port, if its command line names
# our db file. Empty if none.
our_pid() {
	local pid cands=
	[[ -s $PIDFILE ]] && cands=$(head -n1 "$PIDFILE")
	cands+=" $(port_pids "$PORT" | tr '\n' ' ')"
	for pid in $cands; do
		[[ $pid =~ ^[0-9]+$ && -r /proc/$pid/cmdline ]] || continue
		if tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qxF -- "$DB"; then
			[[ -s $PIDFILE && $(head -n1 "$PIDFILE") == "$pid" ]] || printf '%s\n' "$pid" >"$PIDFILE" 2>/dev/null || true
			printf '%s\n' "$pid"
			return 0
		fi
	done
}

# --port value on the command line of pid.
pid_port() {
	tr '\0' '\n' <"/proc/$1/cmdline" 2>/dev/null | sed -n '/^--port$/{n;p;q}'
}

# healthy PID: the frontend on $ADDRESS answers SERVING, and (when ss can tell)
# it is PID that listens there — not some other server on that port.
healthy() {
	local pid=$1 out pids
	if [[ -x $BIN ]]; then
		out=$(timeout 10 "$BIN" operator cluster health --address "$ADDRESS" --command-timeout 5s 2>/dev/null) || return 1
		[[ $out == *SERVING* ]] || return 1
	else
		port_in_use "$PORT" || return 1
	fi
	pids=$(port_pids "$PORT")
	[[ -z $pids ]] || grep -qx -- "$pid" <<<"$pids"
}

wait_healthy() { # pid
	local pid=$1 deadline=$((SECONDS + HEALTH_TIMEOUT))
	while ((SECONDS < deadline)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			tail -n 30 "$LOGFILE" >&2 2>/dev/null || true
			rm -f -- "$PIDFILE"
			die "temporal $NAME (pid $pid) exited during start-up; log: $LOGFILE"
		fi
		healthy "$pid" && return 0
		sleep 0.5
	done
	tail -n 30 "$LOGFILE" >&2 2>/dev/null || true
	die "temporal $NAME (pid $pid) not healthy on $ADDRESS after ${HEALTH_TIMEOUT}s; log: $LOGFILE"
}

# The UI's API proxy dials the frontend lazily with back-off: right after start
# it can answer "connection refused" for a second. Wait until it proxies.
wait_ui() {
	command -v curl >/dev/null 2>&1 || return 0
	local deadline=$((SECONDS + 20))
	while ((SECONDS < deadline)); do
		curl -fsS -o /dev/null --max-time 3 "http://127.0.0.1:$UI_PORT/api/v1/namespaces" 2>/dev/null && return 0
		sleep 0.5
	done
	log "warning: the Web UI on http://127.0.0.1:$UI_PORT does not answer yet; see $LOGFILE"
}

port_taken() { # port var
	local owner
	owner=$(port_owner "$1")
	die "port 127.0.0.1:$1 is already in use by another process${owner:+ (pid $owner)} that is not this project's temporal $NAME server; stop it or set $2 to a free port"
}

check_ports_free() {
	port_in_use "$PORT" && port_taken "$PORT" "$PORT_VAR"
	if [[ -n $UI_PORT ]] && port_in_use "$UI_PORT"; then
		port_taken "$UI_PORT" "$PORT_VAR (the Web UI uses $PORT_VAR + 1000)"
	fi
	return 0
}

emit_env() {
	emit_export TEMPORAL_ADDRESS "$ADDRESS"
	emit_export TEMPORAL_NAMESPACE "$NAMESPACE"
	if [[ -n $UI_PORT ]]; then
		emit_export DAESTRO_TEMPORAL_UI_URL "http://127.0.0.1:$UI_PORT"
	fi
}

cmd_start() {
	stdout_to_stderr
	instance "${1:-}"
	with_lock "temporal-$NAME"
	ensure_bin
	local pid running_port
	pid=$(our_pid)
	if [[ -n $pid ]]; then
		running_port=$(pid_port "$pid")
		if [[ $running_port != "$PORT" ]]; then
			check_ports_free
			log "$NAME runs on port $running_port but $PORT_VAR=$PORT: restarting it"
			stop_pid "$pid"
			pid=
		elif healthy "$pid"; then
			log "$NAME already running (pid $pid) on $ADDRESS"
			emit_env
			return 0
		else
			log "$NAME (pid $pid) runs but is not healthy yet: waiting…"
			wait_healthy "$pid"
			emit_env
			return 0
		fi
	fi
	rm -f -- "$PIDFILE"
	check_ports_free
	mkdir -p -- "$TDIR"
	local args=(server start-dev --ip 127.0.0.1 --port "$PORT" --namespace "$NAMESPACE"
		--db-filename "$DB" --log-level warn "${PRAGMAS[@]}")
	if [[ -n $UI_PORT ]]; then
		args+=(--ui-port "$UI_PORT")
	else
		args+=(--headless)
	fi
	log "starting $NAME on $ADDRESS${UI_PORT:+ (UI http://127.0.0.1:$UI_PORT)}, log $LOGFILE"
	printf '\n=== %s start %s: %s %s\n' "$(date -Is)" "$NAME" "$BIN" "${args[*]}" >>"$LOGFILE"
	# Fully detached: own session, no link to the caller's terminal or STDOUT
	# pipe (fd 1 and 3), nor to our locks (fd 8, 9), so `eval "$(…)"` returns.
	setsid nohup "$BIN" "${args[@]}" </dev/null >>"$LOGFILE" 2>&1 3>&- 8>&- 9>&- &
	pid=$!
	printf '%s\n' "$pid" >"$PIDFILE"
	wait_healthy "$pid"
	[[ -n $UI_PORT ]] && wait_ui
	log "$NAME healthy (pid $pid) after ${SECONDS}s"
	emit_env
}

stop_pid() { # pid: TERM, wait up to 10 s, then KILL
	local pid=$1 i
	log "stopping $NAME (pid $pid)"
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.2
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "$NAME did not exit within 10s: SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
		for ((i = 0; i < 25; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.2
		done
	fi
	rm -f -- "$PIDFILE"
}

cmd_stop() {
	instance "${1:-}"
	local pid
	pid=$(our_pid)
	if [[ -z $pid ]]; then
		rm -f -- "$PIDFILE"
		log "$NAME not running"
		return 0
	fi
	stop_pid "$pid"
}

cmd_status() {
	instance "${1:-}"
	bin_path 2>/dev/null || true
	local pid
	pid=$(our_pid)
	if [[ -n $pid ]]; then
		PORT=$(pid_port "$pid")
		ADDRESS=127.0.0.1:$PORT
		if [[ -n $UI_PORT ]]; then UI_PORT=$((PORT + 1000)); fi
		if healthy "$pid"; then
			printf 'temporal %s running: pid %s, address %s, namespace %s%s\n' "$NAME" "$pid" "$ADDRESS" \
				"$NAMESPACE" "${UI_PORT:+, ui http://127.0.0.1:$UI_PORT}"
			return 0
		fi
		log "$NAME process $pid is alive but $ADDRESS does not answer"
		return 3
	fi
	log "$NAME not running"
	return 3
}

usage() {
	sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" >&2
}

case ${1:-} in
start) cmd_start "${2:-}" ;;
stop) cmd_stop "${2:-}" ;;
status) cmd_status "${2:-}" ;;
path)
	ensure_bin
	printf '%s\n' "$BIN"
	;;
-h | --help | help) usage ;;
*)
	usage
	exit 2
	;;
esac
