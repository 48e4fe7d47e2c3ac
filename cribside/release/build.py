"""``cribside bundle``: build the offline release bundle for one device platform.

Runs on a build machine with a source checkout and PyPI, never on a device:

- the wheels come from ``deploy/bundle/edge-py311.lock``, the hash-pinned lock of the
  ``edge`` extra (every package, both platforms' wheel hashes), downloaded with
  ``pip download --require-hashes --only-binary :all:`` for the target platform, plus
  cribside's own wheel built from the checkout;
- ``requirements.lock`` in the bundle is that lock plus cribside's hash;
- the models (default: the synthetic demo models) are checked against their manifest;
- the face models come from the local cache (``cribside fetch-models``, sha256-checked);
- the release id is the version and the first 8 hex digits of a hash over every file,
  so two bundles with the same content have the same id and any change makes a new one.

``cribside bundle --write-lock`` rewrites the lock from the versions installed in the
running environment (the ones the test suite ran on), hashing both platforms' wheels.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

import cribside
from cribside.edge.errors import CribsideError
from cribside.release.layout import INFO, LOCK, WHEELS, sha256_file, write_sums

PYTHON = "3.11"
PLATFORMS = ("linux_x86_64", "linux_aarch64")
# Debian bookworm and Raspberry Pi OS bookworm ship glibc 2.36: every manylinux tag up to it.
_GLIBC = (2, 36)
_LOCK_NAME = "edge-py311.lock"
_DEMO_SAMPLE = ("synthetic_infant_demo.mp4", "synthetic_infant_demo.labels.csv")


def source_tree() -> Path:
    """The checkout this cribside runs from (the bundle needs its deploy/ folder)."""
    root = Path(cribside.__file__).resolve().parents[1]
    if not (root / "pyproject.toml").is_file() or not (root / "deploy").is_dir():
        raise CribsideError(f"cribside bundle runs from a source checkout; {root} has no pyproject.toml and deploy/")
    return root


def lock_path() -> Path:
    """The committed lock of the edge extra."""
    return source_tree() / "deploy" / "bundle" / _LOCK_NAME


def platform_args(platform: str) -> list[str]:
    """``pip download`` options selecting binary wheels for Python 3.11 on ``platform``."""
    if platform not in PLATFORMS:
        raise CribsideError(f"--platform {platform}: not a supported target (choose {', '.join(PLATFORMS)})")
    arch = platform.split("_", 1)[1]
    tags = [f"manylinux2014_{arch}"] + [f"manylinux_2_{minor}_{arch}" for minor in range(17, _GLIBC[1] + 1)]
    args = ["--only-binary", ":all:", "--python-version", PYTHON, "--implementation", "cp"]
    for tag in tags:
        args += ["--platform", tag]
    return args


def host_platform() -> str:
    """The platform of this machine, if it is a supported target."""
    import platform as _platform

    machine = {"amd64": "x86_64", "arm64": "aarch64"}.get(_platform.machine().lower(), _platform.machine().lower())
    return f"linux_{machine}"


def _pip(args: list[str], what: str) -> None:
    # A fixed SOURCE_DATE_EPOCH makes cribside's own wheel byte-identical from the same source.
    env = dict(os.environ, SOURCE_DATE_EPOCH=os.environ.get("SOURCE_DATE_EPOCH", "315532800"), PIP_DISABLE_PIP_VERSION_CHECK="1")
    proc = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stderr or proc.stdout).splitlines() if ln.startswith("ERROR") or "error" in ln.lower()]
        raise CribsideError(f"cannot {what}: {' | '.join(lines[-3:]) or f'pip exited {proc.returncode}'}")


# -- the lock ---------------------------------------------------------------------------------------------


def edge_closure() -> dict[str, str]:
    """Installed name -> version for cribside's base and ``edge`` requirements, transitively."""
    try:
        from packaging.markers import default_environment
        from packaging.requirements import Requirement
        from packaging.utils import canonicalize_name
    except ImportError:
        raise CribsideError("cribside bundle --write-lock needs the packaging module: pip install -e '.[dev]'") from None

    env = default_environment()
    env.update(python_version=PYTHON, python_full_version=f"{PYTHON}.0", sys_platform="linux", platform_system="Linux",
               os_name="posix", implementation_name="cpython")
    found: dict[str, str] = {}
    todo: list[tuple[str, set[str]]] = [("cribside", {"edge"})]
    while todo:
        name, extras = todo.pop()
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise CribsideError(f"{name} is not installed here: install cribside[edge] before --write-lock") from None
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is not None and not any(req.marker.evaluate({**env, "extra": e}) for e in (extras or {""})):
                continue
            key = canonicalize_name(req.name)
            if key == "cribside":
                todo.append(("cribside", set(req.extras)))
                continue
            if key not in found:
                found[key] = metadata.version(req.name)
                todo.append((req.name, set(req.extras)))
    return dict(sorted(found.items()))


def write_lock(out: Path | None = None) -> Path:
    """Rewrite the lock from the installed versions, with every target platform's wheel hashes."""
    pins = edge_closure()
    hashes: dict[str, set[str]] = {name: set() for name in pins}
    with tempfile.TemporaryDirectory(prefix="cribside-lock-") as tmp:
        reqs = Path(tmp) / "pins.txt"
        reqs.write_text("".join(f"{n}=={v}\n" for n, v in pins.items()), encoding="utf-8")
        for platform in PLATFORMS:
            dest = Path(tmp) / platform
            _pip(["download", "--quiet", "--no-deps", "--dest", str(dest), *platform_args(platform), "-r", str(reqs)],
                 f"download the {platform} wheels")
            for wheel in dest.glob("*.whl"):
                hashes[_dist_name(wheel)].add(sha256_file(wheel))
    missing = [n for n, h in hashes.items() if not h]
    if missing:
        raise CribsideError(f"no wheel hashed for {', '.join(missing)}")
    out = out or lock_path()
    lines = [
        "# The edge extra, pinned with hashes for Python 3.11 on linux x86_64 and aarch64 (Debian / Raspberry Pi OS bookworm).\n",
        "# Written by `cribside bundle --write-lock` from the versions the test suite ran on; `cribside bundle` installs exactly these.\n",
    ]
    for name, version in pins.items():
        lines.append(f"{name}=={version} \\\n" + " \\\n".join(f"    --hash=sha256:{h}" for h in sorted(hashes[name])) + "\n")
    out.write_text("".join(lines), encoding="utf-8")
    return out


def _dist_name(wheel: Path) -> str:
    from packaging.utils import canonicalize_name, parse_wheel_filename

    return str(canonicalize_name(parse_wheel_filename(wheel.name)[0]))


# -- the bundle -------------------------------------------------------------------------------------------


def build_bundle(out: Path, platform: str, models: Path | None = None) -> Path:
    """Write ``out/cribside-<version>-<platform>/`` and return it."""
    from cribside.edge.face.assets import FACE_MODELS, MEDIAPIPE_VERSION, WHEEL_FILENAME, WHEEL_SHA256, ensure_face_models

    src = source_tree()
    args = platform_args(platform)
    lock = lock_path()
    if not lock.is_file():
        raise CribsideError(f"{lock} is missing: run cribside bundle --write-lock")
    models = models or Path(cribside.__file__).resolve().parents[1] / "edge" / "samples" / "models"
    manifest = _check_models(models)
    faces = ensure_face_models()

    bundle = out / f"cribside-{cribside.__version__}-{platform}"
    if bundle.exists():
        shutil.rmtree(bundle)
    wheels = bundle / WHEELS
    wheels.mkdir(parents=True)
    _pip(["download", "--quiet", "--no-deps", "--require-hashes", "--dest", str(wheels), *args, "-r", str(lock)],
         f"download the pinned {platform} wheels (hash-checked)")
    _build_own_wheel(src, wheels)
    own = sorted(wheels.glob(f"cribside-{cribside.__version__}-*.whl"))
    if len(own) != 1:
        raise CribsideError(f"expected one cribside wheel in {wheels}, found {len(own)}")
    (bundle / LOCK).write_text(
        lock.read_text(encoding="utf-8") + f"cribside=={cribside.__version__} \\\n    --hash=sha256:{sha256_file(own[0])}\n",
        encoding="utf-8",
    )

    shutil.copytree(models, bundle / "models")
    face_dir = bundle / "face-models"
    face_dir.mkdir()
    for path in faces.values():
        shutil.copy2(path, face_dir / path.name)
    (face_dir / "NOTICE").write_text(
        f"MediaPipe face models (face detection short and full range, face landmark), Apache License 2.0,\n"
        f"Copyright Google LLC. Extracted unchanged from {WHEEL_FILENAME} (sha256 {WHEEL_SHA256}) on PyPI,\n"
        f"mediapipe {MEDIAPIPE_VERSION}. Files: {', '.join(Path(m).name for m, _ in FACE_MODELS.values())}.\n"
        "Licence text: https://www.apache.org/licenses/LICENSE-2.0\n",
        encoding="utf-8",
    )
    shutil.copytree(src / "deploy" / "systemd", bundle / "systemd")
    configs = bundle / "configs"
    configs.mkdir()
    for cfg in sorted((src / "deploy" / "configs").glob("*.yaml")):
        if cfg.name != "demo.yaml":
            shutil.copy2(cfg, configs / cfg.name)
    shutil.copy2(src / "deploy" / "bundle" / "demo.yaml", configs / "demo.yaml")
    samples = bundle / "samples"
    samples.mkdir()
    for name in _DEMO_SAMPLE:
        shutil.copy2(src / "edge" / "samples" / name, samples / name)
    shutil.copy2(src / "deploy" / "bundle" / "install.sh", bundle / "install.sh")
    (bundle / "install.sh").chmod(0o755)

    digest = _content_digest(bundle, (p for p in bundle.rglob("*") if p.is_file()))
    info: dict[str, Any] = {
        "name": "cribside",
        "version": cribside.__version__,
        "release_id": f"{cribside.__version__}-{digest[:8]}",
        "platform": platform,
        "python": PYTHON,
        "models": {k: manifest.get(k) for k in ("model_version", "synthetic", "created_utc")},
        "face_models": f"mediapipe-{MEDIAPIPE_VERSION}",
        "wheels": sorted(p.name for p in wheels.glob("*.whl")),
    }
    (bundle / INFO).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    write_sums(bundle)
    return bundle


def _check_models(models: Path) -> dict[str, Any]:
    """The manifest, after checking every model file it lists by sha256."""
    from cribside.edge.inference.manifest import MANIFEST_FILE, load_manifest, verify_files

    manifest = load_manifest(models)
    verify_files(manifest, models)
    return dict(json.loads((models / MANIFEST_FILE).read_text(encoding="utf-8")))


def _build_own_wheel(src: Path, wheels: Path) -> None:
    """cribside's wheel, built from a clean copy of the checkout.

    setuptools builds in the source folder and keeps its ``build/`` there: a module deleted from
    the checkout would stay in that folder and go into the wheel. The copy leaves out every
    generated or local folder.
    """
    skip = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache",
                                  ".mypy_cache", ".ruff_cache", "tests", "benchmarks", "out")
    with tempfile.TemporaryDirectory(prefix="cribside-wheel-") as tmp:
        clean = Path(tmp) / "src"
        shutil.copytree(src, clean, ignore=skip)
        _pip(["wheel", "--quiet", "--no-deps", "--wheel-dir", str(wheels), str(clean)], "build cribside's wheel")


def _content_digest(bundle: Path, files: Iterable[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(f"{path.relative_to(bundle).as_posix()}\0{sha256_file(path)}\n".encode())
    return digest.hexdigest()
