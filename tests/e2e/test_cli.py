"""The command table: every subcommand loads, has --help, the device side never imports TensorFlow,
and bad input (arguments or config files) is one error line with exit 2, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cribside.cli import COMMANDS, main


def _all_commands() -> list[list[str]]:
    names: list[list[str]] = []
    for name, entry in COMMANDS.items():
        if isinstance(entry, dict):
            names += [[name, sub] for sub in entry]
        else:
            names.append([name])
    return names


@pytest.mark.parametrize("words", _all_commands(), ids=" ".join)
def test_every_subcommand_has_help(words, capsys):
    with pytest.raises(SystemExit) as exc:
        main([*words, "--help"])
    assert exc.value.code == 0
    assert "usage: cribside " + " ".join(words) in capsys.readouterr().out


def test_device_commands_do_not_import_tensorflow():
    code = (
        "import sys, pkgutil, importlib, cribside.cli\n"
        "cribside.cli.build_parser()\n"
        "import cribside.edge\n"
        "for m in pkgutil.walk_packages(cribside.edge.__path__, 'cribside.edge.'):\n"
        "    importlib.import_module(m.name)\n"
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False False"


# -- bad input: one line naming the thing at fault, exit 2, never a traceback ------------------------

ROOT = Path(__file__).parents[2]
SAMPLE_MODELS = ROOT / "edge" / "samples" / "models"
JPEG = ROOT / "tests" / "data" / "faces" / "dlib_examples" / "dogs.jpg"


def cribside(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The real command in a subprocess (no NOTIFY_SOCKET: not under systemd here)."""
    env = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET" and not k.startswith("CRIBSIDE")}
    return subprocess.run([sys.executable, "-m", "cribside", *args], capture_output=True, text=True, timeout=120,
                          cwd=cwd, env=env)


def assert_one_line_error(done: subprocess.CompletedProcess[str], command: str, *expected: str) -> None:
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"cribside {command}: error: "), done.stderr
    for text in expected:
        assert text in lines[0], done.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--source", ""], "argument --source: must not be empty"),
        (["--source", "   "], "argument --source: must not be empty"),
        (["--max-seconds", "nan"], "argument --max-seconds: must be a finite number, got nan"),
        (["--max-seconds", "inf"], "argument --max-seconds: must be a finite number, got inf"),
        (["--max-seconds=-inf", "--source", "x.mp4"], "argument --max-seconds: must be a finite number, got -inf"),
        (["--models", str(SAMPLE_MODELS), "--source", "file:"], "camera source 'file:': expected file:<path>"),
        (["--models", str(SAMPLE_MODELS), "--source", "frames:"], "camera source 'frames:': expected frames:<path>"),
        (["--models", str(SAMPLE_MODELS), "--source", "frames:.?fps=nan"], "fps must be a positive number"),
        (["--models", str(SAMPLE_MODELS), "--source", "frames:.?fps=inf"], "fps must be a positive number"),
        (["--models", str(SAMPLE_MODELS), "--source", "frames:.?fps=0"], "fps must be a positive number"),
        (["--models", str(SAMPLE_MODELS), "--source", "v4l2:"], "expected v4l2:<index>"),
        (["--models", str(SAMPLE_MODELS), "--source", "/dev/null"], "video /dev/null is not a regular file"),
        (["--models", str(SAMPLE_MODELS), "--source", "rtmp://nurse:hunter2@cam/x"], "unknown URL scheme rtmp://"),
        (["--models", str(SAMPLE_MODELS), "--source", "gst:videotestsrc ! appsink"],
         "gst: source needs OpenCV built with GStreamer"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else None,
)
def test_bad_run_arguments_are_one_line_errors(tmp_path, args, expected):
    done = cribside("run", *args, cwd=tmp_path)
    assert_one_line_error(done, "run", expected)
    assert "hunter2" not in done.stderr


def _config_files(folder: Path) -> dict[str, tuple[Path, str]]:
    """name -> (a bad config file, what the error must say besides its path)."""
    import numpy as np

    files = {
        "random-bytes": (np.random.default_rng(0).bytes(2000), "not a UTF-8 text file"),
        "png": (b"\x89PNG\r\n\x1a\n" + bytes(64), "not a UTF-8 text file (byte 0x89 at line 1, offset 0)"),
        "jpeg": (JPEG.read_bytes(), "not a UTF-8 text file (byte 0xff at line 1, offset 0)"),
        "latin-1": ("cameras:\n  - device_id: crèche\n".encode("latin-1"), "not a UTF-8 text file (byte 0xe8 at line 2"),
        "nul-bytes": (b"models: {}\n\x00", "holds NUL bytes"),
        "yaml-syntax": (b"models:\n  dir: [unclosed\n", "not valid YAML at line 3"),
        "deep": (b"[" * 3000, "not valid YAML"),
        "bad-date": (b"models: {dir: 2024-02-30}\n", "not valid YAML: a value cannot be read (day is out of range for month)"),
    }
    out = {}
    for name, (content, message) in files.items():
        path = folder / f"{name}.yaml"
        path.write_bytes(content)
        out[name] = (path, message)
    return out


CONFIG_FILE_CASES = ["random-bytes", "png", "jpeg", "latin-1", "nul-bytes", "yaml-syntax", "deep", "bad-date"]


@pytest.mark.parametrize("case", CONFIG_FILE_CASES)
@pytest.mark.parametrize("command", ["run", "config validate"])
def test_config_files_that_are_not_yaml_text_are_one_line_errors(tmp_path, command, case):
    path, message = _config_files(tmp_path)[case]
    done = cribside(*command.split(), *(["--config"] if command == "run" else []), str(path))
    assert_one_line_error(done, command, str(path), message)


@pytest.mark.parametrize("command", ["run", "config validate"])
def test_a_directory_as_config_is_a_one_line_error(tmp_path, command):
    done = cribside(*command.split(), *(["--config"] if command == "run" else []), str(tmp_path))
    assert_one_line_error(done, command, f"cannot read config file {tmp_path}: it is a directory")


@pytest.mark.parametrize(
    ("text", "field_error"),
    [
        ("- models\n- cameras\n", "(top level): expected a mapping"),
        ("42\n", "(top level): expected a mapping"),
        ("health:\n  stall_after_s: .nan\n", "health.stall_after_s: Input should be a finite number"),
        ("alerts:\n  quiet_s: .inf\n", "alerts.quiet_s: Input should be a finite number"),
        ("mqtt:\n  reconnect:\n    max_delay_s: .nan\n", "mqtt.reconnect.max_delay_s: Input should be a finite number"),
    ],
    ids=["list", "scalar", "nan", "inf", "nested-nan"],
)
def test_valid_yaml_that_is_not_a_config_names_the_field(tmp_path, text, field_error):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    run = cribside("run", "--config", str(path))
    assert_one_line_error(run, "run", str(path), field_error)
    validate = cribside("config", "validate", str(path))
    assert "Traceback" not in validate.stderr and validate.returncode == 2
    assert validate.stderr == f"{path}: 1 error(s):\n  {field_error}" + validate.stderr.split(field_error, 1)[1]
    assert validate.stderr.count("\n") == 2


def test_a_bug_still_shows_its_traceback():
    # Bad input is reported in one line; an exception that is not a CribsideError is a bug and must stay visible.
    code = (
        "import cribside.cli, cribside.commands.config_validate as c\n"
        "def broken(args): raise RuntimeError('a bug')\n"
        "c.run = broken\n"
        "raise SystemExit(cribside.cli.main(['config', 'validate', 'x.yaml']))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "Traceback" in done.stderr and "RuntimeError: a bug" in done.stderr
