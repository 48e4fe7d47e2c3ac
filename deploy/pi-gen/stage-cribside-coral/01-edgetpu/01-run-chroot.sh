#!/bin/bash
# Inside the image: make pi-coral.yaml the base config first boot completes, and let the service open
# the Coral USB accelerator (libedgetpu's udev rule gives the device to group plugdev).
set -e
install -m 644 /opt/cribside/current/configs/pi-coral.yaml /etc/cribside/config.base.yaml
getent group plugdev > /dev/null || groupadd --system plugdev
usermod -a -G plugdev cribside
install -d -m 755 /etc/systemd/system/cribside.service.d
printf '# The Coral USB accelerator (group plugdev): written by the pi-gen stage stage-cribside-coral.\n[Service]\nSupplementaryGroups=plugdev\n' \
	> /etc/systemd/system/cribside.service.d/60-coral.conf
# pi-coral.yaml runs the manifest's edgetpu variant: a bundle without it fails at first boot.
if ! grep -Eq '"accelerator": *"edgetpu"' /opt/cribside/models/manifest.json; then
	echo "cribside: WARNING: the bundle's models have no edgetpu variant (convert with edgetpu_compiler)" >&2
fi
