"""Runs a built device: one thread per camera loop, signals, the watchdog and liveness (``cribside run``).

SIGTERM or SIGINT: every camera finishes its current frame, the outbox is
flushed, ``offline`` is published, and the process exits 0. Under systemd
(``Type=notify``) READY=1 is sent once everything is running, and WATCHDOG=1
only while every camera loop, the MQTT network loops and the outbox sender are
alive and making progress.

The process is its own watchdog too, with or without systemd: a camera loop
that fails, a publisher thread that dies, or a camera loop hung for
``_HUNG_EXIT_S`` ends the run with a non-zero exit (``offline`` is still
published), so a service manager restarts it and consumers never see a silent
device as a watching one.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from typing import TYPE_CHECKING

from cribside.edge.app.systemd import Notifier
from cribside.edge.errors import CribsideError

if TYPE_CHECKING:
    from cribside.edge.app.build import Device

log = logging.getLogger(__name__)

# A camera loop polls at least every 0.2 s; one that has not come round for this
# long is hung, and the watchdog pings stop so systemd restarts the service.
_HUNG_AFTER_S = 10.0
# Hung this long: the process ends itself (non-zero), systemd or not.
_HUNG_EXIT_S = 30.0


def run_device(device: Device, *, max_seconds: float | None = None, stop: threading.Event | None = None) -> int:
    """Run every camera loop on its own thread until the sources end, a signal, ``stop`` or ``max_seconds``.

    Starts the publisher, tells systemd it is ready, pings the watchdog, and on the
    way out stops the loops, flushes the publisher and publishes ``offline``.

    Returns:
        0 when every camera ended cleanly.

    Raises:
        CribsideError: naming the cameras whose loop failed.
    """
    stop = stop or threading.Event()
    previous = _install_signal_handlers(stop)
    notifier = Notifier()
    fatal: list[str] = []
    threads = [
        threading.Thread(target=loop.run, args=(stop,), name=f"camera-{device_id}", daemon=True)
        for device_id, loop in device.loops.items()
    ]
    try:
        device.publisher.start()
        for thread in threads:
            thread.start()
        notifier.ready(f"watching {len(threads)} camera(s)")
        fatal = _wait(device, threads, stop, notifier, max_seconds)
    finally:
        stop.set()
        for thread in threads:
            if thread.ident is not None:  # started
                thread.join(timeout=10.0)
        notifier.stopping()
        device.publisher.stop()
        _restore_signal_handlers(previous)
    errors = [f"{d}: {loop.error}" for d, loop in device.loops.items() if loop.error is not None]
    errors = list(dict.fromkeys(fatal + errors))
    if errors:
        raise CribsideError("; ".join(errors))
    return 0


def _wait(
    device: Device, threads: list[threading.Thread], stop: threading.Event, notifier: Notifier, max_seconds: float | None
) -> list[str]:
    """Sleep until every camera is done, a signal, --max-seconds or a fatal problem; ping the watchdog meanwhile.

    Returns:
        The fatal problems that ended the run (empty for a normal end).
    """
    started = time.monotonic()
    ping_every = notifier.watchdog_interval_s
    last_ping = started
    withheld = ""
    while any(t.is_alive() for t in threads) and not stop.is_set():
        stop.wait(0.2)
        now = time.monotonic()
        if max_seconds is not None and now - started >= max_seconds:
            log.info("--max-seconds %.0f reached", max_seconds)
            return []
        problems, fatal = liveness(device, threads, now)
        if fatal:
            for problem in fatal:
                log.error("%s: stopping so the service restarts (exit non-zero)", problem)
            return fatal
        if problems:
            if problems[0] != withheld:
                log.error("%s; withholding the watchdog ping", problems[0])
            withheld = problems[0]
        elif ping_every is not None and now - last_ping >= ping_every:
            notifier.watchdog()
            last_ping = now
            withheld = ""
    return []


def liveness(device: Device, threads: list[threading.Thread], now_s: float) -> tuple[list[str], list[str]]:
    """What is wrong with a running device: (problems that withhold the watchdog, problems that end the run).

    A camera loop that stopped with an error, a dead publisher thread, or a camera
    loop hung past ``_HUNG_EXIT_S`` ends the run; a loop hung past ``_HUNG_AFTER_S``
    only withholds the watchdog ping.
    """
    problems: list[str] = []
    fatal: list[str] = []
    for (device_id, loop), thread in zip(device.loops.items(), threads):
        if loop.error is not None:
            fatal.append(f"{device_id}: {loop.error}")
            continue
        if not thread.is_alive():
            continue  # a file that ended: done, not dead
        hung_s = now_s - loop.heartbeat_s
        if hung_s >= _HUNG_EXIT_S:
            fatal.append(f"{device_id}: camera loop hung for {hung_s:.0f} s")
        elif hung_s >= _HUNG_AFTER_S:
            problems.append(f"{device_id}: camera loop hung for {hung_s:.0f} s")
    for problem in device.publisher.problems():
        fatal.append(problem)
    return problems + fatal, fatal


def _install_signal_handlers(stop: threading.Event) -> dict[int, object]:
    """SIGTERM/SIGINT only set ``stop``: the loops finish their frame and the shutdown runs normally."""
    if threading.current_thread() is not threading.main_thread():
        return {}

    def handler(signum: int, _frame: object) -> None:
        if stop.is_set():  # a second Ctrl-C: the person wants out now
            raise KeyboardInterrupt
        log.info("%s received: finishing the current frame and shutting down", signal.Signals(signum).name)
        stop.set()

    return {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}


def _restore_signal_handlers(previous: dict[int, object]) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)  # type: ignore[arg-type]
