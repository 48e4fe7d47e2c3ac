"""Releases: build an offline bundle, install it as a release, switch and roll back.

A *bundle* is a folder holding everything a device needs, checked by ``SHA256SUMS``:
the wheels of cribside and each pinned dependency for one platform with a
hash-pinned lock, the converted models, MediaPipe's face models, the systemd units,
example configs and ``install.sh``. A *release* is one installed bundle under
``/opt/cribside/releases/<release_id>/``; ``/opt/cribside/current`` points at the
active one and is switched with one atomic rename.

:mod:`.install`, :mod:`.layout` and :mod:`.switch` use the standard library only:
``install.sh`` runs them straight from the bundle's cribside wheel on ``PYTHONPATH``
before anything is installed. :mod:`.build` (needs pip and PyPI), :mod:`.update` and
:mod:`.firstboot` run from an installed cribside.
"""
