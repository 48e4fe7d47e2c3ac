#!/bin/bash -e
# pi-gen: this stage starts from a copy of the previous stage's root (stage-cribside: the CPU image).
if [ ! -d "${ROOTFS_DIR}" ]; then
	copy_previous
fi
