#!/bin/bash
# Inside the image (pi-gen: on_chroot < this file): install the bundle 00-run.sh copied in, with the
# units enabled and pi-cpu.yaml as the base config first boot completes from /boot/firmware/cribside.yaml.
set -e
bundle=/var/tmp/cribside-bundle
"${bundle}/install.sh" --enable --base-config pi-cpu
# The image's own Python runs the installed command: wheels for the wrong CPU fail the build here.
/opt/cribside/venv/bin/cribside --version
rm -rf "${bundle}"
