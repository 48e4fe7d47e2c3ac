"""Log lines carry journald priorities when stderr is the journal, so ``journalctl -u cribside -p err`` finds errors."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path


def test_priorities_follow_the_log_level() -> None:
    from cribside.cli import log_formatter

    fmt = log_formatter(journal=True)
    line = lambda level: fmt.format(logging.LogRecord("cribside.x", level, __file__, 1, "m", None, None))  # noqa: E731
    assert [line(lvl)[:3] for lvl in (logging.ERROR, logging.WARNING, logging.INFO, logging.DEBUG)] == ["<3>", "<4>", "<6>", "<7>"]
    assert line(logging.CRITICAL).startswith("<2>")
    assert not log_formatter(journal=False).format(logging.LogRecord("x", logging.ERROR, __file__, 1, "m", None, None)).startswith("<")


def test_journal_is_detected_by_journal_stream_matching_stderr(tmp_path: Path) -> None:
    code = ("import logging, sys, cribside.cli as c; h = logging.StreamHandler(sys.stderr); "
            "h.setFormatter(c.log_formatter(journal=c.stderr_is_journal())); logging.getLogger().addHandler(h); "
            "logging.getLogger('cribside').error('camera lost')")
    log = tmp_path / "stderr.txt"
    for journal in (True, False):
        with log.open("w") as err:
            st = os.fstat(err.fileno())
            env = {**os.environ, "JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}" if journal else "1:2"}
            subprocess.run([sys.executable, "-c", code], stderr=err, env=env, check=True)
        text = log.read_text()
        assert text.startswith("<3>ERROR cribside: camera lost") is journal, text
