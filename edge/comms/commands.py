"""Commands that arrive over MQTT (``cmd/ack``, ``cmd/snooze``): shape checks and answers.

A command payload is untrusted input from the network: it is bounded, parsed
with limits and validated here before the device loop's handler sees it, and
anything wrong is answered with ``{"command": ..., "ok": false, "reason": ...}``
on ``cmd/result`` while the loop goes on. :func:`handle_command` never raises:
an exception here would end paho's network thread and silence the device.

Limits (documented in docs/mqtt.md): at most :data:`MAX_PAYLOAD_BYTES` bytes,
nesting at most :data:`MAX_DEPTH` deep, integers of at most :data:`MAX_INT_DIGITS`
digits, no NaN or Infinity. A snooze lasts at most :data:`MAX_SNOOZE_MINUTES` and
only covers ``distress`` (cry and moderate pain): ``no_signal`` and severe pain are
never snoozed.

Reasons never echo the sender's text (field names, values, topic levels): a
reason is made of this module's own words, so a crafted payload cannot forge
lines in the log or on a nurse station's screen.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cribside.edge.comms.contract import CommandHandler
from cribside.edge.temporal.alerts import MAX_SNOOZE_MINUTES

log = logging.getLogger(__name__)

MAX_PAYLOAD_BYTES = 4096
MAX_DEPTH = 8
MAX_INT_DIGITS = 12


class _Command(BaseModel):
    # Unknown keys are refused: a misspelt "minute" must not silently snooze for a default.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    request_id: str | None = Field(None, max_length=128, description="Echoed in cmd/result to match the answer.")
    by: str | None = Field(None, max_length=128, description="Who sent the command (nurse station, user), for logs.")


class AckCommand(_Command):
    """``cmd/ack``: acknowledge an alert episode."""

    episode_id: str = Field(..., min_length=1, max_length=128, description="The episode to acknowledge.")


class SnoozeCommand(_Command):
    """``cmd/snooze``: hold back cry and moderate-pain alerts for a while (never no_signal or severe pain)."""

    minutes: float = Field(
        ..., ge=1, le=MAX_SNOOZE_MINUTES, description=f"How long to snooze, 1 to {MAX_SNOOZE_MINUTES} minutes."
    )
    type: Literal["distress"] = Field("distress", description="Which alerts to snooze: only distress can be.")


COMMANDS: dict[str, type[_Command]] = {"ack": AckCommand, "snooze": SnoozeCommand}

_SAFE = re.compile(r"[^A-Za-z0-9._:@/ -]")


def printable(text: object, limit: int = 64) -> str:
    """``text`` reduced to safe characters for one log line (others become ``?``), at most ``limit`` long."""
    s = _SAFE.sub("?", str(text))
    return s if len(s) <= limit else s[: limit - 3] + "..."


class _PayloadError(ValueError):
    """The payload breaks one of the parsing limits (the message is this module's own words)."""


def _check_depth(text: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH before json sees it (deep nesting is a RecursionError)."""
    depth, in_string, escaped = 0, False, False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise _PayloadError(f"nested deeper than {MAX_DEPTH} levels")
        elif ch in "]}":
            depth -= 1


def _parse_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        raise _PayloadError(f"an integer longer than {MAX_INT_DIGITS} digits")
    return int(digits)


def _parse_float(text: str) -> float:
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        raise _PayloadError("a number out of range")
    return value


def _parse_constant(name: str) -> float:
    raise _PayloadError("NaN or Infinity is not JSON")


def parse_payload(raw: bytes) -> Any:
    """Parse a command payload within the limits.

    Raises:
        ValueError: with a reason in this module's own words (never the input).
    """
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise _PayloadError(f"payload larger than {MAX_PAYLOAD_BYTES} bytes")
    if not raw:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _PayloadError("not UTF-8") from None
    _check_depth(text)
    try:
        return json.loads(text, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant)
    except _PayloadError:
        raise
    except json.JSONDecodeError as exc:
        raise _PayloadError(f"not JSON (line {exc.lineno} column {exc.colno})") from None
    except (ValueError, RecursionError, OverflowError):
        raise _PayloadError("not JSON within the limits") from None


def _request_id(data: Any) -> str | None:
    if isinstance(data, dict) and isinstance(data.get("request_id"), str):
        return str(data["request_id"])[:128]
    return None


def _validation_reason(model: type[_Command], exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False, include_input=False, include_context=False):
        loc = err["loc"]
        known = bool(loc) and isinstance(loc[0], str) and loc[0] in model.model_fields
        field = str(loc[0]) if known else ("payload" if not loc else "a field")
        if err["type"] == "extra_forbidden":
            parts.append(f"unknown field (expected {', '.join(model.model_fields)})")
        elif field == "type" and model is SnoozeCommand:
            parts.append("type: only 'distress' can be snoozed; no_signal and severe pain always alert")
        elif field == "minutes" and err["type"] in ("less_than_equal", "greater_than_equal"):
            parts.append(f"minutes: from 1 to {MAX_SNOOZE_MINUTES}")
        else:
            # pydantic's message for a known field, without the input (include_input=False).
            parts.append(f"{field}: {printable(err['msg'], 80)}")
    return "invalid payload: " + "; ".join(parts)


def handle_command(device_id: str, command: str, raw: bytes, handler: CommandHandler | None) -> dict[str, Any]:
    """Validate one command and run the handler; returns the ``cmd/result`` payload (without envelope).

    Never raises: an oversized, deep or malformed payload, a wrong shape, an unknown
    command, a missing or failing handler all become ``ok: false`` with a reason.
    """
    name = command if command in COMMANDS else "unknown"
    try:
        return _handle(device_id, name, raw, handler)
    except Exception as exc:  # the last line of defence for paho's network thread
        log.exception("command %s for %s failed", name, device_id)
        return _reject(device_id, name, f"internal error: {type(exc).__name__}", None)


def _handle(device_id: str, command: str, raw: bytes, handler: CommandHandler | None) -> dict[str, Any]:
    try:
        data = parse_payload(raw)
    except ValueError as exc:
        return _reject(device_id, command, str(exc), None)
    request_id = _request_id(data)
    model = COMMANDS.get(command)
    if model is None:
        return _reject(device_id, "unknown", f"unknown command; expected one of {sorted(COMMANDS)}", request_id)
    if not isinstance(data, dict):
        return _reject(device_id, command, "invalid payload: expected a JSON object", request_id)
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        return _reject(device_id, command, _validation_reason(model, exc), request_id)
    if handler is None:
        return _reject(device_id, command, "no command handler is running", request_id)
    try:
        answer = handler(device_id, command, parsed.model_dump())
        ok, reason = bool(answer.get("ok")), str(answer.get("reason", ""))
    except Exception as exc:  # the handler is the loop's code; its failure must not kill the network thread
        log.exception("command handler failed for %s %s", device_id, command)
        return _reject(device_id, command, f"handler failed: {type(exc).__name__}", request_id)
    log.info("command %s for %s by %s: ok=%s %s", command, device_id, printable(parsed.by or "?"), ok, printable(reason, 160))
    return {"command": command, "ok": ok, "reason": reason, "request_id": request_id}


def _reject(device_id: str, command: str, reason: str, request_id: str | None) -> dict[str, Any]:
    log.warning("rejected command %s for %s: %s", command, device_id, reason)
    return {"command": command, "ok": False, "reason": reason, "request_id": request_id}
