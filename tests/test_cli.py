"""The command table: every subcommand loads, has --help, and the device side never imports TensorFlow."""

from __future__ import annotations

import subprocess
import sys

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
