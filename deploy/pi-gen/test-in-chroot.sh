#!/bin/bash
# Run pi-gen stages against a Debian root made by debootstrap, the way pi-gen's build.sh runs them
# (a test of the stage scripts, not an image build). Run as root.
#
#   test-in-chroot.sh ROOT BUNDLE [STAGE_DIR...] [-- CMD [ARG...]]
#
# ROOT: the root (an arm64 one runs under qemu-user-static with binfmt_misc); BUNDLE: the release bundle
# (CRIBSIDE_BUNDLE); STAGE_DIR: default stage-cribside beside this script; CMD: run in ROOT afterwards,
# with the same mounts (its exit code is this script's). Per sub-stage, as pi-gen: NN-debconf,
# NN-packages-nr, NN-packages, NN-run.sh (host, if executable), NN-run-chroot.sh (in ROOT).
# Differences: packages missing from ROOT's archives (python3-picamera2, libedgetpu1-std: the Raspberry
# Pi and Coral archives) are skipped and named; BASE_PACKAGES (default systemd) stand in for
# stage0-2; SKIP_SUBSTAGES="stage/sub ..." skips sub-stages (e.g. one that needs an archive not
# reachable); PREPARE_ONLY=1 installs the packages and stops before any script.
set -e

usage() { echo "usage: $0 ROOT BUNDLE [STAGE_DIR...] [-- CMD...]" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "$0: run as root (mount, chroot)" >&2; exit 2; }
# In a private mount namespace: whatever happens, nothing stays mounted on the host afterwards.
if [ -z "${TEST_IN_CHROOT_NS}" ] && command -v unshare > /dev/null; then
	TEST_IN_CHROOT_NS=1 exec unshare --mount --propagation private bash "$0" "$@"
fi
[ $# -ge 2 ] || usage
here=$(cd "$(dirname "$0")" && pwd)
ROOTFS_DIR=$(realpath "$1")
CRIBSIDE_BUNDLE=$(realpath "$2")
shift 2
stages=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do stages+=("$(realpath "$1")"); shift; done
[ "$1" = "--" ] && shift
after=("$@")
[ ${#stages[@]} -gt 0 ] || stages=("${here}/stage-cribside")
[ -x "${ROOTFS_DIR}/bin/bash" ] || { echo "$0: ${ROOTFS_DIR} is not a Debian root" >&2; exit 2; }

# What pi-gen's build.sh exports and these stages read.
STAGE_WORK_DIR=$(mktemp -d /tmp/pigen-work.XXXXXX)
export ROOTFS_DIR CRIBSIDE_BUNDLE STAGE_WORK_DIR
export RELEASE=bookworm USE_QEMU=0

# pi-gen's on_chroot: proc, dev, dev/pts, sys, a tmpfs on run and tmp; then bash -e in the root, here
# with a clean environment (pi-gen passes its own: the chroot scripts must not depend on it).
on_chroot() {
	mountpoint -q "${ROOTFS_DIR}/proc" || mount -t proc proc "${ROOTFS_DIR}/proc"
	mountpoint -q "${ROOTFS_DIR}/dev" || mount --bind /dev "${ROOTFS_DIR}/dev"
	mountpoint -q "${ROOTFS_DIR}/dev/pts" || mount --bind /dev/pts "${ROOTFS_DIR}/dev/pts"
	mountpoint -q "${ROOTFS_DIR}/sys" || mount --bind /sys "${ROOTFS_DIR}/sys"
	mountpoint -q "${ROOTFS_DIR}/run" || mount -t tmpfs tmpfs "${ROOTFS_DIR}/run"
	mountpoint -q "${ROOTFS_DIR}/tmp" || mount -t tmpfs tmpfs "${ROOTFS_DIR}/tmp"
	env -i HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin chroot "${ROOTFS_DIR}" /bin/bash -e "$@"
}
copy_previous() { echo "test-in-chroot: ${ROOTFS_DIR} exists: nothing to copy"; }
export -f on_chroot copy_previous

cleanup() {
	for m in tmp run sys dev/pts dev proc; do
		if mountpoint -q "${ROOTFS_DIR}/${m}"; then umount "${ROOTFS_DIR}/${m}" || umount -l "${ROOTFS_DIR}/${m}"; fi
	done
	rm -rf "${STAGE_WORK_DIR}"
}
trap cleanup EXIT

ARCH=$(chroot "${ROOTFS_DIR}" dpkg --print-architecture)
export ARCH
echo "test-in-chroot: ${ROOTFS_DIR} (${ARCH}), bundle ${CRIBSIDE_BUNDLE}"
[ -s "${ROOTFS_DIR}/etc/resolv.conf" ] || cp /etc/resolv.conf "${ROOTFS_DIR}/etc/resolv.conf"
if ! ls "${ROOTFS_DIR}"/var/lib/apt/lists/*_Packages > /dev/null 2>&1; then
	on_chroot -c "apt-get update -qq"
fi

# apt-get install the packages of a list file that ROOT's archives have; name the others.
install_list() { # FILE [apt options...]
	local file=$1 have="" p
	shift
	# shellcheck disable=SC2013  # words, as pi-gen reads these lists
	for p in $(sed -e 's/#.*//' "${file}"); do
		if on_chroot -c "apt-cache show --no-all-versions '${p}'" > /dev/null 2>&1; then
			have="${have} ${p}"
		else
			echo "test-in-chroot: skipping ${p} (${file##*/}): not in this root's archives (Raspberry Pi / Coral archive, not reachable here)"
		fi
	done
	if [ -n "${have}" ]; then
		on_chroot -c "apt-get -o Acquire::Retries=3 install -y -qq $* ${have}"
	fi
}

if [ -n "${BASE_PACKAGES-systemd}" ]; then
	echo "test-in-chroot: base packages (stand-in for pi-gen's stage0-2): ${BASE_PACKAGES-systemd}"
	printf '%s\n' "${BASE_PACKAGES-systemd}" > "${STAGE_WORK_DIR}/base-packages"
	install_list "${STAGE_WORK_DIR}/base-packages"
fi

for STAGE_DIR in "${stages[@]}"; do
	[ -f "${STAGE_DIR}/SKIP" ] && { echo "test-in-chroot: skip ${STAGE_DIR} (SKIP)"; continue; }
	stage=$(basename "${STAGE_DIR}")
	export STAGE_DIR STAGE="${stage}"
	if [ "${PREPARE_ONLY}" != 1 ] && [ -x "${STAGE_DIR}/prerun.sh" ]; then
		(cd "${STAGE_DIR}" && ./prerun.sh)
	fi
	for SUB_STAGE_DIR in "${STAGE_DIR}"/*/; do
		SUB_STAGE_DIR=${SUB_STAGE_DIR%/}
		sub=$(basename "${SUB_STAGE_DIR}")
		if [ -f "${SUB_STAGE_DIR}/SKIP" ] || [[ " ${SKIP_SUBSTAGES} " == *" ${stage}/${sub} "* ]]; then
			echo "test-in-chroot: skip ${stage}/${sub}"
			continue
		fi
		export SUB_STAGE_DIR
		echo "test-in-chroot: begin ${stage}/${sub}"
		cd "${SUB_STAGE_DIR}"
		for i in $(seq -w 0 99); do
			if [ -f "${i}-debconf" ]; then
				on_chroot -c "debconf-set-selections" < "${i}-debconf"
			fi
			[ -f "${i}-packages-nr" ] && install_list "${SUB_STAGE_DIR}/${i}-packages-nr" --no-install-recommends
			[ -f "${i}-packages" ] && install_list "${SUB_STAGE_DIR}/${i}-packages"
			[ "${PREPARE_ONLY}" = 1 ] && continue
			if [ -d "${i}-patches" ]; then
				echo "test-in-chroot: ${i}-patches: quilt patches are not supported here" >&2
				exit 1
			fi
			if [ -x "${i}-run.sh" ]; then
				echo "test-in-chroot: ${stage}/${sub}/${i}-run.sh (host)"
				"./${i}-run.sh"
			elif [ -f "${i}-run.sh" ]; then
				echo "test-in-chroot: skip ${i}-run.sh (not executable, as pi-gen does)"
			fi
			if [ -f "${i}-run-chroot.sh" ]; then
				echo "test-in-chroot: ${stage}/${sub}/${i}-run-chroot.sh (in the root)"
				on_chroot < "${i}-run-chroot.sh"
			fi
		done
		echo "test-in-chroot: end ${stage}/${sub}"
	done
done

if [ ${#after[@]} -gt 0 ]; then
	echo "test-in-chroot: running in the root: ${after[*]}"
	on_chroot -c 'exec "$@"' cmd "${after[@]}"
fi
