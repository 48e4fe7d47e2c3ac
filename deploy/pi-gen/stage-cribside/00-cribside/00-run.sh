#!/bin/bash -e
# Build host (pi-gen runs ./00-run.sh here): copy the release bundle into the image for 01-run-chroot.sh.
# CRIBSIDE_BUNDLE is set *and exported* in the pi-gen config (build.sh only sources that file).
# The copy goes to /var/tmp: pi-gen's on_chroot mounts a tmpfs over the image's /tmp, which would hide it.
: "${CRIBSIDE_BUNDLE:?export CRIBSIDE_BUNDLE=/path/to/cribside-<version>-linux_aarch64 in the pi-gen config}"
if [ ! -x "${CRIBSIDE_BUNDLE}/install.sh" ] || [ ! -f "${CRIBSIDE_BUNDLE}/SHA256SUMS" ]; then
	echo "cribside: ${CRIBSIDE_BUNDLE} is not a cribside bundle (no install.sh / SHA256SUMS)" >&2
	exit 1
fi

# The bundle's wheels are for one platform: it must be the image's.
case "${ARCH}" in
	arm64) platform=linux_aarch64 ;;
	amd64) platform=linux_x86_64 ;;
	*) echo "cribside: no bundle for ARCH=${ARCH} (build from pi-gen's bookworm-arm64 branch)" >&2; exit 1 ;;
esac
if ! grep -Eq "\"platform\": *\"${platform}\"" "${CRIBSIDE_BUNDLE}/bundle.json"; then
	echo "cribside: ${CRIBSIDE_BUNDLE} is not a ${platform} bundle (cribside bundle --platform ${platform})" >&2
	exit 1
fi
if grep -Eq '"synthetic": *true' "${CRIBSIDE_BUNDLE}/bundle.json"; then
	echo "cribside: WARNING: this bundle has the SYNTHETIC demo models: never for a ward (cribside bundle --models MODELS)" >&2
fi

dest="${ROOTFS_DIR}/var/tmp/cribside-bundle"
rm -rf "${dest}"
install -d -m 0700 "${dest}"
cp -R "${CRIBSIDE_BUNDLE}/." "${dest}/"
