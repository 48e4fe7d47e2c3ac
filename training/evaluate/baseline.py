"""A simple-feature yardstick: HOG of each aligned crop + logistic regression, on the run's own windows.

Fitted on the training split's windows and scored on exactly the test windows the model is
scored on (same split, same crops, same windows), with the same metric functions.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cribside.training.metrics import window_metrics

SEED = 0


CELL, BLOCK, BINS = 8, 2, 9  # 8x8-pixel cells, 2x2-cell (16-pixel) blocks at an 8-pixel stride, 9 unsigned bins
HOG_SIZE = 7 * 7 * BLOCK * BLOCK * BINS  # 1764 values for a 64x64 crop, as cv2.HOGDescriptor((64,64),(16,16),(8,8),(8,8),9)


def hog(faces: np.ndarray) -> np.ndarray:
    """HOG vectors (n, 1764) float32 of 64x64 crops (n, 64, 64), in numpy.

    The layout of OpenCV's ``HOGDescriptor((64, 64), (16, 16), (8, 8), (8, 8), 9)``: unsigned
    gradients (0-180 degrees) voted into 9 orientation bins with linear interpolation, 8x8-pixel
    cells, 2x2-cell blocks at a one-cell stride, L2-Hys block normalisation (clip 0.2). OpenCV 5
    wheels no longer ship ``cv2.HOGDescriptor``, hence this implementation (no new dependency).
    """
    x = np.asarray(faces, dtype=np.float32)
    n, h, w = x.shape
    gx, gy = np.zeros_like(x), np.zeros_like(x)
    gx[:, :, 1:-1] = x[:, :, 2:] - x[:, :, :-2]
    gy[:, 1:-1, :] = x[:, 2:, :] - x[:, :-2, :]
    mag = np.hypot(gx, gy)
    pos = (np.degrees(np.arctan2(gy, gx)) % 180.0) / (180.0 / BINS) - 0.5
    lo = np.floor(pos).astype(np.int64)
    frac = pos - lo
    cells = np.zeros((n, h // CELL, w // CELL, BINS), np.float32)
    cy = (np.arange(h) // CELL)[None, :, None]
    cx = (np.arange(w) // CELL)[None, None, :]
    idx_n = np.arange(n)[:, None, None]
    shape = (n, h, w)
    for b, weight in ((lo % BINS, 1.0 - frac), ((lo + 1) % BINS, frac)):
        np.add.at(cells, (np.broadcast_to(idx_n, shape), np.broadcast_to(cy, shape), np.broadcast_to(cx, shape), b),
                  mag * weight)
    ny, nx = h // CELL - BLOCK + 1, w // CELL - BLOCK + 1
    blocks = np.stack([cells[:, i:i + BLOCK, j:j + BLOCK].reshape(n, -1) for i in range(ny) for j in range(nx)], axis=1)
    blocks /= np.linalg.norm(blocks, axis=2, keepdims=True) + 1e-6
    blocks = np.minimum(blocks, 0.2)
    blocks /= np.linalg.norm(blocks, axis=2, keepdims=True) + 1e-6
    return blocks.reshape(n, -1).astype(np.float32)


def window_features(faces: np.ndarray) -> np.ndarray:
    """Features of windows of crops (n, seq_len, 64, 64) uint8: the mean of the frames' HOG vectors."""
    faces = np.asarray(faces, dtype=np.uint8)
    n, seq = faces.shape[:2]
    if n == 0:
        return np.zeros((0, HOG_SIZE), np.float32)
    return hog(faces.reshape(n * seq, *faces.shape[2:])).reshape(n, seq, -1).mean(axis=1)


def _fit_predict(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    classes = np.unique(y_train)
    if classes.size < 2:  # one class in training: the only possible answer
        return np.full(len(x_test), classes[0] if classes.size else 0, dtype=np.int64), None
    model = make_pipeline(StandardScaler(), LogisticRegression(class_weight="balanced", max_iter=5000, random_state=SEED))
    model.fit(x_train, y_train)
    return model.predict(x_test).astype(np.int64), model.predict_proba(x_test)


def hog_baseline(train_faces: np.ndarray, train_cry: np.ndarray, train_pain: np.ndarray,
                 test_faces: np.ndarray, test_cry: np.ndarray, test_pain: np.ndarray) -> dict[str, Any]:
    """Fit HOG + logistic regression on training windows, score on test windows (crops (n, seq_len, 64, 64))."""
    from sklearn.metrics import roc_auc_score

    x_train, x_test = window_features(train_faces), window_features(test_faces)
    cry_pred, cry_proba = _fit_predict(x_train, np.asarray(train_cry), x_test)
    pain_pred, _ = _fit_predict(x_train, np.asarray(train_pain), x_test)
    m = window_metrics(np.asarray(test_cry), np.asarray(test_pain), cry_pred, pain_pred)
    auc = None
    if cry_proba is not None and np.unique(test_cry).size == 2:
        auc = float(roc_auc_score(test_cry, cry_proba[:, 1]))
    return {"features": "HOG 64x64, 16px blocks, 8px stride and cells, 9 bins, mean over frames, standardised",
            "classifier": "LogisticRegression(class_weight=balanced)",
            "n_train_windows": int(len(train_cry)), "n_windows": int(len(test_cry)),
            "cry_accuracy": m["cry_accuracy"], "cry_f1": m["cry_f1"], "cry_roc_auc": auc,
            "pain_accuracy": m["pain_accuracy"], "pain_weighted_f1": m["pain_weighted_f1"]}


def run_windows(run: Any) -> tuple[Any, Any]:
    """The run's training and test windows (test = exactly the windows ``Run.test_windows`` scores)."""
    from cribside.training.fit.run import TEST, TRAIN

    windows, part = run.windows()
    return windows.select(part == TRAIN), windows.select(part == TEST)


def run_baseline(run: Any, test: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> dict[str, Any]:
    """The HOG baseline of a run: fitted on its split's training windows, scored on its test windows,
    or on ``test`` = (crops (n, seq_len, 64, 64), cry, pain) when it is scored on other data (``--data``)."""
    train, held_out = run_windows(run)

    def crops(w: Any) -> np.ndarray:
        rows = np.asarray(w.rows)
        return run.faces_of(rows.ravel()).reshape(*rows.shape, 64, 64) if rows.size else np.zeros((0, run.seq_len, 64, 64), np.uint8)

    if test is None:
        test = (crops(held_out), held_out.cry, held_out.pain)
    return hog_baseline(crops(train), train.cry, train.pain, *test)
