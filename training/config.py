"""Every training hyperparameter in one place: :class:`TrainConfig`, and how a run's is resolved.

Two per-frame feature options (``features``), each with its own classifier defaults
(:data:`FEATURE_PRESETS`):

- ``hog`` (the default, chosen by measurement on real faces of people never seen in training;
  docs/training.md): fixed gradient-orientation histograms of the aligned crop plus a 32x32
  thumbnail (2,788 values, training/nets/gradients.py), mirrored training faces, and a small
  LSTM (64 units, L2 0.001, dropout 0.5) for the tens of infants a clinical team has.
- ``paper``: the paper exactly (Kristian et al., JNTETI 2018): autoencoder of 3 conv + 3
  transposed-conv layers, 3x3 filters, 10 filters per layer, stride 2, LeakyReLU(0.2), SSIM
  loss, learning rate 0.01; LSTM of 1,024 units over windows of 4 frames, L2 0.001, dropout
  0.5 (the paper's best for cry; 0.25 was its best for pain, used for the pain model when the
  heads are trained separately).

Choices the paper leaves open, made here and recorded in every run:
- ``split="subject"``: no infant in both training and test (the honest figure
  for a new baby); ``"kfold"`` rotates held-out subjects; ``"random"`` is the
  paper's own window-level 80/20 protocol.
- ``label_rule="last"``: a window takes its last frame's label (the device
  labels the newest frame); ``"majority"`` votes over the window.
- ``balance="class_weight"``: rare classes (the paper's moderate pain) weigh
  more in the loss; ``"sample"`` oversamples them instead; ``"none"``.

:data:`TUNABLE_FLAGS` names the fields that have a command-line flag of their own (``cribside train``);
:func:`resolve_config` layers defaults, a JSON file, ``KEY=VALUE`` items and those flags.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cribside.edge.errors import CribsideError

SPLITS = ("subject", "kfold", "random")
LABEL_RULES = ("last", "majority")
BALANCES = ("class_weight", "sample", "none")
HEADS = ("shared", "separate")
ACTIVATIONS = ("leaky_relu", "relu")
SSIM_WINDOWS = ("gaussian", "global")
FEATURES = ("hog", "paper")
# What each per-frame feature option changes from the dataclass defaults below (which are the
# default recipe, "hog"). "paper" is the paper's recipe exactly: its trained autoencoder, the
# 1,024-unit LSTM, no mirrored faces (plus the int8-aware training that int8 parity needs).
FEATURE_PRESETS: dict[str, dict[str, Any]] = {
    "hog": {},
    "paper": {"units": 1024, "dropout": 0.5, "mirror": False, "int8_aware": True, "l2": 0.001},
}

# Fields with a flag of their own (``--seq-len`` for seq_len), grouped for --help: the flag's type or
# choices and help. Every TrainConfig field is reachable through ``--set KEY=VALUE`` too.
TUNABLE_FLAGS: dict[str, dict[str, Any]] = {
    "features": dict(choices=FEATURES, help="per-frame features: hog (default: gradient-orientation histograms "
                                            "+ a 32x32 thumbnail, fixed) or paper (the paper's trained autoencoder); "
                                            "each option brings its own classifier defaults"),
    "split": dict(choices=SPLITS, help="subject: held-out infants (default, honest); kfold: by subject; "
                                       "random: the paper's window-level 80/20"),
    "folds": dict(type=int, help="number of subject folds for --split kfold"),
    "fold": dict(type=lambda text: text if text == "all" else int(text), metavar="K|all",
                 help="which fold is the test set (0-based) for --split kfold; all: train every fold into "
                      "RUN/fold-K (cribside eval RUN then reports mean and sd over folds)"),
    "seed": dict(type=int, help="random seed (runs are deterministic for a seed)"),
    "seq_len": dict(type=int, help="frames per window (paper: 4)"),
    "units": dict(type=int, help="LSTM units (paper: 1024)"),
    "dropout": dict(type=float, help="dropout of the shared LSTM, or of the cry LSTM with --heads separate (0.5)"),
    "pain_dropout": dict(type=float, help="dropout of the pain LSTM with --heads separate (paper's best: 0.25)"),
    "heads": dict(choices=HEADS, help="shared: one LSTM, two heads; separate: one LSTM per task"),
    "balance": dict(choices=BALANCES, help="class imbalance: class_weight (default), sample (oversample), none"),
    "label_rule": dict(choices=LABEL_RULES, help="window label: last frame's (default) or majority vote"),
    "ae_epochs": dict(type=int, help="autoencoder epochs (early stopping may end sooner)"),
    "lstm_epochs": dict(type=int, help="classifier epochs (early stopping may end sooner)"),
    "ae_learning_rate": dict(type=float, help="autoencoder learning rate (paper: 0.01)"),
    "ssim_window": dict(choices=SSIM_WINDOWS, help="SSIM statistics: gaussian 11x11 (default) or global"),
}


@dataclass(frozen=True)
class TrainConfig:
    """Resolved training configuration, written to ``RUN/config.json``."""

    seed: int = 0
    # Split protocol.
    split: str = "subject"
    folds: int = 5  # for split="kfold"
    fold: int = 0  # which fold is the test set, 0..folds-1
    test_fraction: float = 0.2  # subjects (or windows, for split="random") held out for test
    val_fraction: float = 0.15  # of the remaining subjects/windows, for early stopping
    # Per-frame features (the encoder): "hog" = fixed gradient-orientation histograms + a 32x32
    # thumbnail (training/nets/gradients.py), chosen by measurement on real faces of unseen people;
    # "paper" = the paper's autoencoder below, trained on the training faces (SSIM loss).
    features: str = "hog"
    # Autoencoder (paper Table I).
    conv_layers: int = 3
    filters: int = 10
    kernel_size: int = 3
    activation: str = "leaky_relu"
    leaky_alpha: float = 0.2
    ssim_window: str = "gaussian"  # "gaussian": Wang et al.'s 11x11 local SSIM; "global": eq. (3) over the whole image
    ae_learning_rate: float = 0.01
    ae_batch_size: int = 64
    ae_epochs: int = 20
    ae_patience: int = 4
    # Sequence classifier (paper Tables II and III).
    seq_len: int = 4
    units: int = 64  # paper: 1024 (FEATURE_PRESETS['paper'])
    dropout: float = 0.5  # shared LSTM, or the cry LSTM when heads="separate"
    pain_dropout: float = 0.25  # the pain LSTM when heads="separate"
    l2: float = 0.001
    heads: str = "shared"
    normalize_latents: bool = True  # per-feature standardisation inside the classifier (train statistics)
    input_noise: float = 0.0  # std of Gaussian noise added to standardised latents while training (0 = off)
    # Std of Gaussian noise added to the RAW latents (before standardisation) while training, in int8
    # quantisation steps of the training latents' range, (max - min) / 255. It teaches the classifier to
    # ignore differences finer than the int8 encoder can represent (int8 parity) and, like any input jitter,
    # discourages reliance on tiny latent features. 0 = off; inactive at inference.
    raw_latent_noise_steps: float = 0.0
    # Train the classifier on horizontally mirrored faces too: every epoch shows each training window
    # once, its own latents or those of its mirrored faces at random (same epoch time). Expression cues
    # are symmetric; lighting, hair and head tilt are not, so a mirrored infant is a new look to learn from.
    mirror: bool = True
    # Train the classifier on latents as the int8 encoder will compute them too (simulated: int8 weights
    # and activations, training/nets/int8_view.py), picked at random like the mirrored ones, so int8 models
    # give the float models' answers (the conversion's parity gate). Costs one more encoding pass.
    int8_aware: bool = False  # paper preset: True (its int8 encoder rounds what the classifier reads)
    lstm_learning_rate: float = 0.001
    lstm_batch_size: int = 64
    lstm_epochs: int = 20
    lstm_patience: int = 5
    label_rule: str = "last"
    balance: str = "class_weight"
    # Filled from the dataset at train time (the device samples at this rate).
    fps: float = 3.0
    notes: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_choice("split", self.split, SPLITS)
        _check_choice("label_rule", self.label_rule, LABEL_RULES)
        _check_choice("balance", self.balance, BALANCES)
        _check_choice("heads", self.heads, HEADS)
        _check_choice("activation", self.activation, ACTIVATIONS)
        _check_choice("ssim_window", self.ssim_window, SSIM_WINDOWS)
        _check_choice("features", self.features, FEATURES)
        if not 1 <= self.conv_layers <= 5:
            raise CribsideError(f"conv_layers must be 1..5 (64x64 input), got {self.conv_layers}")
        if self.seq_len < 1:
            raise CribsideError(f"seq_len must be >= 1, got {self.seq_len}")
        if self.units < 1 or self.filters < 1:
            raise CribsideError("units and filters must be positive")
        if self.input_noise < 0 or self.raw_latent_noise_steps < 0:
            raise CribsideError("input_noise and raw_latent_noise_steps must be >= 0")
        for name in ("dropout", "pain_dropout", "test_fraction", "val_fraction"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise CribsideError(f"{name} must be in [0, 1), got {value}")
        if self.split == "kfold" and not 0 <= self.fold < self.folds:
            raise CribsideError(f"fold must be 0..{self.folds - 1}, got {self.fold}")

    @property
    def latent_size(self) -> int:
        """Length of one frame's feature vector for a 64x64 input."""
        if self.features == "hog":
            from cribside.training.nets.gradients import feature_size

            return feature_size(64)
        side = 64 // (2**self.conv_layers)
        return side * side * self.filters

    @classmethod
    def for_features(cls, features: str, **values: Any) -> TrainConfig:
        """The recipe of a feature option (:data:`FEATURE_PRESETS`), then ``values`` over it."""
        _check_choice("features", features, FEATURES)
        return cls.from_dict({**FEATURE_PRESETS[features], **values, "features": features})

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (the content of ``config.json``)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Build from a dict, rejecting unknown keys (a typo must not pass silently)."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise CribsideError(f"unknown training config key(s): {', '.join(unknown)}")
        return cls(**values)

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise CribsideError(f"{name} must be one of {', '.join(choices)}; got {value!r}")


def resolve_config(config_file: str | Path | None = None, sets: Sequence[str] = (),
                   flags: Mapping[str, Any] | None = None) -> TrainConfig:
    """TrainConfig from the defaults, then a JSON file of fields (``--config``), then ``KEY=VALUE``
    items with JSON values (``--set``), then the :data:`TUNABLE_FLAGS` found in ``flags`` (None: not given).

    Raises:
        CribsideError: the file cannot be read, an item is not KEY=VALUE with KEY a field, or a value is bad.
    """
    values: dict = {}
    if config_file is not None:
        try:
            values.update(json.loads(Path(config_file).read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError) as exc:
            raise CribsideError(f"cannot read --config {config_file}: {exc}") from None
    known = {f.name: f for f in dataclasses.fields(TrainConfig)}
    for item in sets:
        key, sep, raw = item.partition("=")
        if not sep or key not in known:
            raise CribsideError(f"--set {item!r}: expected KEY=VALUE with KEY a training config field")
        try:
            values[key] = json.loads(raw)
        except json.JSONDecodeError:
            values[key] = raw
    flags = flags or {}
    values.update({name: flags[name] for name in TUNABLE_FLAGS if flags.get(name) is not None})
    features = values.pop("features", TrainConfig.features)
    if not isinstance(features, str):
        raise CribsideError(f"features must be one of {', '.join(FEATURES)}; got {features!r}")
    return TrainConfig.for_features(features, **values)
