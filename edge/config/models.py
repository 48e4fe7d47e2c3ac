"""The device configuration's sections: pydantic models, validated, documented, immutable.

Every section has ``extra="forbid"`` (a typo is an error, not a silently ignored
key) and every field a description, so the exported JSON Schema documents the
file. The models do no I/O: reading the file and environment overrides live in
:mod:`cribside.edge.config`, secrets in :mod:`cribside.edge.config.secrets`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DEVICE_ID_PATTERN = r"^[a-z0-9_-]+$"


class _Section(BaseModel):
    """Base of every config section: unknown keys rejected, values immutable, numbers finite.

    ``allow_inf_nan=False``: YAML reads ``.nan`` and ``.inf`` as floats, and a nan
    passes no comparison, so a bound like ``gt=0`` alone would not stop ``.inf``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class ModelsConfig(_Section):
    """Which converted models to run and on what."""

    dir: Path = Field(Path("/opt/cribside/models"), description="Folder holding the converted models and manifest.json.")
    variant: Literal["auto", "float32", "float16", "dynamic", "int8", "edgetpu"] = Field(
        "auto", description="Model variant from the manifest; auto picks the best one the delegate can run."
    )
    delegate: Literal["auto", "cpu", "gpu", "edgetpu"] = Field(
        "auto", description="Inference delegate; auto tries an ordered ladder and reports what it chose."
    )
    threads: int = Field(1, ge=1, le=16, description="CPU threads for the encoder and classifier interpreters.")


class AlignerConfig(_Section):
    """Face detection and alignment settings."""

    select: Literal["largest", "center", "score"] = Field(
        "largest", description="Which face to follow when several are found: largest box, nearest the centre, or best score."
    )
    threads: int = Field(1, ge=1, le=16, description="CPU threads for the face detector and landmark models.")


class TlsConfig(_Section):
    """TLS to the broker; all null means plain TCP."""

    ca_file: Path | None = Field(None, description="CA certificate (PEM) that signed the broker's certificate; enables TLS.")
    cert_file: Path | None = Field(None, description="Client certificate (PEM) for mutual TLS; needs key_file.")
    key_file: Path | None = Field(None, description="Client private key (PEM) for mutual TLS; needs cert_file.")
    insecure: bool = Field(False, description="Skip the broker hostname check (testing only; the CA is still checked).")

    @property
    def enabled(self) -> bool:
        """True when any TLS file is set."""
        return any(p is not None for p in (self.ca_file, self.cert_file, self.key_file))

    @model_validator(mode="after")
    def _cert_and_key_together(self) -> TlsConfig:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file must be given together")
        return self


class HomeAssistantConfig(_Section):
    """Home Assistant MQTT discovery."""

    enabled: bool = Field(False, description="Publish Home Assistant discovery messages for each camera.")
    discovery_prefix: str = Field("homeassistant", min_length=1, description="Home Assistant's discovery topic prefix.")


class ReconnectConfig(_Section):
    """Broker reconnect backoff (exponential, with jitter)."""

    min_delay_s: float = Field(1.0, gt=0, le=600, description="First reconnect delay in seconds; doubled after each failure.")
    max_delay_s: float = Field(30.0, gt=0, le=3600, description="Longest reconnect delay in seconds.")

    @model_validator(mode="after")
    def _ordered(self) -> ReconnectConfig:
        if self.max_delay_s < self.min_delay_s:
            raise ValueError("max_delay_s must be >= min_delay_s")
        return self


class MqttConfig(_Section):
    """The MQTT broker and topics. Without this section events go to the terminal only."""

    host: str = Field("localhost", min_length=1, description="Broker host name or address.")
    port: int = Field(1883, ge=1, le=65535, description="Broker port (1883 plain, 8883 usually TLS).")
    prefix: str = Field("cribside", min_length=1, description="First topic level; topics are <prefix>/<device_id>/...")
    client_id: str | None = Field(
        None,
        description="MQTT client id; default cribside-<device_id>-<hostname>. With several cameras, -<device_id> is appended.",
    )
    keepalive_s: int = Field(30, ge=5, le=3600, description="MQTT keepalive in seconds; a dead link is noticed after 1.5x this.")
    username: str | None = Field(None, description="Broker user name; the password never goes in this file.")
    password_file: Path | None = Field(
        None,
        description="File holding the broker password. Otherwise env CRIBSIDE_MQTT_PASSWORD, "
        "then $CREDENTIALS_DIRECTORY/mqtt_password (systemd LoadCredential).",
    )
    tls: TlsConfig = Field(default_factory=TlsConfig, description="TLS settings; plain TCP when no file is set.")
    homeassistant: HomeAssistantConfig = Field(default_factory=HomeAssistantConfig, description="Home Assistant discovery.")
    reconnect: ReconnectConfig = Field(default_factory=ReconnectConfig, description="Reconnect backoff.")
    purge_removed: bool = Field(
        False,
        description="At start-up, clear the retained discovery, availability, state and status of every device id "
                    "the broker still holds but this config no longer lists (a removed or renamed crib).",
    )

    @model_validator(mode="after")
    def _prefix_is_a_topic_level(self) -> MqttConfig:
        if any(c in self.prefix for c in "#+") or self.prefix.startswith("/") or self.prefix.endswith("/"):
            raise ValueError("prefix must not contain '#' or '+' nor start or end with '/'")
        return self


class OutboxConfig(_Section):
    """The disk-backed queue that holds messages until the broker acknowledges them."""

    path: Path = Field(Path("/var/lib/cribside/outbox.sqlite"), description="SQLite file of the outbox (created if missing).")
    max_messages: int = Field(
        10000,
        ge=10,
        description="Bound on queued messages. When full: stats first, then superseded state/status, then oldest status, "
        "then oldest state; alerts only when nothing else remains.",
    )
    sync: Literal["full", "normal"] = Field(
        "full",
        description="SQLite synchronous mode. full survives power loss (one fsync per message); "
        "normal survives a killed process but may lose the last messages on power loss.",
    )


class AlertsConfig(_Section):
    """The alert state machine (defaults justified in docs/design.md, "Alerts: k of m windows")."""

    k: int = Field(3, ge=1, description="An episode starts when k of the last m windows agree.")
    m: int = Field(4, ge=1, description="Number of recent windows considered.")
    quiet_s: float = Field(20.0, gt=0, description="An episode ends after this many seconds with no agreeing window.")
    severe_immediate: bool = Field(True, description="Severe pain alerts after one window, never held back by k of m.")
    update_interval_s: float = Field(10.0, gt=0, description="Least time between update events of one episode.")

    @model_validator(mode="after")
    def _k_within_m(self) -> AlertsConfig:
        if self.k > self.m:
            raise ValueError("k must be <= m")
        return self


class HealthConfig(_Section):
    """Capture health: when a camera counts as stalled or lost."""

    stall_after_s: float = Field(5.0, gt=0, description="No new frame for this long: status stalled.")
    no_signal_after_s: float = Field(30.0, gt=0, description="Stalled or lost for this long: a no_signal alert.")
    frozen_frames: int = Field(30, ge=2, description="This many identical consecutive frames: status stalled (frozen).")

    @model_validator(mode="after")
    def _grace_after_stall(self) -> HealthConfig:
        if self.no_signal_after_s < self.stall_after_s:
            raise ValueError("no_signal_after_s must be >= stall_after_s")
        return self


class StatsConfig(_Section):
    """Periodic statistics."""

    interval_s: float = Field(30.0, gt=0, description="Seconds between stats messages.")


Polygon = list[tuple[float, float]]


def _check_polygon(points: Polygon, what: str) -> Polygon:
    if len(points) < 3:
        raise ValueError(f"{what} needs at least 3 points [x, y], got {len(points)}")
    for x, y in points:
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            raise ValueError(f"{what} points are frame fractions in 0..1 (x from the left, y from the top), got [{x}, {y}]")
    return points


class ZoneConfig(_Section):
    """Where in this camera's view the infant can be (frame fractions, 0..1 from the left and top)."""

    crib: Polygon | None = Field(
        None, description="Polygon [[x, y], ...] where the infant lies; only a face centred inside it can be the infant. "
                          "Omitted: the whole frame.",
    )
    masks: list[Polygon] = Field(
        default_factory=list, description="Polygons never to look at (a screen, a poster, a window).",
    )

    @field_validator("crib")
    @classmethod
    def _crib(cls, crib: Polygon | None) -> Polygon | None:
        return None if crib is None else _check_polygon(crib, "crib")

    @field_validator("masks")
    @classmethod
    def _masks(cls, masks: list[Polygon]) -> list[Polygon]:
        return [_check_polygon(m, f"masks[{i}]") for i, m in enumerate(masks)]


class CameraConfig(_Section):
    """One camera watching one crib."""

    device_id: str = Field(
        ..., pattern=DEVICE_ID_PATTERN, max_length=64, description="Unique id of this crib's monitor; a topic level."
    )
    source: str = Field(
        "picamera2",
        min_length=1,
        description="picamera2 | v4l2:<index> | v4l2:/dev/v4l/by-id/<camera> (stable across reboots) | rtsp://... "
                    "| gst:<pipeline> | file:<video> | frames:<dir> | a plain path.",
    )
    realtime: bool = Field(False, description="For files: play at the file's own frame rate instead of as fast as possible.")
    width: int = Field(640, ge=16, le=7680, description="Requested capture width in pixels (live cameras).")
    height: int = Field(480, ge=16, le=4320, description="Requested capture height in pixels (live cameras).")
    zone: ZoneConfig = Field(default_factory=ZoneConfig, description="The crib zone and masks (check with 'cribside zones').")
    room: str | None = Field(
        None, min_length=1, max_length=64,
        description="Ward, room or bed of this crib: Home Assistant's suggested area for its device.",
    )


class DeviceConfig(_Section):
    """The whole device configuration file."""

    models: ModelsConfig = Field(default_factory=ModelsConfig, description="Converted models to run.")
    aligner: AlignerConfig = Field(default_factory=AlignerConfig, description="Face detection and alignment.")
    mqtt: MqttConfig | None = Field(None, description="MQTT broker; omit to print events to the terminal only.")
    outbox: OutboxConfig = Field(default_factory=OutboxConfig, description="Durable outbox for MQTT messages.")
    alerts: AlertsConfig = Field(default_factory=AlertsConfig, description="Alert state machine.")
    health: HealthConfig = Field(default_factory=HealthConfig, description="Capture health thresholds.")
    stats: StatsConfig = Field(default_factory=StatsConfig, description="Periodic statistics messages.")
    cameras: list[CameraConfig] = Field(default_factory=list, description="Cameras, one per crib.")

    @field_validator("cameras")
    @classmethod
    def _unique_device_ids(cls, cameras: list[CameraConfig]) -> list[CameraConfig]:
        # A field validator, not a model one, so it still runs when another section has errors.
        ids = [c.device_id for c in cameras]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"device_id must be unique, repeated: {', '.join(duplicates)}")
        return cameras

    @property
    def device_ids(self) -> list[str]:
        """The device ids of every camera, in file order."""
        return [c.device_id for c in self.cameras]
