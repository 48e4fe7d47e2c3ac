"""SYNTHETIC data: the hidden per-video schedule that gives each frame its labels and expression.

A video is a sequence of pain episodes (none / moderate / severe, several seconds each) and,
independently but more likely under pain, crying bouts. Expressions follow infant pain cues
(NFCS, FLACC): brow lowering/bulge, eye squeeze, nasolabial furrow, a stretched mouth. They unfold
over frames (onset lag, peak, offset) and carry per-frame noise, so a single frame is ambiguous:

- pain levels overlap: moderate sits between its neighbours with overlapping intensities, so it
  is the hardest class, as in the paper;
- crying is a rhythm: the mouth opens for 1-3 frames and closes for an in-breath, with eye
  squeeze; an open mouth in one frame may also be a yawn (a slow single opening with raised
  brows), a babble, or a grimace, so crying is told apart only across frames;
- blinks close the eyes for one frame; the head drifts, tilts and jerks more when crying.

Labels switch at episode boundaries while the face lags behind, as a real face would.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Mean pain intensity per level (0..1) and its spread between episodes: chosen to overlap.
PAIN_MEAN = (0.05, 0.42, 0.78)
PAIN_EPISODE_SD = 0.07
PAIN_FRAME_SD = 0.08  # per-frame jitter of each cue
LEVEL_WEIGHTS = (0.38, 0.26, 0.36)  # share of time at each level
EPISODE_S = (5.0, 20.0)  # episode duration range, seconds (scaled by the level's weight)
CRY_P_BY_LEVEL = (0.12, 0.40, 0.65)  # chance that a bout is a crying bout, per pain level
CRY_BOUT_S = (4.0, 14.0)
ONSET_RATE = 0.55  # fraction of the gap to the target closed per frame (3 fps: ~2-3 frames)
BLINK_RATE = 0.05  # per frame, when not crying
BABBLE_RATE = 0.03  # one-frame small mouth openings, when not crying
YAWN_PER_S = 1.0 / 45.0


@dataclass(frozen=True)
class Schedule:
    """Per-frame labels and expression parameters of one SYNTHETIC video (arrays of length n).

    Expression values are 0..1: brow (lowering/bulge), raise (brows up), squeeze (eyes),
    furrow (nasolabial), mouth_open, stretch (horizontal), round (O-shaped mouth).
    Pose: tilt_deg (in-plane), dx, dy (fraction of the face size), scale (relative).
    face: False where the face is out of view (demo videos only).
    """

    cry: np.ndarray
    pain: np.ndarray
    face: np.ndarray
    brow: np.ndarray
    raise_: np.ndarray
    squeeze: np.ndarray
    furrow: np.ndarray
    mouth_open: np.ndarray
    stretch: np.ndarray
    round_: np.ndarray
    tilt_deg: np.ndarray
    dx: np.ndarray
    dy: np.ndarray
    scale: np.ndarray

    def __len__(self) -> int:
        return len(self.cry)

    def at(self, i: int) -> dict[str, float]:
        """Expression and pose of frame i as plain floats."""
        return {name: float(getattr(self, name)[i]) for name in _FLOAT_FIELDS}


_FLOAT_FIELDS = ("brow", "raise_", "squeeze", "furrow", "mouth_open", "stretch", "round_",
                 "tilt_deg", "dx", "dy", "scale")


def random_episodes(rng: np.random.Generator, n: int, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """Draw pain levels and crying for n frames: episodes of several seconds each.

    Levels come in shuffled rounds of all three (never the same level twice in a row), and an
    episode's mean length is proportional to its level's weight, so even a short video holds
    every level in roughly LEVEL_WEIGHTS proportions.
    """
    pain = np.empty(n, dtype=np.int64)
    weights = np.array(LEVEL_WEIGHTS) / np.mean(LEVEL_WEIGHTS)
    t, previous = 0, -1
    while t < n:
        order = rng.permutation(3)
        if order[0] == previous:
            order = np.roll(order, -1)
        for level in order:
            length = max(1, int(round(rng.uniform(*EPISODE_S) * weights[level] * fps)))
            pain[t:t + length] = level
            t += length
            if t >= n:
                break
        previous = int(order[-1])
    cry = np.zeros(n, dtype=np.int64)
    t = 0
    while t < n:
        length = max(1, int(round(rng.uniform(*CRY_BOUT_S) * fps)))
        if rng.random() < CRY_P_BY_LEVEL[pain[t]]:
            cry[t:t + length] = 1
        t += length
    return cry, pain


def scripted_episodes(script: list[tuple[float, int, int, bool]], fps: float) -> tuple[np.ndarray, ...]:
    """Labels from a script of (seconds, pain index, cry, face visible) parts (demo videos)."""
    cry, pain, face = [], [], []
    for seconds, level, crying, visible in script:
        k = int(round(seconds * fps))
        cry += [crying] * k
        pain += [level] * k
        face += [visible] * k
    return np.array(cry), np.array(pain), np.array(face, dtype=bool)


def build_schedule(rng: np.random.Generator, cry: np.ndarray, pain: np.ndarray, fps: float,
                   expressiveness: float = 1.0, face: np.ndarray | None = None) -> Schedule:
    """Turn labels into per-frame expression and pose (see the module docstring)."""
    n = len(cry)
    intensity = _lagged(_episode_targets(rng, pain), ONSET_RATE) * expressiveness
    crying = _lagged(cry.astype(float), 0.6)

    def cue(gain: float) -> np.ndarray:
        return intensity * gain + rng.normal(0.0, PAIN_FRAME_SD, n)

    brow = cue(1.0) + 0.15 * crying
    furrow = cue(0.95)
    squeeze = cue(0.85) + 0.45 * crying
    stretch = cue(0.6) + 0.45 * crying
    mouth_open = 0.1 * np.clip(intensity - 0.5, 0, None) + np.abs(rng.normal(0.0, 0.04, n))
    raise_ = np.zeros(n)
    round_ = np.zeros(n)

    mouth_open += crying * _cry_rhythm(rng, n)
    calm = crying < 0.3
    blink = calm & (rng.random(n) < BLINK_RATE)
    squeeze[blink] = rng.uniform(0.8, 1.0, int(blink.sum()))
    babble = calm & (rng.random(n) < BABBLE_RATE)
    mouth_open[babble] += rng.uniform(0.2, 0.5, int(babble.sum()))
    _add_yawns(rng, n, fps, calm, mouth_open, round_, raise_, squeeze, brow)

    tilt, dx, dy, scale = _head_motion(rng, n, crying)
    clip = lambda a: np.clip(a, 0.0, 1.0)  # noqa: E731
    return Schedule(
        cry=cry.astype(np.int64), pain=pain.astype(np.int64),
        face=np.ones(n, dtype=bool) if face is None else face.astype(bool),
        brow=clip(brow), raise_=clip(raise_), squeeze=clip(squeeze), furrow=clip(furrow),
        mouth_open=clip(mouth_open), stretch=clip(stretch), round_=clip(round_),
        tilt_deg=tilt, dx=dx, dy=dy, scale=scale,
    )


def _episode_targets(rng: np.random.Generator, pain: np.ndarray) -> np.ndarray:
    """Target intensity per frame: the level's mean plus one offset per episode."""
    target = np.empty(len(pain))
    start = 0
    for end in list(np.flatnonzero(np.diff(pain)) + 1) + [len(pain)]:
        level = int(pain[start])
        target[start:end] = PAIN_MEAN[level] + rng.normal(0.0, PAIN_EPISODE_SD)
        start = end
    return np.clip(target, 0.0, 1.0)


def _lagged(target: np.ndarray, rate: float) -> np.ndarray:
    """First-order lag: the face approaches each new target over a few frames."""
    out = np.empty(len(target))
    value = target[0] if len(target) else 0.0
    for i, goal in enumerate(target):
        value += rate * (goal - value)
        out[i] = value
    return out


def _cry_rhythm(rng: np.random.Generator, n: int) -> np.ndarray:
    """Mouth opening of a cry: open 1-3 frames (a wail), then closed for an in-breath."""
    out = np.empty(n)
    i = 0
    while i < n:
        k = int(rng.integers(1, 4))
        out[i:i + k] = rng.uniform(0.55, 1.0, min(k, n - i))
        i += k
        if i < n:
            out[i] = rng.uniform(0.0, 0.15)
            i += 1
    return out


def _add_yawns(rng: np.random.Generator, n: int, fps: float, calm: np.ndarray, mouth_open: np.ndarray,
               round_: np.ndarray, raise_: np.ndarray, squeeze: np.ndarray, brow: np.ndarray) -> None:
    """A yawn: one slow round opening over 5-8 frames with raised brows, when not crying."""
    for start in np.flatnonzero(rng.random(n) < YAWN_PER_S / fps):
        length = int(rng.integers(5, 9))
        stop = min(n, start + length)
        if not calm[start:stop].all():
            continue
        shape = np.sin(np.linspace(0, np.pi, length))[: stop - start]
        peak = rng.uniform(0.7, 1.0)
        mouth_open[start:stop] = np.maximum(mouth_open[start:stop], peak * shape)
        round_[start:stop] = shape
        raise_[start:stop] = 0.7 * shape
        squeeze[start:stop] = np.maximum(squeeze[start:stop], 0.5 * shape)
        brow[start:stop] *= 1 - shape


def _head_motion(rng: np.random.Generator, n: int, crying: np.ndarray) -> tuple[np.ndarray, ...]:
    """Slow drift of tilt, position and size, with jerks while crying."""
    def walk(step: float, limit: float) -> np.ndarray:
        steps = rng.normal(0.0, step, n) * (1.0 + 1.5 * crying)
        out = np.empty(n)
        value = rng.uniform(-limit, limit) * 0.5
        for i, s in enumerate(steps):
            value = float(np.clip(0.97 * value + s, -limit, limit))
            out[i] = value
        return out

    return walk(2.5, 40.0), walk(0.03, 0.35), walk(0.02, 0.2), 1.0 + walk(0.01, 0.12)
