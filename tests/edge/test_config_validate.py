"""``cribside config validate``: every file a config refers to is checked, no secret is printed.

Real files throughout: the shipped demo models (edge/samples/models) and video, real
face models (``face_models_dir``), certificates made by the openssl command line.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cribside.cli import main
from cribside.edge.config import config_from_dict
from cribside.edge.config.secrets import (
    config_file_warnings,
    is_loopback_host,
    plain_tcp_warnings,
    secret_file_warnings,
    security_warnings,
)
from cribside.edge.sources.base import redact_url

ROOT = Path(__file__).parents[2]
SAMPLE_MODELS = ROOT / "edge" / "samples" / "models"
SAMPLE_VIDEO = ROOT / "edge" / "samples" / "synthetic_infant_demo.mp4"
NO_ENV: dict[str, str] = {}


@pytest.fixture(autouse=True)
def _face_models_here(face_models_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real face models where validate (and the aligner) look; no password from the caller's shell."""
    monkeypatch.setenv("CRIBSIDE_FACE_MODELS", str(face_models_dir))
    monkeypatch.delenv("CRIBSIDE_MQTT_PASSWORD", raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)


def config(tmp_path: Path, **sections: object) -> dict:
    """A valid config: the demo models, the demo video; ``sections`` replace or add sections."""
    crib = {"crib": [[0.1, 0.2], [0.7, 0.2], [0.7, 0.9], [0.1, 0.9]]}
    data: dict = {"models": {"dir": str(SAMPLE_MODELS)}, "cameras": [{"device_id": "crib-1", "source": str(SAMPLE_VIDEO), "zone": crib}]}
    data.update(sections)
    return data


def write(tmp_path: Path, data: object, name: str = "device.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    path.chmod(0o644)
    return path


def validate(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["config", "validate", str(path)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def problem_lines(err: str) -> list[str]:
    """The indented problem lines after the ``FILE: N problem(s):`` header."""
    return [line.strip() for line in err.splitlines() if line.startswith("  ")]


def test_a_complete_config_is_ok_with_its_summary(tmp_path, capsys):
    code, out, err = validate(write(tmp_path, config(tmp_path)), capsys)
    assert code == 0, err
    assert out.startswith("ok: ") and f"models: {SAMPLE_MODELS}" in out and f"crib-1: {SAMPLE_VIDEO}" in out
    assert "crib zone of 4 points, 42% of the frame" in out  # 0.6 x 0.7
    assert err == ""


def test_the_shipped_demo_config_validates(capsys):
    code, out, err = validate(ROOT / "deploy" / "configs" / "demo.yaml", capsys)
    assert code == 0 and err == "", err
    assert "crib zone of 4 points, 100% of the frame" in out


def test_a_camera_without_a_crib_zone_is_a_warning(tmp_path, capsys):
    data = config(tmp_path)
    data["cameras"] = [{"device_id": "crib-1", "source": str(SAMPLE_VIDEO)},
                       {"device_id": "crib-2", "source": str(SAMPLE_VIDEO), "zone": {"masks": [[[0, 0], [0.2, 0], [0.2, 0.2]]]}},
                       data["cameras"][0] | {"device_id": "crib-3"}]
    code, out, err = validate(write(tmp_path, data), capsys)
    assert code == 0 and out.startswith("ok:")
    lines = err.splitlines()
    assert len(lines) == 2 and all(line.startswith("warning: cameras[crib-") for line in lines), err
    assert lines[0].startswith("warning: cameras[crib-1].zone.crib: not set, so the whole frame is the crib")
    assert "--camera crib-1" in lines[0] and "crib-2" in lines[1]  # masks alone do not say where the infant lies
    assert "crib-1: " in out and "no crib zone (the whole frame)" in out and "no crib zone (the whole frame), 1 mask" in out


def _missing_models(tmp_path: Path) -> tuple[dict, str]:
    return config(tmp_path, models={"dir": str(tmp_path / "no-models")}), f"models.dir: folder not found: {tmp_path / 'no-models'}"


def _no_manifest(tmp_path: Path) -> tuple[dict, str]:
    (tmp_path / "empty-models").mkdir()
    return config(tmp_path, models={"dir": str(tmp_path / "empty-models")}), f"models.dir: no manifest.json in {tmp_path / 'empty-models'}"


def _model_file_missing(tmp_path: Path) -> tuple[dict, str]:
    models = Path(shutil.copytree(SAMPLE_MODELS, tmp_path / "models"))
    (models / "encoder.int8.tflite").unlink()
    return config(tmp_path, models={"dir": str(models)}), f"models.dir: model file missing: {models / 'encoder.int8.tflite'}"


def _model_file_damaged(tmp_path: Path) -> tuple[dict, str]:
    models = Path(shutil.copytree(SAMPLE_MODELS, tmp_path / "models"))
    victim = models / "classifier.dynamic.tflite"
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    return config(tmp_path, models={"dir": str(models)}), f"models.dir: model file {victim} does not match manifest.json"


def _variant_not_converted(tmp_path: Path) -> tuple[dict, str]:
    return config(tmp_path, models={"dir": str(SAMPLE_MODELS), "variant": "float32"}), "models.variant: float32 is not in"


def _face_models_missing(tmp_path: Path) -> tuple[dict, str]:
    os.environ["CRIBSIDE_FACE_MODELS"] = str(tmp_path / "no-face-models")  # restored by the autouse monkeypatch
    return config(tmp_path), f"face models ($CRIBSIDE_FACE_MODELS): face model face_detection_short_range.tflite not found in {tmp_path / 'no-face-models'}"


def _video_missing(tmp_path: Path) -> tuple[dict, str]:
    return config(tmp_path, cameras=[{"device_id": "a", "source": f"file:{tmp_path / 'gone.mp4'}"}]), f"cameras[0].source: not found: {tmp_path / 'gone.mp4'}"


def _video_not_a_video(tmp_path: Path) -> tuple[dict, str]:
    (tmp_path / "notes.mp4").write_text("not a video\n")
    return config(tmp_path, cameras=[{"device_id": "a", "source": str(tmp_path / "notes.mp4")}]), f"cameras[0].source: cannot read video {tmp_path / 'notes.mp4'}"


def _frames_folder_missing(tmp_path: Path) -> tuple[dict, str]:
    return config(tmp_path, cameras=[{"device_id": "a", "source": f"frames:{tmp_path / 'shots'}?fps=3"}]), f"cameras[0].source: not found: {tmp_path / 'shots'}"


def _frames_folder_empty(tmp_path: Path) -> tuple[dict, str]:
    (tmp_path / "shots").mkdir()
    return config(tmp_path, cameras=[{"device_id": "a", "source": f"frames:{tmp_path / 'shots'}"}]), f"cameras[0].source: frames folder {tmp_path / 'shots'} has no"


def _second_camera_missing(tmp_path: Path) -> tuple[dict, str]:
    cameras = [{"device_id": "a", "source": str(SAMPLE_VIDEO)}, {"device_id": "b", "source": str(tmp_path / "b.mp4")}]
    return config(tmp_path, cameras=cameras), f"cameras[1].source: not found: {tmp_path / 'b.mp4'}"


def _no_camera(tmp_path: Path) -> tuple[dict, str]:
    return config(tmp_path, cameras=[]), "cameras: no camera configured"


def _gst_without_gstreamer(tmp_path: Path) -> tuple[dict, str]:
    cameras = [{"device_id": "a", "source": "gst:videotestsrc ! videoconvert ! appsink"}]
    return config(tmp_path, cameras=cameras), "cameras[0].source: gst: source needs OpenCV built with GStreamer"


def _password_file_missing(tmp_path: Path) -> tuple[dict, str]:
    mqtt = {"host": "localhost", "username": "u", "password_file": str(tmp_path / "pw")}
    return config(tmp_path, mqtt=mqtt), f"mqtt.password_file: cannot read {tmp_path / 'pw'}: No such file or directory"


def _password_file_empty(tmp_path: Path) -> tuple[dict, str]:
    (tmp_path / "pw").write_text("\n")
    (tmp_path / "pw").chmod(0o600)
    mqtt = {"host": "localhost", "username": "u", "password_file": str(tmp_path / "pw")}
    return config(tmp_path, mqtt=mqtt), f"mqtt.password_file: {tmp_path / 'pw'} is empty"


def _password_without_user(tmp_path: Path) -> tuple[dict, str]:
    (tmp_path / "pw").write_text("secret-value\n")
    (tmp_path / "pw").chmod(0o600)
    return config(tmp_path, mqtt={"host": "localhost", "password_file": str(tmp_path / "pw")}), "mqtt.username is required with a password"


def _ca_file_missing(tmp_path: Path) -> tuple[dict, str]:
    mqtt = {"host": "broker", "port": 8883, "tls": {"ca_file": str(tmp_path / "ca.pem")}}
    return config(tmp_path, mqtt=mqtt), f"mqtt.tls.ca_file: cannot read {tmp_path / 'ca.pem'}: No such file or directory"


def _ca_file_not_pem(tmp_path: Path) -> tuple[dict, str]:
    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
    mqtt = {"host": "broker", "port": 8883, "tls": {"ca_file": str(tmp_path / "ca.pem")}}
    return config(tmp_path, mqtt=mqtt), f"mqtt.tls.ca_file: {tmp_path / 'ca.pem'} is not a PEM CA certificate"


def _key_file_missing(tmp_path: Path) -> tuple[dict, str]:
    certs = make_certificates(tmp_path)
    tls = {"ca_file": str(certs["ca"]), "cert_file": str(certs["cert"]), "key_file": str(tmp_path / "gone.key")}
    return config(tmp_path, mqtt={"host": "broker", "port": 8883, "tls": tls}), f"mqtt.tls.key_file: cannot read {tmp_path / 'gone.key'}"


def _key_of_another_certificate(tmp_path: Path) -> tuple[dict, str]:
    certs = make_certificates(tmp_path)
    tls = {"ca_file": str(certs["ca"]), "cert_file": str(certs["cert"]), "key_file": str(certs["ca_key"])}
    return config(tmp_path, mqtt={"host": "broker", "port": 8883, "tls": tls}), f"mqtt.tls.cert_file: cannot load {certs['cert']} with key {certs['ca_key']}"


def _key_with_a_passphrase(tmp_path: Path) -> tuple[dict, str]:
    certs = make_certificates(tmp_path)
    tls = {"ca_file": str(certs["ca"]), "cert_file": str(certs["cert"]), "key_file": str(certs["encrypted_key"])}
    return config(tmp_path, mqtt={"host": "broker", "port": 8883, "tls": tls}), f"mqtt.tls.key_file: {certs['encrypted_key']} is encrypted with a passphrase"


def _outbox_is_a_folder(tmp_path: Path) -> tuple[dict, str]:
    return config(tmp_path, mqtt={"host": "localhost"}, outbox={"path": str(tmp_path)}), f"outbox.path: {tmp_path} is a directory"


MISSING = [
    _missing_models, _no_manifest, _model_file_missing, _model_file_damaged, _variant_not_converted, _face_models_missing,
    _video_missing, _video_not_a_video, _frames_folder_missing, _frames_folder_empty, _second_camera_missing, _no_camera,
    _gst_without_gstreamer, _password_file_missing, _password_file_empty, _password_without_user, _ca_file_missing,
    _ca_file_not_pem, _key_file_missing, _key_of_another_certificate, _key_with_a_passphrase, _outbox_is_a_folder,
]


@pytest.mark.parametrize("case", MISSING, ids=lambda f: f.__name__.strip("_"))
def test_each_missing_or_broken_reference_is_one_line_and_exit_2(case, tmp_path, capsys):
    data, expected = case(tmp_path)
    code, out, err = validate(write(tmp_path, data), capsys)
    assert code == 2, out
    assert "ok:" not in out
    lines = problem_lines(err)
    assert len(lines) == 1, err
    assert lines[0].startswith(expected), err
    assert "1 problem(s)" in err


def test_every_problem_is_listed_at_once(tmp_path, capsys):
    data = config(
        tmp_path,
        models={"dir": str(tmp_path / "no-models")},
        cameras=[{"device_id": "a", "source": str(tmp_path / "a.mp4")}, {"device_id": "b", "source": str(tmp_path / "b.mp4")}],
        mqtt={"host": "localhost", "username": "u", "password_file": str(tmp_path / "pw"),
              "tls": {"ca_file": str(tmp_path / "ca.pem")}},
    )
    code, _, err = validate(write(tmp_path, data), capsys)
    assert code == 2
    fields = [line.split(":", 1)[0] for line in problem_lines(err)]
    assert fields == ["models.dir", "cameras[0].source", "cameras[1].source", "mqtt.password_file", "mqtt.tls.ca_file"]


def test_relative_paths_are_checked_against_the_config_folder(tmp_path, capsys):
    etc = tmp_path / "etc"
    etc.mkdir()
    shutil.copy(SAMPLE_VIDEO, etc / "clip.mp4")
    data = config(tmp_path, cameras=[{"device_id": "a", "source": "clip.mp4"}, {"device_id": "b", "source": "file:missing.mp4"}])
    code, _, err = validate(write(etc, data), capsys)
    assert code == 2
    assert problem_lines(err) == [f"cameras[1].source: not found: {etc / 'missing.mp4'}"]


# -- secrets ----------------------------------------------------------------------------------------


def test_stream_credentials_are_never_printed(tmp_path, capsys):
    cameras = [
        {"device_id": "a", "source": "rtsp://nurse:hunter2@10.0.0.5:554/crib"},
        {"device_id": "b", "source": "http://10.0.0.6/video.cgi?user=admin&pwd=hunter3&res=1"},
        {"device_id": "c", "source": str(SAMPLE_VIDEO)},
    ]
    code, out, err = validate(write(tmp_path, config(tmp_path, cameras=cameras)), capsys)
    assert code == 0, err
    assert "hunter" not in out + err
    assert "a: rtsp://10.0.0.5:554/crib" in out and "b: http://10.0.0.6/video.cgi?user=***&pwd=***&res=1" in out


def test_credentials_are_redacted_in_errors_too(tmp_path, capsys):
    cameras = [{"device_id": "a", "source": "rtmp://nurse:hunter2@10.0.0.5/crib"},
               {"device_id": "b", "source": "RTSP://nurse:hunter2@10.0.0.5/crib"}]
    code, out, err = validate(write(tmp_path, config(tmp_path, cameras=cameras)), capsys)
    assert code == 2
    assert "hunter2" not in out + err
    assert problem_lines(err) == [
        "cameras[0].source: camera source 'rtmp://10.0.0.5/crib': unknown URL scheme rtmp:// "
        "(known: rtsp://, rtsps://, http://, https://)"
    ]


def test_the_password_is_never_printed(tmp_path, capsys):
    (tmp_path / "pw").write_text("hunter2-secret\n")
    (tmp_path / "pw").chmod(0o600)
    mqtt = {"host": "localhost", "username": "u", "password_file": str(tmp_path / "pw")}
    code, out, err = validate(write(tmp_path, config(tmp_path, mqtt=mqtt)), capsys)
    assert code == 0, err
    assert f"password from file {tmp_path / 'pw'}" in out and "hunter2" not in out + err


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        ("rtsp://nurse:secret@10.0.0.5:554/crib", "rtsp://10.0.0.5:554/crib"),
        ("rtsp://nurse@10.0.0.5/crib", "rtsp://10.0.0.5/crib"),
        ("rtsp://nurse:se/c@ret@10.0.0.5/crib", "rtsp://10.0.0.5/crib"),  # '/' and '@' in the password
        ("RTSPS://nurse:secret@cam.local/x", "RTSPS://cam.local/x"),
        ("http://cam/snap.cgi?user=admin&pwd=secret", "http://cam/snap.cgi?user=***&pwd=***"),
        ("https://cam/live?token=secret#frag", "https://cam/live?token=***#frag"),
        ('rtspsrc location="rtsp://a:secret@h/x" user-pw=secret ! appsink', 'rtspsrc location="rtsp://h/x" user-pw=*** ! appsink'),
        ("cannot open rtsp://a:secret@h/x and rtsp://b:secret@k/y", "cannot open rtsp://h/x and rtsp://k/y"),
        ("rtsp://10.0.0.5/crib", "rtsp://10.0.0.5/crib"),
        ("/data/videos/clip.mp4", "/data/videos/clip.mp4"),
        ("frames:/data/shots?fps=3", "frames:/data/shots?fps=3"),
    ],
)
def test_redact_url(url, redacted):
    assert redact_url(url) == redacted
    assert "secret" not in redact_url(url)


# -- warnings ---------------------------------------------------------------------------------------


def test_a_password_file_others_can_read_is_a_warning_not_an_error(tmp_path, capsys):
    (tmp_path / "pw").write_text("secret-value\n")
    mqtt = {"host": "localhost", "username": "u", "password_file": str(tmp_path / "pw")}
    path = write(tmp_path, config(tmp_path, mqtt=mqtt))
    for mode, who in ((0o644, "everyone"), (0o640, "its group")):
        (tmp_path / "pw").chmod(mode)
        code, out, err = validate(path, capsys)
        assert code == 0 and out.startswith("ok:")
        assert err.startswith(f"warning: mqtt.password_file: {tmp_path / 'pw'} is readable by {who}")
        assert err.endswith(f" (mode {mode:04o}): chmod 600 {tmp_path / 'pw'}\n") and err.count("\n") == 1
    (tmp_path / "pw").chmod(0o600)
    assert validate(path, capsys)[2] == ""


def test_a_tls_key_others_can_read_is_a_warning(tmp_path, capsys):
    certs = make_certificates(tmp_path)
    tls = {"ca_file": str(certs["ca"]), "cert_file": str(certs["cert"]), "key_file": str(certs["key"])}
    path = write(tmp_path, config(tmp_path, mqtt={"host": "broker", "port": 8883, "tls": tls}))
    code, out, err = validate(path, capsys)
    assert code == 0 and err == "", err  # a complete TLS set-up: no problem, no warning
    certs["key"].chmod(0o644)
    code, out, err = validate(path, capsys)
    assert code == 0
    assert err.startswith(f"warning: mqtt.tls.key_file: {certs['key']} is readable by everyone (mode 0644)")


def test_credentials_over_plain_tcp_to_another_host_are_a_warning(tmp_path, capsys):
    code, out, err = validate(write(tmp_path, config(tmp_path, mqtt={"host": "broker.ward5", "username": "u"})), capsys)
    assert code == 0
    assert err == ("warning: mqtt: user name and password go to broker.ward5:1883 over plain TCP, readable by anyone "
                   "on the network: set mqtt.tls.ca_file (and use port 8883)\n")
    for quiet in ({"host": "localhost", "username": "u"}, {"host": "broker.ward5"}):
        assert validate(write(tmp_path, config(tmp_path, mqtt=quiet)), capsys)[2] == ""


def test_a_config_others_can_change_is_a_warning(tmp_path, capsys):
    path = write(tmp_path, config(tmp_path))
    path.chmod(0o666)
    code, _, err = validate(path, capsys)
    assert code == 0 and err == f"warning: config: {path} can be changed by everyone (mode 0666): chmod go-w {path}\n"


def test_warning_functions_for_cribside_run(tmp_path):
    pw = tmp_path / "pw"
    pw.write_text("x\n")
    pw.chmod(0o604)
    cfg = config_from_dict({"mqtt": {"host": "10.0.0.10", "username": "u", "password_file": str(pw)}}, env=NO_ENV)
    assert secret_file_warnings(cfg.mqtt) == [f"mqtt.password_file: {pw} is readable by everyone (mode 0604): chmod 600 {pw}"]
    assert len(plain_tcp_warnings(cfg.mqtt, NO_ENV)) == 1
    assert len(security_warnings(cfg, None, NO_ENV)) == 2
    anonymous = config_from_dict({"mqtt": {"host": "10.0.0.10"}}, env=NO_ENV).mqtt
    assert plain_tcp_warnings(anonymous, NO_ENV) == []
    assert len(plain_tcp_warnings(anonymous, {"CRIBSIDE_MQTT_PASSWORD": "x"})) == 1  # a password from the environment
    assert security_warnings(config_from_dict({}, env=NO_ENV)) == []
    assert config_file_warnings(tmp_path / "missing.yaml") == []


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST.", "127.0.0.1", "127.1.2.3", "::1", "[::1]", "cam.localhost"])
def test_loopback_hosts(host):
    assert is_loopback_host(host)


@pytest.mark.parametrize("host", ["broker", "10.0.0.10", "localhost.example.com", "::ffff:10.0.0.1", "0.0.0.0"])
def test_other_hosts_are_not_loopback(host):
    assert not is_loopback_host(host)


# -- the real command -------------------------------------------------------------------------------


def test_the_command_as_a_subprocess(tmp_path, face_models_dir):
    good = write(tmp_path, config(tmp_path, cameras=[{"device_id": "a", "source": str(SAMPLE_VIDEO)},
                                                      {"device_id": "b", "source": "rtsp://nurse:hunter2@cam/x"}]))
    bad = write(tmp_path, config(tmp_path, models={"dir": str(tmp_path / "none")}), "bad.yaml")
    env = {**os.environ, "CRIBSIDE_FACE_MODELS": str(face_models_dir)}
    env.pop("CRIBSIDE_MQTT_PASSWORD", None)
    ok = subprocess.run([sys.executable, "-m", "cribside", "config", "validate", str(good)], capture_output=True, text=True, env=env)
    assert ok.returncode == 0 and ok.stdout.startswith(f"ok: {good}") and "hunter2" not in ok.stdout + ok.stderr
    failed = subprocess.run([sys.executable, "-m", "cribside", "config", "validate", str(bad)], capture_output=True, text=True, env=env)
    assert failed.returncode == 2 and "Traceback" not in failed.stderr
    assert failed.stderr == f"{bad}: 1 problem(s):\n  models.dir: folder not found: {tmp_path / 'none'}\n"


# -- certificates -----------------------------------------------------------------------------------


def make_certificates(folder: Path) -> dict[str, Path]:
    """A CA, a client certificate it signed, its key (0600), and the same key with a passphrase."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")
    out = folder / "certs"
    out.mkdir(exist_ok=True)
    paths = {name: out / file for name, file in (("ca", "ca.crt"), ("ca_key", "ca.key"), ("cert", "client.crt"),
                                                 ("key", "client.key"), ("encrypted_key", "client-encrypted.key"))}

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=cribside test CA",
            "-keyout", str(paths["ca_key"]), "-out", str(paths["ca"]))
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=crib-1", "-keyout", str(paths["key"]),
            "-out", str(out / "client.csr"))
    openssl("x509", "-req", "-in", str(out / "client.csr"), "-CA", str(paths["ca"]), "-CAkey", str(paths["ca_key"]),
            "-CAcreateserial", "-days", "2", "-out", str(paths["cert"]))
    openssl("pkey", "-in", str(paths["key"]), "-aes256", "-passout", "pass:correct horse", "-out", str(paths["encrypted_key"]))
    for key in ("ca_key", "key", "encrypted_key"):
        paths[key].chmod(0o600)
    return paths


def test_run_logs_the_same_warnings_at_start(tmp_path, caplog):
    """``cribside run`` warns about a readable password file before it starts watching."""
    import logging

    pw = tmp_path / "pw"
    pw.write_text("secret\n")
    pw.chmod(0o644)
    data = config(tmp_path, mqtt={"host": "127.0.0.1", "username": "crib-1", "password_file": str(pw)})
    data["models"] = {"dir": str(tmp_path / "no-models")}  # stops the run right after the warnings
    path = write(tmp_path, data)
    caplog.set_level(logging.WARNING, logger="cribside.commands.run")
    assert main(["run", "--config", str(path)]) == 2
    warnings = [r.getMessage() for r in caplog.records if r.name == "cribside.commands.run"]
    assert any(f"mqtt.password_file: {pw} is readable by everyone" in w for w in warnings), warnings
    assert not any("zone" in w for w in warnings), warnings  # this camera has its crib zone
    data["cameras"][0].pop("zone")
    caplog.clear()
    assert main(["run", "--config", str(write(tmp_path, data))]) == 2
    warnings = [r.getMessage() for r in caplog.records if r.name == "cribside.commands.run"]
    assert any(w.startswith("cameras[crib-1].zone.crib: not set") for w in warnings), warnings
    assert all("secret" not in w for w in warnings)
