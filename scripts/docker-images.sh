#!/usr/bin/env bash
# Build the local Docker test images without any registry.
#
#   eval "$(scripts/docker-images.sh)"
#
# Images (imported from a tar rootfs, nothing is pulled):
#   daestro-test/busybox:1  static busybox (Debian busybox-static), a /bin
#                                symlink per applet, /tmp (1777), /etc/passwd and
#                                /etc/group with root and nobody; PATH=/bin, CMD /bin/sh
#   daestro-test/bash:1     the same plus /bin/bash (Debian bash-static): the
#                                stand-in for ubuntu:24.04 in bash-script jobs
# STDOUT is only:
#   export DAESTRO_TEST_IMAGE=daestro-test/busybox:1
#   export DAESTRO_BASH_IMAGE=daestro-test/bash:1
#
# Idempotent: each image carries a label daestro.test.hash (hash of this script
# and the binaries); a re-run with an up-to-date image only checks the label.
# Missing busybox-static / bash-static packages are installed with apt.
set -euo pipefail

LOG_NAME=docker-images
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

BUSYBOX_IMAGE=daestro-test/busybox:1
BASH_IMAGE=daestro-test/bash:1
BUSYBOX_BIN=/bin/busybox
BASH_BIN=/bin/bash-static
HASH_LABEL=daestro.test.hash
SELF=$SCRIPTS_DIR/$(basename -- "${BASH_SOURCE[0]}")

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

stdout_to_stderr
umask 022

check_docker() {
	command -v docker >/dev/null 2>&1 || die "the docker CLI is not installed"
	local err
	if ! err=$(timeout 30 docker info 2>&1 >/dev/null); then
		die "cannot reach the Docker daemon at ${DOCKER_HOST:-unix:///var/run/docker.sock}" \
			"($(printf '%s' "$err" | grep -v '^$' | tail -n1)); start dockerd, check access to" \
			"/var/run/docker.sock, or point DOCKER_HOST at a running daemon"
	fi
}

# A binary copied into a FROM-scratch image must not need a dynamic loader.
is_static() {
	[[ -x $1 ]] || return 1
	local out
	out=$(LC_ALL=C ldd "$1" 2>&1 || true)
	[[ $out == *"not a dynamic executable"* || $out == *"statically linked"* ]]
}

ensure_binaries() {
	local pkgs=()
	# Debian's dynamic `busybox` package also ships /bin/busybox: we need the static one.
	is_static "$BUSYBOX_BIN" || pkgs+=(busybox-static)
	is_static "$BASH_BIN" || pkgs+=(bash-static)
	if ((${#pkgs[@]})); then
		log "need static binaries: installing ${pkgs[*]}"
		apt_install "${pkgs[@]}"
	fi
	is_static "$BUSYBOX_BIN" || die "$BUSYBOX_BIN is missing or not static (package busybox-static)"
	is_static "$BASH_BIN" || die "$BASH_BIN is missing or not static (package bash-static)"
}

# inputs_hash FILE… — short hash of the contents of this script and the files.
inputs_hash() {
	local f
	{
		sha256sum <"$SELF"
		for f in "$@"; do sha256sum <"$f"; done
	} | sha256sum | cut -c1-16
}

image_label() {
	docker image inspect -f "{{ index .Config.Labels \"$HASH_LABEL\" }}" "$1" 2>/dev/null || true
}

make_rootfs() { # dir with_bash(0|1)
	local root=$1 with_bash=$2 applet
	mkdir -p -- "$root"/{bin,etc,tmp,root,proc,sys,dev}
	chmod 0755 "$root" "$root/bin" "$root/etc"
	chmod 1777 "$root/tmp"
	chmod 0700 "$root/root"
	cp -- "$BUSYBOX_BIN" "$root/bin/busybox"
	chmod 0755 "$root/bin/busybox"
	while IFS= read -r applet; do
		[[ -n $applet && $applet != busybox && $applet != */* ]] || continue
		ln -sf busybox "$root/bin/$applet"
	done < <("$BUSYBOX_BIN" --list)
	if [[ $with_bash == 1 ]]; then
		rm -f -- "$root/bin/bash"
		cp -- "$BASH_BIN" "$root/bin/bash"
		chmod 0755 "$root/bin/bash"
	fi
	cat >"$root/etc/passwd" <<-'EOF'
		root:x:0:0:root:/root:/bin/sh
		nobody:x:65534:65534:nobody:/nonexistent:/bin/false
	EOF
	cat >"$root/etc/group" <<-'EOF'
		root:x:0:
		nobody:x:65534:
		nogroup:x:65534:
	EOF
	chmod 0644 "$root/etc/passwd" "$root/etc/group"
}

# build_image TAG WITH_BASH HASH
build_image() {
	local tag=$1 with_bash=$2 hash=$3 old_id new_id tmp
	if [[ $(image_label "$tag") == "$hash" ]]; then
		log "$tag is up to date ($HASH_LABEL=$hash)"
		return 0
	fi
	old_id=$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)
	tmp=$(mktemp -d)
	# shellcheck disable=SC2064 # expand now
	trap "rm -rf -- '$tmp'" EXIT
	make_rootfs "$tmp/rootfs" "$with_bash"
	log "importing $tag ($HASH_LABEL=$hash)"
	tar --numeric-owner --owner=0 --group=0 --sort=name -C "$tmp/rootfs" -cf - . |
		docker import \
			-c 'ENV PATH=/bin' \
			-c 'CMD ["/bin/sh"]' \
			-c "LABEL $HASH_LABEL=$hash" \
			-m "daestro test image (scripts/docker-images.sh)" \
			- "$tag" >/dev/null || die "docker import $tag failed"
	rm -rf -- "$tmp"
	trap - EXIT
	[[ $(image_label "$tag") == "$hash" ]] || die "$tag was imported but has no $HASH_LABEL label"
	new_id=$(docker image inspect -f '{{.Id}}' "$tag")
	if [[ -n $old_id && $old_id != "$new_id" ]]; then
		docker image rm "$old_id" >/dev/null 2>&1 || true # the previous build, if unused
	fi
	local probe=(/bin/sh -c 'echo ok')
	[[ $with_bash == 1 ]] && probe=(/bin/bash -c 'echo ok')
	[[ $(docker run --rm --network none "$tag" "${probe[@]}" 2>&1) == ok ]] ||
		die "$tag was built but '${probe[*]}' does not run in it"
}

check_docker
with_lock docker-images
ensure_binaries
build_image "$BUSYBOX_IMAGE" 0 "$(inputs_hash "$BUSYBOX_BIN")"
build_image "$BASH_IMAGE" 1 "$(inputs_hash "$BUSYBOX_BIN" "$BASH_BIN")"
emit_export DAESTRO_TEST_IMAGE "$BUSYBOX_IMAGE"
emit_export DAESTRO_BASH_IMAGE "$BASH_IMAGE"
