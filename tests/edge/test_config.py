"""Device config: validation with field paths, environment overrides, schema export, shipped examples."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from pydantic import BaseModel, ValidationError

from cribside.cli import main
from cribside.commands.config_schema import config_json_schema
from cribside.edge.config import ConfigError, DeviceConfig, config_from_dict, default_client_id, load_config
from cribside.edge.config.secrets import read_mqtt_password
from cribside.edge.errors import CribsideError

DEPLOY_CONFIGS = sorted((Path(__file__).parents[2] / "deploy" / "configs").glob("*.yaml"))
SAMPLES = Path(__file__).parents[2] / "edge" / "samples"
NO_ENV: dict[str, str] = {}


def write(tmp_path: Path, data: object, name: str = "c.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return path


def test_defaults_match_the_contract():
    cfg = config_from_dict({}, env=NO_ENV)
    assert cfg.mqtt is None and cfg.cameras == []
    assert (cfg.alerts.k, cfg.alerts.m, cfg.alerts.quiet_s) == (3, 4, 20.0)
    assert (cfg.health.stall_after_s, cfg.health.no_signal_after_s, cfg.health.frozen_frames) == (5.0, 30.0, 30)
    assert cfg.outbox.max_messages == 10000


def test_every_error_is_reported_with_its_field_path(tmp_path):
    data = {
        "modles": {},  # typo at the top level
        "mqtt": {"host": "b", "port": "not-a-port", "tls": {"ca_fil": "x"}},
        "cameras": [{"device_id": "crib-1"}, {"device_id": "Crib 2!", "widht": 3}],
    }
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, data), env=NO_ENV)
    lines = err.value.errors
    joined = "\n".join(lines)
    for path in ("modles: unknown key", "mqtt.port:", "mqtt.tls.ca_fil: unknown key", "cameras[1].device_id:",
                 "cameras[1].widht: unknown key"):
        assert path in joined, joined
    assert len(lines) == 5


def test_cross_field_rules(tmp_path):
    data = {"alerts": {"k": 5, "m": 4}, "cameras": [{"device_id": "a"}, {"device_id": "a"}],
            "mqtt": {"tls": {"cert_file": "c.pem"}}}
    with pytest.raises(ConfigError) as err:
        config_from_dict(data, env=NO_ENV)
    joined = "\n".join(err.value.errors)
    assert "k must be <= m" in joined and "repeated: a" in joined and "cert_file and key_file" in joined


def test_values_are_not_echoed_in_errors():
    with pytest.raises(ConfigError) as err:
        config_from_dict({"mqtt": {"password": "hunter2-secret"}}, env=NO_ENV)
    assert "mqtt.password: not allowed: the password never goes in this file" in str(err.value)
    assert "hunter2" not in str(err.value)


def test_environment_overrides_scalars_at_any_depth():
    env = {"CRIBSIDE__MQTT__HOST": "broker", "CRIBSIDE__MQTT__PORT": "8883", "CRIBSIDE__MQTT__TLS__INSECURE": "true",
           "CRIBSIDE__ALERTS__QUIET_S": "45", "UNRELATED": "x"}
    cfg = config_from_dict({"mqtt": {"host": "from-file"}}, env=env)
    assert cfg.mqtt is not None
    assert (cfg.mqtt.host, cfg.mqtt.port, cfg.mqtt.tls.insecure, cfg.alerts.quiet_s) == ("broker", 8883, True, 45.0)


def test_environment_override_errors_name_the_variable():
    with pytest.raises(ConfigError, match="CRIBSIDE__CAMERAS__0"):
        config_from_dict({}, env={"CRIBSIDE__CAMERAS__0": "x"})
    with pytest.raises(ConfigError, match=r"mqtt\.port: .* \(set by CRIBSIDE__MQTT__PORT\)"):
        config_from_dict({}, env={"CRIBSIDE__MQTT__PORT": "eighty"})


def test_relative_paths_are_resolved_against_the_config_folder(tmp_path):
    sub = tmp_path / "etc"
    sub.mkdir()
    path = write(sub, {"models": {"dir": "models"}, "outbox": {"path": "/abs/o.sqlite"},
                       "cameras": [{"device_id": "a", "source": "video.mp4"}, {"device_id": "b", "source": "v4l2:0"},
                                   {"device_id": "c", "source": "frames:shots"}]})
    cfg = load_config(path, env=NO_ENV)
    assert cfg.models.dir == sub / "models" and cfg.outbox.path == Path("/abs/o.sqlite")
    assert [c.source for c in cfg.cameras] == [str(sub / "video.mp4"), "v4l2:0", f"frames:{sub / 'shots'}"]


def test_unreadable_and_non_yaml_files_are_clear_errors(tmp_path):
    with pytest.raises(CribsideError, match="cannot read config file"):
        load_config(tmp_path / "missing.yaml")
    with pytest.raises(CribsideError, match="not valid YAML at line"):
        load_config(write(tmp_path, "models:\n  dir: [unclosed\n"))
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config(write(tmp_path, "- a list\n"))


# Every float field of the config, with a valid neighbour where a cross-field rule needs one.
FLOAT_FIELDS = [("mqtt", "reconnect", "min_delay_s"), ("mqtt", "reconnect", "max_delay_s"), ("alerts", "quiet_s"),
                ("alerts", "update_interval_s"), ("health", "stall_after_s"), ("health", "no_signal_after_s"),
                ("stats", "interval_s")]


def _float_fields(model: type, prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    found: set[tuple[str, ...]] = set()
    for name, info in model.model_fields.items():
        kinds = [info.annotation, *getattr(info.annotation, "__args__", ())]
        if float in kinds:
            found.add((*prefix, name))
        for kind in kinds:
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                found |= _float_fields(kind, (*prefix, name))
    return found


def test_float_fields_list_is_complete():
    assert _float_fields(DeviceConfig) == set(FLOAT_FIELDS)


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf", ".NaN", ".Inf"])
@pytest.mark.parametrize("field", FLOAT_FIELDS, ids=".".join)
def test_nan_and_infinity_are_rejected_in_every_float_field(tmp_path, field, value):
    text = "".join(f"{'  ' * depth}{key}:\n" for depth, key in enumerate(field[:-1])) + f"{'  ' * (len(field) - 1)}{field[-1]}: {value}\n"
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text), env=NO_ENV)
    assert f"{'.'.join(field)}: Input should be a finite number" in err.value.errors


def test_nan_from_the_environment_is_rejected_and_named():
    with pytest.raises(ConfigError, match=r"alerts\.quiet_s: Input should be a finite number \(set by CRIBSIDE__ALERTS__QUIET_S\)"):
        config_from_dict({}, env={"CRIBSIDE__ALERTS__QUIET_S": "nan"})


def _png_bytes() -> bytes:
    import cv2
    import numpy as np

    ok, data = cv2.imencode(".png", np.zeros((8, 8, 3), np.uint8))
    assert ok
    return data.tobytes()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (bytes(range(256)) * 8, r"not a UTF-8 text file \(byte 0x80 at line 2, offset 128\)"),
        (_png_bytes(), r"not a UTF-8 text file \(byte 0x89 at line 1, offset 0\)"),
        ("models:\n  dir: /opt/cribside/modèles\n".encode("latin-1"), r"not a UTF-8 text file \(byte 0xe8 at line 2, offset 32\)"),
        (b"models: {}\n\x00\x00", r"holds NUL bytes at offset 11"),
        (b"models: {dir: \x07}\n", r"not valid YAML at offset 14: unacceptable character #x0007"),
        (b"[" * 3000 + b"]" * 3000, r"not valid YAML: nested too deeply"),
        (b"models: {dir: 2024-13-45}\n", r"not valid YAML: a value cannot be read \(month must be in 1\.\.12\)"),
        (b"alerts: {k: !!int three}\n", r"not valid YAML: a value cannot be read"),
        (b"alerts: {k: !!timestamp soon}\n", r"not valid YAML: a value cannot be read"),
        (b"x" * (2 << 20), r"larger than 1024 KiB"),
    ],
    ids=["binary", "png", "latin-1", "nul", "control-character", "deep", "bad-date", "bad-int-tag", "bad-timestamp", "huge"],
)
def test_files_that_are_not_yaml_text_are_one_line_errors(tmp_path, content, message):
    path = tmp_path / "c.yaml"
    path.write_bytes(content)
    with pytest.raises(CribsideError, match=message) as err:
        load_config(path, env=NO_ENV)
    assert not isinstance(err.value, ConfigError)
    assert str(err.value).startswith(f"{path}: ") and "\n" not in str(err.value)


def test_a_directory_is_not_a_config(tmp_path):
    with pytest.raises(CribsideError, match=f"cannot read config file {tmp_path}: it is a directory"):
        load_config(tmp_path, env=NO_ENV)


@pytest.mark.parametrize("text", ["- a list\n", "42\n", "just words\n", "true\n", "!!binary aGVsbG8=\n"])
def test_a_document_that_is_not_a_mapping_is_a_config_error(tmp_path, text):
    with pytest.raises(ConfigError, match=r"\(top level\): expected a mapping"):
        load_config(write(tmp_path, text), env=NO_ENV)


def test_config_is_immutable():
    cfg = config_from_dict({"cameras": [{"device_id": "a"}]}, env=NO_ENV)
    with pytest.raises(ValidationError):
        cfg.cameras[0].device_id = "b"  # type: ignore[misc]


def test_client_ids_are_unique_per_device():
    ids = {default_client_id(d, "pi.local", None, 2) for d in ("crib-1", "crib-2")}
    assert ids == {"cribside-crib-1-pi-local", "cribside-crib-2-pi-local"}
    assert default_client_id("crib-1", "h", "fixed", 1) == "fixed"
    assert default_client_id("crib-1", "h", "fixed", 2) == "fixed-crib-1"


def test_password_sources_in_order(tmp_path):
    (tmp_path / "pw").write_text("from-file\n")
    (tmp_path / "creds").mkdir()
    (tmp_path / "creds" / "mqtt_password").write_text("from-credential")
    cfg = config_from_dict({"mqtt": {"username": "u", "password_file": str(tmp_path / "pw")}}, env=NO_ENV).mqtt
    env = {"CRIBSIDE_MQTT_PASSWORD": "from-env", "CREDENTIALS_DIRECTORY": str(tmp_path / "creds")}
    assert read_mqtt_password(cfg, env) == "from-file"
    no_file = cfg.model_copy(update={"password_file": None})
    assert read_mqtt_password(no_file, env) == "from-env"
    assert read_mqtt_password(no_file, {"CREDENTIALS_DIRECTORY": str(tmp_path / "creds")}) == "from-credential"
    assert read_mqtt_password(no_file, {}) is None
    with pytest.raises(CribsideError, match="username is required"):
        read_mqtt_password(no_file.model_copy(update={"username": None}), {"CRIBSIDE_MQTT_PASSWORD": "x"})


def test_schema_export_documents_every_field_and_accepts_the_examples():
    schema = config_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    undocumented = [
        f"{name}.{field}"
        for name, model in schema["$defs"].items()
        for field, spec in model.get("properties", {}).items()
        if not spec.get("description")
    ]
    undocumented += [f for f, spec in schema["properties"].items() if not spec.get("description")]
    assert undocumented == []
    validator = jsonschema.Draft202012Validator(schema)
    for path in DEPLOY_CONFIGS:
        validator.validate(yaml.safe_load(path.read_text()))
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({"mqtt": {"hots": "x"}})


@pytest.mark.parametrize("path", DEPLOY_CONFIGS, ids=lambda p: p.name)
def test_example_configs_validate(path):
    cfg = load_config(path, env=NO_ENV)
    assert isinstance(cfg, DeviceConfig) and cfg.cameras


def test_example_configs_exist():
    assert {p.name for p in DEPLOY_CONFIGS} >= {"pi-cpu.yaml", "pi-coral.yaml", "jetson.yaml", "demo.yaml"}


def test_cli_validate_prints_every_error_and_exits_2(tmp_path, capsys):
    bad = write(tmp_path, {"mqtt": {"port": 0, "colour": "red"}, "cameras": [{"device_id": "x", "height": "tall"}]})
    assert main(["config", "validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "3 error(s)" in err
    for path in ("mqtt.port:", "mqtt.colour: unknown key", "cameras[0].height:"):
        assert path in err


def test_cli_validate_ok_summary_never_shows_the_password(tmp_path, capsys, monkeypatch, face_models_dir):
    # validate now checks what the config refers to: real models, a real video, real face models
    monkeypatch.setenv("CRIBSIDE_FACE_MODELS", str(face_models_dir))
    monkeypatch.setenv("CRIBSIDE_MQTT_PASSWORD", "s3cret-value")
    good = write(tmp_path, {"models": {"dir": str(SAMPLES / "models")}, "mqtt": {"host": "b", "username": "u"},
                            "cameras": [{"device_id": "crib-1", "source": str(SAMPLES / "synthetic_infant_demo.mp4")}]})
    assert main(["config", "validate", str(good)]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("ok:") and "CRIBSIDE_MQTT_PASSWORD" in captured.out
    assert "s3cret" not in captured.out + captured.err


def test_cli_schema_prints_json(capsys):
    assert main(["config", "schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["additionalProperties"] is False and "cameras" in schema["properties"]
