"""systemd readiness and watchdog notifications, without the systemd package.

The protocol is one datagram per notification to the unix socket named by
``NOTIFY_SOCKET`` (a leading ``@`` means the abstract namespace). With
``Type=notify`` and ``WatchdogSec=`` in the unit, systemd restarts cribside
when the pings stop, i.e. when a camera loop hangs.
"""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger(__name__)


class Notifier:
    """Sends ``READY=1``, ``WATCHDOG=1``, ``STATUS=...`` and ``STOPPING=1``; a no-op outside systemd."""

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        if address.startswith("@"):
            address = "\0" + address[1:]
        self._address = address or None
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        watchdog_for_us = usec.isdigit() and (not pid or pid == str(os.getpid()))
        # Ping at half the timeout, as sd_watchdog_enabled(3) recommends.
        self.watchdog_interval_s: float | None = int(usec) / 2e6 if watchdog_for_us else None

    @property
    def enabled(self) -> bool:
        """True when running under systemd with Type=notify."""
        return self._address is not None

    def notify(self, message: str) -> bool:
        """Send one notification; False (logged once per failure) if it could not be sent."""
        if self._address is None:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.connect(self._address)
                sock.sendall(message.encode())
        except OSError as exc:
            log.warning("systemd notify failed: %s", exc)
            return False
        return True

    def ready(self, status: str = "") -> bool:
        """Tell systemd start-up is complete."""
        return self.notify("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def watchdog(self) -> bool:
        """Keep-alive ping (send only when every camera loop is making progress)."""
        return self.notify("WATCHDOG=1")

    def stopping(self) -> bool:
        """Tell systemd a clean shutdown has begun."""
        return self.notify("STOPPING=1")
