"""``python -m cribside.release install BUNDLE [...]``: the installer ``install.sh`` runs."""

import sys

from cribside.release.install import main

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] != "install":
        print("usage: python -m cribside.release install BUNDLE [options]", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[2:]))
