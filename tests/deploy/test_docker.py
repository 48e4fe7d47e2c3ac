"""The container image (deploy/docker/Dockerfile), built with podman from a real bundle and run.

The bundle is ``host_bundle`` (``cribside bundle`` for this machine); the base image is a Debian
bookworm minbase made here by ``deploy/docker/local-base.sh`` (no registry is needed, only
deb.debian.org), cached as a tarball in pytest's cache. Everything runs in a podman store of its
own under the test's temporary folder, removed afterwards: the machine's images are never touched.

Sandboxes differ in what podman can do: the first of a few flag sets that runs a container is used
(crun fails on a hybrid cgroup v1/v2 host, where runc works; without CAP_SYS_RESOURCE the default
RLIMIT_NOFILE of 1048576 cannot be set, so the limits are passed explicitly).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
DOCKER = ROOT / "deploy" / "docker"
BASE = "localhost/debian:bookworm-slim"
CONFIG = "/etc/cribside/config.yaml"
SECRET = "/run/secrets/mqtt_password"
SAMPLE = "/opt/cribside/current/samples/synthetic_infant_demo.mp4"
UID = 10001
BUILD_TIMEOUT_S = 1200
RUN_TIMEOUT_S = 120

PODMAN = shutil.which("podman")


def container(test):
    """A test that builds or runs the image: slow, and skipped (with the reason) without podman, debootstrap or root."""
    for mark in (
        pytest.mark.slow,
        pytest.mark.skipif(PODMAN is None, reason="needs podman (Debian: apt-get install podman runc)"),
        pytest.mark.skipif(shutil.which("debootstrap") is None, reason="needs debootstrap (Debian: apt-get install debootstrap)"),
        pytest.mark.skipif(os.geteuid() != 0, reason="needs root (podman builds as root; debootstrap makes the base image)"),
    ):
        test = mark(test)
    return test


@dataclass
class Podman:
    """``podman`` on a private store, with the global and ``run`` flags that work on this machine."""

    store: Path
    global_flags: list[str]
    run_flags: list[str]

    def __call__(self, *args: str, timeout: float = RUN_TIMEOUT_S, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [str(PODMAN), "--root", str(self.store / "root"), "--runroot", str(self.store / "run"),
               "--tmpdir", str(self.store / "tmp"), *self.global_flags, *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if check:
            assert proc.returncode == 0, f"{' '.join(cmd)}\nexit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        return proc

    def run(self, image: str, *args: str, flags: tuple[str, ...] = (), check: bool = True) -> subprocess.CompletedProcess[str]:
        """``podman run --rm`` of ``image`` (no health-check timers: they need systemd)."""
        return self("run", "--rm", "--no-healthcheck", *self.run_flags, *flags, image, *args, check=check)


def _limits() -> list[str]:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nofile = 1048576 if hard == resource.RLIM_INFINITY else min(hard, 1048576)
    return ["--ulimit", f"nofile={nofile}:{nofile}", "--ulimit", "nproc=4096:4096"]


def _base_tarball(request: pytest.FixtureRequest, tmp: Path) -> Path:
    """The bookworm minbase root as a tarball, made once per machine (pytest's cache) by local-base.sh."""
    cache = getattr(request.config, "cache", None)
    folder = cache.mkdir("cribside-docker-base") if cache is not None else tmp
    tarball = folder / f"bookworm-minbase-{os.uname().machine}.tar"
    if not tarball.is_file():
        partial = tarball.with_suffix(".partial")
        proc = subprocess.run([str(DOCKER / "local-base.sh"), "--tar", str(partial)], capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
        partial.rename(tarball)
    return tarball


@pytest.fixture(scope="module")
def podman(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Podman]:
    """A private podman store holding the base image, and the flags that run containers here."""
    store = tmp_path_factory.mktemp("podman")
    (store / "tmp").mkdir()
    probe = Podman(store, [], [])
    try:
        probe("import", "--change", 'CMD ["bash"]', str(_base_tarball(request, store)), BASE, timeout=300)
        runtimes = [[]] + ([["--runtime", "runc"]] if shutil.which("runc") else [])
        errors = []
        for limits in ([], _limits()):
            for runtime in runtimes:
                candidate = Podman(store, runtime, limits)
                proc = candidate.run(BASE, "true", check=False)
                if proc.returncode == 0:
                    yield candidate
                    return
                errors.append(f"{' '.join(runtime + limits) or '(no flags)'}: {proc.stderr.strip().splitlines()[-1:]}")
        pytest.fail("podman runs no container here (install runc if crun fails):\n" + "\n".join(errors))
    finally:
        probe("rm", "--all", "--force", check=False)
        probe("rmi", "--all", "--force", check=False, timeout=300)
        shutil.rmtree(store, ignore_errors=True)


def _build(podman: Podman, bundle: Path, tag: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return podman("build", "--pull=never", "--format", "docker", "--build-arg", f"BASE={BASE}",
                  "-f", str(DOCKER / "Dockerfile"), "-t", tag, str(bundle), timeout=BUILD_TIMEOUT_S, check=check)


@pytest.fixture(scope="module")
def image(podman: Podman, host_bundle: Path) -> dict:
    """The image built from the host bundle: its tag, release id, build seconds and size."""
    info = json.loads((host_bundle / "bundle.json").read_text())
    tag = f"localhost/cribside-test:{info['release_id']}"
    start = time.monotonic()
    _build(podman, host_bundle, tag)
    seconds = time.monotonic() - start
    size = int(podman("image", "inspect", "--format", "{{.Size}}", tag).stdout.strip())
    print(f"\nimage {tag}: built in {seconds:.0f} s, {size / 1e6:.0f} MB")
    return {"tag": tag, "info": info, "seconds": seconds, "size": size}


def _config(tmp_path: Path, mqtt: str = "", realtime: bool = False) -> Path:
    """A device config for the container: the bundled models and, as the camera, the bundled sample video."""
    path = tmp_path / "run.yaml"
    path.write_text(f"models:\n  dir: /opt/cribside/models\n  delegate: auto\n{mqtt}"
                    f"outbox:\n  path: /var/lib/cribside/outbox.sqlite\n"
                    f"cameras:\n  - device_id: bed-1\n    source: {SAMPLE}\n    realtime: {str(realtime).lower()}\n",
                    encoding="utf-8")
    path.chmod(0o644)
    return path


def _secret(tmp_path: Path, value: str) -> Path:
    """The MQTT password file, readable by the container's user only (as deploy/docker/README.md says)."""
    path = tmp_path / "mqtt_password"
    path.write_text(value + "\n", encoding="utf-8")
    os.chown(path, UID, UID)
    path.chmod(0o400)
    return path


@container
def test_the_bundle_is_installed_and_runs_as_the_non_root_user(podman: Podman, image: dict) -> None:
    tag, info = image["tag"], image["info"]
    assert podman.run(tag, "--version").stdout.strip() == f"cribside {info['version']}"
    ids = podman.run(tag, "-c", "id -u; id -g; id -Gn", flags=("--entrypoint", "sh")).stdout.split()
    assert ids[:2] == [str(UID), str(UID)] and "video" in ids[2:], ids
    tree = podman.run(tag, "-c", "readlink /opt/cribside/current; stat -c '%U %a' /var/lib/cribside; "
                                 "stat -c '%U:%G %a' /etc/cribside; echo $CRIBSIDE_FACE_MODELS",
                      flags=("--entrypoint", "sh")).stdout.split("\n")
    assert tree[:4] == [f"releases/{info['release_id']}", "cribside 700", "root:cribside 750", "/opt/cribside/face-models"], tree


@container
def test_the_image_declares_its_health_check_volume_user_and_stop_signal(podman: Podman, image: dict) -> None:
    data = json.loads(podman("image", "inspect", image["tag"]).stdout)[0]
    config = data["Config"]
    assert data["Healthcheck"]["Test"] == ["CMD", "cribside", "doctor", "--config", CONFIG, "--quick"], data.get("Healthcheck")
    assert config["User"] == "cribside"  # no group: its supplementary groups (video) apply
    assert config["StopSignal"] == "SIGTERM"
    assert "/var/lib/cribside" in config["Volumes"]
    assert config["Entrypoint"] == ["cribside"] and config["Cmd"] == ["run", "--config", CONFIG]
    assert "CRIBSIDE_FACE_MODELS=/opt/cribside/face-models" in config["Env"]
    # Python only at run time (the OS's, which the venv links to): the builder's python3-venv stays behind.
    out = podman.run(image["tag"], "-c", "/usr/bin/python3 --version; dpkg -s python3-venv >/dev/null 2>&1 && echo venv || echo no-venv",
                     flags=("--entrypoint", "sh")).stdout.split()
    assert out[0] == "Python" and out[1].startswith(image["info"]["python"] + ".") and out[2] == "no-venv", out


def _example_config(tmp_path: Path) -> Path:
    """deploy/docker/config.example.yaml as shipped, with the bundled sample video for the camera."""
    text = (DOCKER / "config.example.yaml").read_text(encoding="utf-8")
    assert "source: v4l2:/dev/video0" in text
    path = tmp_path / "config.yaml"
    path.write_text(text.replace("source: v4l2:/dev/video0", f"source: {SAMPLE}"), encoding="utf-8")
    path.chmod(0o644)
    return path


# What compose.yaml asks of the container (and what the systemd unit asks of the service).
HARDENED = ("--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL", "--security-opt", "no-new-privileges")


@container
def test_doctor_quick_passes_with_the_example_config_in_a_read_only_container(podman: Podman, image: dict,
                                                                              tmp_path: Path) -> None:
    config = _example_config(tmp_path)
    secret = _secret(tmp_path, "not-used-by-quick")
    proc = podman.run(image["tag"], "doctor", "--config", CONFIG, "--quick", "--json",
                      flags=(*HARDENED, "--network", "none", "-v", f"{config}:{CONFIG}:ro", "-v", f"{secret}:{SECRET}:ro"),
                      check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
    rows = {r["check"]: r for r in json.loads(proc.stdout)}
    assert {rows[c]["result"] for c in ("config", "face models", "disk")} == {"pass"}, rows
    assert rows["models"]["result"] == "warn" and "SYNTHETIC" in rows["models"]["detail"]
    # delegate auto: the image has no GPU delegate library, so the CPU, and the log says why.
    assert "delegate cpu" in rows["models"]["detail"]
    assert "cannot load libtensorflowlite_gpu_delegate.so" in proc.stderr


@container
def test_a_gpu_delegate_library_added_to_the_image_is_found_by_name(podman: Podman, image: dict, tmp_path: Path) -> None:
    # Dockerfile.gpu-delegate with a library that is no delegate (the host's zlib): found on the
    # linker's path by its name, refused for the missing entry point, and auto falls back to the CPU.
    zlib = next(p for p in (Path("/lib") / f"{os.uname().machine}-linux-gnu" / "libz.so.1", Path("/usr/lib/libz.so.1")) if p.is_file())
    context = tmp_path / "gpu"
    context.mkdir()
    shutil.copy(zlib, context / "libtensorflowlite_gpu_delegate.so")
    tag = image["tag"] + "-gpu"
    podman("build", "--pull=never", "--format", "docker", "--build-arg", f"IMAGE={image['tag']}",
           "-f", str(DOCKER / "Dockerfile.gpu-delegate"), "-t", tag, str(context), timeout=300)
    config = _config(tmp_path)
    proc = podman.run(tag, "doctor", "--config", CONFIG, "--quick", "--json", flags=("-v", f"{config}:{CONFIG}:ro"), check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
    assert "libtensorflowlite_gpu_delegate.so is not a TFLite delegate library" in proc.stderr, proc.stderr[-2000:]
    assert podman.run(tag, "-u", flags=("--entrypoint", "id")).stdout.strip() == str(UID)


@container
def test_the_container_publishes_is_healthy_and_stops_cleanly_on_sigterm(podman: Podman, image: dict, tmp_path: Path,
                                                                        mosquitto_auth, subscriber) -> None:
    sub = subscriber(mosquitto_auth, ("cribside/#",))
    config = _config(tmp_path, f"mqtt:\n  host: {mosquitto_auth.host}\n  port: {mosquitto_auth.port}\n  prefix: cribside\n"
                               f"  username: {mosquitto_auth.username}\n  password_file: {SECRET}\n", realtime=True)
    secret = _secret(tmp_path, mosquitto_auth.password)
    outbox = tmp_path / "outbox"
    outbox.mkdir(mode=0o700)
    os.chown(outbox, UID, UID)
    # The image's own ENTRYPOINT and CMD: cribside run --config /etc/cribside/config.yaml.
    started = podman("run", "-d", *podman.run_flags, *HARDENED, "--network", "host",
                     "-v", f"{config}:{CONFIG}:ro", "-v", f"{secret}:{SECRET}:ro", "-v", f"{outbox}:/var/lib/cribside",
                     image["tag"])
    container = started.stdout.strip().splitlines()[-1]
    try:
        sub.wait_for("cribside/bed-1/availability", where=lambda m: m.payload == b"online", timeout_s=60)
        state = json.loads(sub.wait_for("cribside/bed-1/state", timeout_s=60)[-1].payload)
        assert state["model"]["synthetic"] is True, state
        health = podman("healthcheck", "run", container, check=False)
        status = podman("inspect", "--format", "{{.State.Health.Status}}", container).stdout.strip()
        assert health.returncode == 0 and status == "healthy", health.stdout + health.stderr + status
        podman("stop", "--time", "30", container, timeout=60)
        exit_code = podman("inspect", "--format", "{{.State.ExitCode}}", container).stdout.strip()
        done = podman("logs", container)
        logs = done.stdout + done.stderr
        assert exit_code == "0", logs[-3000:]
        assert "SIGTERM received" in logs
        sub.wait_for("cribside/bed-1/availability", where=lambda m: m.payload == b"stopped", timeout_s=15)
        db = outbox / "outbox.sqlite"
        assert db.is_file() and db.stat().st_uid == UID, sorted(p.name for p in outbox.iterdir())
    finally:
        podman("rm", "--force", container, check=False)


@container
def test_a_bundle_for_another_platform_is_refused(podman: Podman, image: dict, host_bundle: Path, tmp_path: Path) -> None:
    from support.release import derived_bundle

    other = "linux_aarch64" if os.uname().machine == "x86_64" else "linux_x86_64"

    def retarget(bundle: Path) -> None:
        info = json.loads((bundle / "bundle.json").read_text())
        info["platform"] = other
        (bundle / "bundle.json").write_text(json.dumps(info, indent=2) + "\n")

    bundle = derived_bundle(host_bundle, tmp_path, image["info"]["release_id"] + "-other", retarget)
    proc = _build(podman, bundle, "localhost/cribside-test:wrong-platform", check=False)
    assert proc.returncode != 0
    assert f"the bundle is for {other} but this image is linux_{os.uname().machine}" in proc.stdout + proc.stderr


def test_compose_example_matches_the_image() -> None:
    import yaml

    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text(encoding="utf-8"))
    service = compose["services"]["cribside"]
    targets = {v.split(":")[1] for v in service["volumes"]}
    assert {"/var/lib/cribside", CONFIG} <= targets
    assert f"./config.yaml:{CONFIG}:ro" in service["volumes"]
    assert service["secrets"] == ["mqtt_password"] and compose["secrets"]["mqtt_password"]["file"] == "./mqtt_password"
    assert any(d.endswith(":/dev/video0") for d in service["devices"])
    assert service["read_only"] is True and service["cap_drop"] == ["ALL"]
    example = yaml.safe_load((DOCKER / "config.example.yaml").read_text(encoding="utf-8"))
    assert example["mqtt"]["password_file"] == SECRET  # compose puts secret mqtt_password there
    assert example["outbox"]["path"].startswith("/var/lib/cribside/")
    assert example["cameras"][0]["source"] == "v4l2:/dev/video0"
    from cribside.edge.config import DeviceConfig

    DeviceConfig.model_validate(example)  # the schema accepts it (the paths are the image's, checked in the container)
