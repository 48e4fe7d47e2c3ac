"""The alert state machine: classified windows in, episode events out.

Pure: no clock, no I/O. The caller passes the time of every call, twice:
``t_s`` on the source's clock (monotonic for cameras, media time for files),
which drives every duration, and ``wall_ts`` (unix seconds) which is only
stamped into events.

Why k of m (defaults k=3, m=4)
------------------------------
One window is a poor trigger. The paper's cry confusion (Table IV, 2,983 test
windows) gives a per-window false-alarm rate of 137/1,811 = 7.6% and a miss rate
of 35/1,172 = 3.0%. Alerting on every "crying" window would page a nurse for
7.6% of calm windows, i.e. several times a minute at 3 windows per second.

With an episode starting only when k of the last m windows agree, and treating
windows as independent:

* false start per window: P(at least 3 of 4 false) = 4 p^3 (1-p) + p^4
  = 4 * 0.076^3 * 0.924 + 0.076^4 ~= 0.16%, about 50 times fewer than 7.6%;
* a real cry is still caught within the first m windows unless 2 of 4 are
  missed: 1 - P(at least 2 misses of 4) ~= 1 - 6 * 0.03^2 ~= 99.5%;
* the added delay is k-1 = 2 windows (0.67 s at 3 fps) after the first full
  window, so an episode starts about 1.7 s after the first crying frame.

k=2 of 3 would false-start on ~1.7% of windows (3 p^2); k=4 of 4 would lose
~11.5% of real onsets to a single miss (1 - 0.97^4). Consecutive windows share
L-1 frames, so their errors are correlated and the independence figures are a
guide, not a guarantee: ``cribside eval --device`` measures false alarms per
hour and missed episodes on continuous (synthetic) videos.

Severe pain skips the debounce (``severe_immediate``): one severe window starts
or escalates an episode at once, so severe pain is never held back longer than
one window. The paper's severe class is also the most reliable one (1,760 of
1,792 severe windows right, Table V).

Episodes
--------
* A distress episode has the level ``cry`` < ``moderate_pain`` < ``severe_pain``
  and only escalates (an ``update`` event at once); it never de-escalates.
* It ends (``end`` event, with duration and peak probabilities) after ``quiet_s``
  without a window showing any distress, but only on evidence: while the device
  is blind (no face in view, camera lost) an open episode stays open, and it ends
  at the first calm window once the face is back. Absence of evidence never ends
  an alert; the state and status say ``no_face`` / ``no_signal`` meanwhile.
* While active, an ``update`` with the running peaks every ``update_interval_s``.
* Acknowledge (by episode id) marks the episode acknowledged and stops the
  periodic updates; escalations and the end are still sent.
* Snooze (N minutes, ``distress`` only) holds back starts and updates of cry and
  moderate-pain episodes. Severe pain always alerts, snoozed or not: a snooze is
  for a known, expected cry, never a reason to miss severe pain. An episode that
  is still active when the snooze runs out is announced then.
* ``no_signal`` episodes start when the caller reports the camera lost past its
  grace period and end when frames return; they are never snoozed (a blind
  device must always say so).
* ``level`` (the state's ``alert_level``) is the open distress episode's level,
  else ``no_signal`` while the camera is lost, else ``none``: a lost camera never
  hides an open severe-pain episode, and ``no_signal`` is also its own flag.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

LEVELS = ("none", "cry", "moderate_pain", "severe_pain")
CURRENT = "current"  # cmd/ack {"episode_id": "current"}: whichever episode is open (Home Assistant's button)
MAX_SNOOZE_MINUTES = 60  # the documented maximum (docs/mqtt.md); cmd/snooze refuses more
_RANK = {level: rank for rank, level in enumerate(LEVELS)}
PEAK_KEYS = ("cry", "moderate_pain", "severe_pain")


@dataclass(frozen=True)
class Reading:
    """One classified window reduced to what alerting needs.

    Attributes:
        level: the window's distress level (one of LEVELS).
        p_cry: probability of crying.
        p_moderate: probability of moderate pain.
        p_severe: probability of severe pain.
    """

    level: str
    p_cry: float
    p_moderate: float
    p_severe: float

    @classmethod
    def from_probabilities(cls, cry: Mapping[str, float], pain: Mapping[str, float]) -> Reading:
        """Build a reading from the classifier's label -> probability maps.

        The level is the most severe of: pain argmax (moderate/severe), cry argmax (yes).
        """
        pain_label = max(pain, key=pain.__getitem__)
        cry_label = max(cry, key=cry.__getitem__)
        if pain_label == "severe":
            level = "severe_pain"
        elif pain_label == "moderate":
            level = "moderate_pain"
        elif cry_label == "yes":
            level = "cry"
        else:
            level = "none"
        return cls(level, float(cry.get("yes", 0.0)), float(pain.get("moderate", 0.0)), float(pain.get("severe", 0.0)))


@dataclass(frozen=True)
class AlertSettings:
    """Alerting knobs (the device config's ``alerts`` section)."""

    k: int = 3
    m: int = 4
    quiet_s: float = 20.0
    severe_immediate: bool = True
    update_interval_s: float = 10.0

    def __post_init__(self) -> None:
        if not 1 <= self.k <= self.m:
            raise ValueError(f"alerts need 1 <= k <= m, got k={self.k}, m={self.m}")


@dataclass(frozen=True)
class AlertEvent:
    """One message for the ``alerts`` topic (the envelope is added by the publisher)."""

    event: str  # start | update | end
    episode_id: str
    type: str  # distress | no_signal | device
    level: str  # cry | moderate_pain | severe_pain | no_signal | outbox_full | outbox_damaged
    peak: dict[str, float]
    started_ts: float
    ended_ts: float | None
    duration_s: float
    acknowledged: bool
    snoozed_until: float | None

    def to_payload(self) -> dict[str, Any]:
        """The alert payload fields of the MQTT contract."""
        return {
            "event": self.event,
            "episode_id": self.episode_id,
            "type": self.type,
            "level": self.level,
            "peak": dict(self.peak),
            "started_ts": self.started_ts,
            "ended_ts": self.ended_ts,
            "duration_s": round(self.duration_s, 3),
            "acknowledged": self.acknowledged,
            "snoozed_until": self.snoozed_until,
        }


@dataclass
class _Episode:
    id: str
    type: str
    level: str
    started_t_s: float
    started_ts: float
    last_agree_t_s: float
    peak: dict[str, float] = field(default_factory=lambda: dict.fromkeys(PEAK_KEYS, 0.0))
    acknowledged: bool = False
    announced: bool = False
    last_sent_t_s: float = 0.0

    def absorb(self, reading: Reading) -> None:
        for key, p in zip(PEAK_KEYS, (reading.p_cry, reading.p_moderate, reading.p_severe)):
            self.peak[key] = max(self.peak[key], round(p, 4))


class AlertMachine:
    """Turns readings (and signal loss) into episode start/update/end events."""

    def __init__(self, settings: AlertSettings, id_prefix: str) -> None:
        """Args:
        settings: k, m, quiet period, severe bypass, update interval.
        id_prefix: makes episode ids unique across devices and restarts,
            e.g. ``"<device_id>-<boot_id>"``.
        """
        self.settings = settings
        self._id_prefix = id_prefix
        self._seq = itertools.count(1)
        self._history: deque[tuple[float, Reading]] = deque(maxlen=settings.m)
        self._distress: _Episode | None = None
        self._no_signal: _Episode | None = None
        self._device: dict[str, _Episode] = {}  # level -> open device-fault episode
        self._snooze_until_t_s = 0.0
        self._snooze_until_ts: float | None = None
        self._blind = False  # no classified window since the face or the camera was lost

    # -- queries -----------------------------------------------------------------
    @property
    def level(self) -> str:
        """The state's ``alert_level``: the open distress episode's level, else no_signal, else none."""
        if self._distress is not None:
            return self._distress.level
        return "no_signal" if self._no_signal is not None else "none"

    def snoozed_until(self, wall_ts: float) -> float | None:
        """Unix time the distress snooze ends, or None when no snooze is running at ``wall_ts``."""
        until = self._snooze_until_ts
        return until if until is not None and wall_ts < until else None

    @property
    def no_signal(self) -> bool:
        """True while a no_signal episode is open (the state's ``no_signal`` flag)."""
        return self._no_signal is not None

    def open_episodes(self) -> list[dict[str, Any]]:
        """The episodes in progress, as records a restarted process can close (see :meth:`closed_at_restart`)."""
        return [
            {"episode_id": e.id, "type": e.type, "level": e.level, "started_ts": e.started_ts, "peak": dict(e.peak),
             "acknowledged": e.acknowledged}
            for e in self._episodes()
            if e.announced
        ]

    def _episodes(self) -> list[_Episode]:
        return [e for e in (self._distress, self._no_signal, *self._device.values()) if e is not None]

    def active_episode_ids(self) -> list[str]:
        """Ids of the episodes in progress."""
        return [e.id for e in self._episodes()]

    # -- inputs ------------------------------------------------------------------
    def update(self, reading: Reading, t_s: float, wall_ts: float) -> list[AlertEvent]:
        """Feed one classified window; return the events it causes."""
        self._blind = False
        self._history.append((t_s, reading))
        events = []
        target = self._agreed_level(t_s)
        if reading.level == "severe_pain" and self.settings.severe_immediate:
            target = "severe_pain"
        episode = self._distress
        if episode is not None and _RANK[reading.level] >= _RANK["cry"]:
            episode.last_agree_t_s = t_s
            episode.absorb(reading)
        if episode is None and target != "none":
            episode = self._distress = self._new_episode("distress", target, t_s, wall_ts)
            for _, past in self._history:
                if _RANK[past.level] >= _RANK["cry"]:
                    episode.absorb(past)
        elif episode is not None and _RANK[target] > _RANK[episode.level]:
            episode.level = target
            events += self._announce(episode, t_s, wall_ts, escalated=True)
        return events + self.tick(t_s, wall_ts)

    def blind(self, t_s: float, wall_ts: float) -> list[AlertEvent]:
        """A sampled frame without a face, or a lost camera: no evidence either way."""
        self._blind = True
        return self.tick(t_s, wall_ts)

    def tick(self, t_s: float, wall_ts: float) -> list[AlertEvent]:
        """Let time pass: announce, send periodic updates, end quiet episodes (not while blind)."""
        events: list[AlertEvent] = []
        episode = self._distress
        if episode is not None and not self._blind and t_s - episode.last_agree_t_s >= self.settings.quiet_s:
            if episode.announced:
                events.append(self._event("end", episode, t_s, wall_ts, ended=True))
            self._distress = None
        for episode in self._episodes():
            events += self._announce(episode, t_s, wall_ts, escalated=False)
        return events

    def signal_lost(self, t_s: float, wall_ts: float) -> list[AlertEvent]:
        """The camera stayed lost past its grace period: start a no_signal episode."""
        self._blind = True
        if self._no_signal is not None:
            return self.tick(t_s, wall_ts)
        self._no_signal = self._new_episode("no_signal", "no_signal", t_s, wall_ts)
        return self.tick(t_s, wall_ts)

    def signal_restored(self, t_s: float, wall_ts: float) -> list[AlertEvent]:
        """Frames are back: end the no_signal episode."""
        episode, self._no_signal = self._no_signal, None
        if episode is None or not episode.announced:
            return []
        return [self._event("end", episode, t_s, wall_ts, ended=True)]

    def device_problem(self, level: str, t_s: float, wall_ts: float) -> list[AlertEvent]:
        """The device itself has a fault (``outbox_full``, ``outbox_damaged``): start its episode once."""
        if level not in self._device:
            self._device[level] = self._new_episode("device", level, t_s, wall_ts)
        return self._announce(self._device[level], t_s, wall_ts, escalated=False)

    def device_ok(self, level: str, t_s: float, wall_ts: float) -> list[AlertEvent]:
        """The device fault is over: end its episode."""
        episode = self._device.pop(level, None)
        if episode is None or not episode.announced:
            return []
        return [self._event("end", episode, t_s, wall_ts, ended=True)]

    def acknowledge(self, episode_id: str, t_s: float, wall_ts: float) -> tuple[bool, str, list[AlertEvent]]:
        """Mark an active episode acknowledged (stops periodic updates); ``current`` picks the open one.

        Returns:
            (ok, reason, events): events holds one ``update`` carrying
            ``acknowledged: true`` so every console sees the acknowledgement.
        """
        if episode_id == CURRENT:  # a button cannot know the id: the open announced episode, distress first
            open_ = sorted((e for e in self._episodes() if e.announced), key=lambda e: e.type != "distress")
            if not open_:
                return False, "no active episode to acknowledge", []
            episode_id = open_[0].id
        for episode in self._episodes():
            if episode.id == episode_id:
                if episode.acknowledged:
                    return True, f"episode {episode_id} already acknowledged", []
                episode.acknowledged = True
                events = [self._event("update", episode, t_s, wall_ts)] if episode.announced else []
                return True, f"episode {episode_id} acknowledged", events
        return False, "no active episode with that id", []

    def snooze(self, minutes: float, kind: str, t_s: float, wall_ts: float) -> tuple[bool, str]:
        """Hold back cry and moderate-pain starts and updates for ``minutes`` (severe pain and no_signal still alert).

        Args:
            kind: ``distress``, the only kind that can be snoozed.
        """
        if kind != "distress":
            return False, "only 'distress' can be snoozed; no_signal and severe pain always alert"
        if not 0 < minutes <= MAX_SNOOZE_MINUTES:
            return False, f"a snooze lasts from 1 to {MAX_SNOOZE_MINUTES} minutes"
        self._snooze_until_t_s = t_s + minutes * 60.0
        self._snooze_until_ts = wall_ts + minutes * 60.0
        return True, f"distress alerts snoozed for {minutes:g} min (severe pain and no_signal still alert)"

    # -- internals -----------------------------------------------------------------
    def _agreed_level(self, t_s: float) -> str:
        """Highest level that at least k of the last m recent windows reach."""
        recent = [r for t, r in self._history if t_s - t < self.settings.quiet_s]
        for level in reversed(LEVELS[1:]):
            if sum(_RANK[r.level] >= _RANK[level] for r in recent) >= self.settings.k:
                return level
        return "none"

    def _new_episode(self, type_: str, level: str, t_s: float, wall_ts: float) -> _Episode:
        episode_id = f"{self._id_prefix}-{next(self._seq)}"
        return _Episode(episode_id, type_, level, t_s, wall_ts, last_agree_t_s=t_s)

    def _snoozed(self, episode: _Episode, t_s: float) -> bool:
        if t_s >= self._snooze_until_t_s or episode.level == "severe_pain":
            return False
        return episode.type == "distress"

    def _announce(self, episode: _Episode, t_s: float, wall_ts: float, *, escalated: bool) -> list[AlertEvent]:
        """Start, escalation or periodic update for one active episode, if due and not snoozed."""
        if self._snoozed(episode, t_s):
            return []
        if not episode.announced:
            episode.announced = True
            return [self._event("start", episode, t_s, wall_ts)]
        due = t_s - episode.last_sent_t_s >= self.settings.update_interval_s
        if escalated or (due and not episode.acknowledged):
            return [self._event("update", episode, t_s, wall_ts)]
        return []

    def _event(self, kind: str, episode: _Episode, t_s: float, wall_ts: float, *, ended: bool = False) -> AlertEvent:
        episode.last_sent_t_s = t_s
        snoozed = self._snooze_until_ts if t_s < self._snooze_until_t_s else None
        if episode.type != "distress":
            snoozed = None
        return AlertEvent(
            event=kind,
            episode_id=episode.id,
            type=episode.type,
            level=episode.level,
            peak=dict(episode.peak),
            started_ts=episode.started_ts,
            ended_ts=wall_ts if ended else None,
            duration_s=max(0.0, t_s - episode.started_t_s),
            acknowledged=episode.acknowledged,
            snoozed_until=snoozed,
        )
