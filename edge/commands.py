"""Commands that arrive over MQTT (``cmd/ack``, ``cmd/snooze``): shape checks and answers.

A command payload is untrusted input from the network: it is parsed and
validated here before the device loop's handler sees it, and anything wrong is
answered with ``{"command": ..., "ok": false, "reason": ...}`` on ``cmd/result``
while the loop goes on.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cribside.edge.publisher import CommandHandler

log = logging.getLogger(__name__)


class _Command(BaseModel):
    # Unknown keys are refused: a misspelt "minute" must not silently snooze for a default.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    request_id: str | None = Field(None, max_length=128, description="Echoed in cmd/result to match the answer.")
    by: str | None = Field(None, max_length=128, description="Who sent the command (nurse station, user), for logs.")


class AckCommand(_Command):
    """``cmd/ack``: acknowledge an alert episode."""

    episode_id: str = Field(..., min_length=1, max_length=128, description="The episode to acknowledge.")


class SnoozeCommand(_Command):
    """``cmd/snooze``: hold back distress alerts for a while."""

    minutes: float = Field(..., ge=1, le=240, description="How long to snooze, 1 to 240 minutes.")
    type: Literal["distress", "all"] = Field("distress", description="Which alerts to snooze.")


COMMANDS: dict[str, type[_Command]] = {"ack": AckCommand, "snooze": SnoozeCommand}


def _request_id(data: Any) -> str | None:
    if isinstance(data, dict) and isinstance(data.get("request_id"), str):
        return str(data["request_id"])[:128]
    return None


def _validation_reason(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False, include_input=False):
        field = ".".join(str(p) for p in err["loc"]) or "payload"
        msg = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
        parts.append(f"{field}: {msg}")
    return "invalid payload: " + "; ".join(parts)


def handle_command(device_id: str, command: str, raw: bytes, handler: CommandHandler | None) -> dict[str, Any]:
    """Validate one command and run the handler; returns the ``cmd/result`` payload (without envelope).

    Never raises: bad JSON, a wrong shape, an unknown command, a missing or
    failing handler all become ``ok: false`` with a reason.
    """
    try:
        data = json.loads(raw.decode("utf-8")) if raw else None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return _reject(device_id, command if command in COMMANDS else "unknown", f"not JSON: {exc}", None)
    request_id = _request_id(data)
    model = COMMANDS.get(command)
    if model is None:
        return _reject(device_id, "unknown", f"unknown command {command!r}; expected one of {sorted(COMMANDS)}", request_id)
    if not isinstance(data, dict):
        return _reject(device_id, command, "invalid payload: expected a JSON object", request_id)
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        return _reject(device_id, command, _validation_reason(exc), request_id)
    if handler is None:
        return _reject(device_id, command, "no command handler is running", request_id)
    try:
        answer = handler(device_id, command, parsed.model_dump())
        ok, reason = bool(answer.get("ok")), str(answer.get("reason", ""))
    except Exception as exc:  # the handler is the loop's code; its failure must not kill the network thread
        log.exception("command handler failed for %s %s", device_id, command)
        return _reject(device_id, command, f"handler failed: {type(exc).__name__}", request_id)
    log.info("command %s for %s by %s: ok=%s %s", command, device_id, parsed.by or "?", ok, reason)
    return {"command": command, "ok": ok, "reason": reason, "request_id": request_id}


def _reject(device_id: str, command: str, reason: str, request_id: str | None) -> dict[str, Any]:
    log.warning("rejected command %s for %s: %s", command, device_id, reason)
    return {"command": command, "ok": False, "reason": reason, "request_id": request_id}
