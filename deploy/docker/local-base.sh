#!/bin/sh
# Make the Debian bookworm base image locally, for machines that reach deb.debian.org but no
# container registry (the Dockerfile's default BASE is docker.io/library/debian:bookworm-slim).
#
#   deploy/docker/local-base.sh                       # -> podman image localhost/debian:bookworm-slim
#   deploy/docker/local-base.sh --tar base.tar        # only write the root file system as a tarball
#   PODMAN="podman --root /tmp/store" deploy/docker/local-base.sh my/debian:bookworm
#
# Then build with --build-arg BASE=localhost/debian:bookworm-slim --pull=never.
# Needs root and debootstrap (apt-get install debootstrap); the root is a minbase bookworm for this
# machine's architecture with the same apt sources as the official image (bookworm, -updates, -security).
set -eu
mirror=${MIRROR:-http://deb.debian.org/debian}
security=${SECURITY_MIRROR:-http://deb.debian.org/debian-security}
podman=${PODMAN:-podman}
tar_out=
if [ "${1:-}" = "--tar" ]; then
    tar_out=${2:?"--tar needs a file name"}
    shift 2
fi
image=${1:-localhost/debian:bookworm-slim}

if [ "$(id -u)" != 0 ]; then
    echo "local-base.sh: run as root (debootstrap makes device nodes and owners)" >&2
    exit 2
fi
command -v debootstrap >/dev/null || { echo "local-base.sh: debootstrap is not installed (apt-get install debootstrap)" >&2; exit 2; }

root=$(mktemp -d /var/tmp/cribside-base.XXXXXX)
trap 'rm -rf "$root"' EXIT INT TERM
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$root.log" 2>&1 || {
    tail -n 20 "$root.log" >&2
    rm -f "$root.log"
    exit 1
}
rm -f "$root.log"
cat >"$root/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb $security bookworm-security main
EOF
# What the official slim image leaves out: downloaded packages, package lists, docs and man pages.
cat >"$root/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
EOF
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/man/* "$root"/usr/share/info/*
find "$root/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete 2>/dev/null || true
: >"$root/etc/machine-id"

if [ -n "$tar_out" ]; then
    tar --numeric-owner -C "$root" -cf "$tar_out" .
    echo "$tar_out"
else
    tar --numeric-owner -C "$root" -c . | $podman import --change 'CMD ["bash"]' - "$image" >/dev/null
    echo "$image"
fi
