#!/bin/bash -e
# Build host: Coral's apt repository and its signing key (for libedgetpu1-std in 01-edgetpu).
# The key is CORAL_APT_KEY (a key file you have checked; export it in the pi-gen config), or else
# Google's key fetched over HTTPS, as Coral's install guide does.
key="${STAGE_WORK_DIR}/coral-apt-key"
if [ -n "${CORAL_APT_KEY}" ]; then
	cp "${CORAL_APT_KEY}" "${key}"
else
	curl -fsSL https://packages.cloud.google.com/apt/doc/apt-key.gpg -o "${key}"
fi
# apt's signed-by wants a binary keyring: de-armor an ASCII-armored key.
if grep -q -- '-----BEGIN PGP PUBLIC KEY BLOCK-----' "${key}"; then
	gpg --dearmor < "${key}" > "${key}.gpg"
else
	cp "${key}" "${key}.gpg"
fi
install -d -m 755 "${ROOTFS_DIR}/etc/apt/keyrings"
install -m 644 "${key}.gpg" "${ROOTFS_DIR}/etc/apt/keyrings/coral-edgetpu.gpg"
echo "deb [signed-by=/etc/apt/keyrings/coral-edgetpu.gpg] https://packages.cloud.google.com/apt coral-edgetpu-stable main" \
	> "${ROOTFS_DIR}/etc/apt/sources.list.d/coral-edgetpu.list"
