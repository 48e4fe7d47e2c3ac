#!/bin/sh
# Install this cribside bundle offline: ./install.sh [--root /opt/cribside] [--enable] [--no-activate] [--base-config pi-cpu]
# Needs only python3 (3.11) with venv; checks SHA256SUMS, installs a release under ROOT/releases/<id>
# and makes it current. The installer is cribside's own code, run from this bundle's wheel.
# `python -m cribside.release install --help` lists every option. cribside is not a medical device.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-python3}
wheel=$(ls "$here"/wheels/cribside-*.whl 2>/dev/null | head -n 1)
if [ -z "$wheel" ]; then
    echo "install.sh: error: no cribside wheel in $here/wheels (not a cribside bundle?)" >&2
    exit 2
fi
if ! "$python" -c 'import sys, venv; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
    echo "install.sh: error: $python is not Python 3.11 with venv (install python3 python3-venv; this bundle is for 3.11)" >&2
    exit 2
fi
PYTHONPATH="$wheel" exec "$python" -P -m cribside.release install "$here" --python "$python" "$@"
