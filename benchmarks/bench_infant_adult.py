"""Can the device tell an infant's face from an adult's on its own aligned crops? Leave one child out.

For the crib-zone issue's "a parent holding the infant inside the zone": a small classifier (the project's
HOG on the 64x64 aligned crop + logistic regression, balanced classes) trained on every child but one and
on adults split by person, scored on the child it has never seen, beside the majority class. The real,
licensed faces at hand: 4 children (the two Lookit laughter children, the iCatcher+ infant of each of its
two videos), their 2 webcam parents (Lookit), and 72 studio adults (London set). Each Lookit parent is held
out with its child, so the same-webcam figure (the unseen child against its own unseen parent) is the
one that says whether age is learned rather than the camera.

Usage:
    python benchmarks/bench_infant_adult.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import cv2
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from cribside.bench.faces import read_lookit_annotations
from cribside.edge.face.aligner import FaceAligner
from cribside.edge.face.pose import NOT_CLASSIFIED
from cribside.edge.face.zones import CribZone
from cribside.training.evaluate.baseline import hog

ANNOTATIONS = Path(__file__).parent / "lookit"  # each scene's crib zone and child/parent split (zones.csv)
STEP = 2  # every 2nd video frame


def video_crops(path: Path, zone: list[list[float]] | None, keep=lambda i: True) -> list[np.ndarray]:
    """Classifiable crops (not profile, not unclear) of the face tracked in ``zone``."""
    crops = []
    capture = cv2.VideoCapture(str(path))
    with FaceAligner(track=True, zone=CribZone.from_lists(zone) if zone else None) as aligner:
        index = -1
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            index += 1
            if index % STEP:
                continue
            face = aligner.align(frame)  # every sampled frame, so the track continues
            if face is not None and face.pose not in NOT_CLASSIFIED and keep(index):
                crops.append(face.crop)
    capture.release()
    return crops


def collect(data: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Crops, labels (1 child, 0 adult) and person ids."""
    crops: list[np.ndarray] = []
    labels: list[int] = []
    people: list[str] = []

    def add(batch: list[np.ndarray], label: int, person: str) -> None:
        crops.extend(batch)
        labels.extend([label] * len(batch))
        people.extend([person] * len(batch))

    lookit = data / "infants" / "lookit_laughter"
    zones, splits, _, _ = read_lookit_annotations(ANNOTATIONS)
    for clip in csv.DictReader((lookit / "labels.csv").open(encoding="utf-8")):
        x = splits[clip["child_id"]]  # the parent: the whole other side of the split
        left, right = [[0, 0], [x, 0], [x, 1], [0, 1]], [[x, 0], [1, 0], [1, 1], [x, 1]]
        parent_zone = right if clip["child_side_of_frame"].upper() == "LEFT" else left
        add(video_crops(lookit / clip["file"], zones[clip["child_id"]]), 1, "child " + clip["child_id"])
        add(video_crops(lookit / clip["file"], parent_zone), 0, "parent of " + clip["child_id"])
    icatcher = data / "infants" / "icatcher_plus_lookit"
    counts = {int(a): int(b) for a, b in csv.reader((icatcher / "fd_video_face_counts_per_frame.csv").open()) if a.isdigit()}
    add(video_crops(icatcher / "fd_video.mp4", None, keep=lambda i: counts.get(i) == 1), 1, "child iCatcher fd_video")
    add(video_crops(icatcher / "test_short.mp4", None), 1, "child iCatcher test_short")
    with FaceAligner() as aligner:
        for photo in sorted((data / "faces" / "london_expressions").glob("*/*.jpg")):
            face = aligner.align(cv2.imread(str(photo)))
            if face is not None and face.pose not in NOT_CLASSIFIED:
                add([face.crop], 0, "london " + photo.stem[:3])
    return np.stack(crops), np.array(labels), np.array(people)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).parents[1].parent / "shared" / "data")
    args = parser.parse_args()
    crops, y, people = collect(args.data)
    x = hog(crops.astype(np.float32))
    children = sorted(set(people[y == 1]))
    adults = sorted(set(people[y == 0]) - {p for p in people if p.startswith("parent of")})
    rng = np.random.default_rng(0)
    rng.shuffle(adults)
    fold_of = {p: i for i, p in enumerate(children)}
    fold_of |= {p: i % len(children) for i, p in enumerate(adults)}
    fold_of |= {p: fold_of["child " + p.split()[-1]] for p in set(people) if p.startswith("parent of")}
    fold = np.array([fold_of[p] for p in people])
    print(f"{len(children)} children ({(y == 1).sum()} crops), {len(set(people[y == 0]))} adults ({(y == 0).sum()} crops); "
          "frontal and turned faces only\n")
    print("| held-out child | its crops called child | held-out adults' crops called adult | balanced accuracy (majority: 0.50) "
          "| ROC AUC | same webcam: child vs its own parent, ROC AUC |")
    print("|---|---|---|---|---|---|")
    called_child = np.zeros(len(y), bool)
    for k, child in enumerate(children):
        train, test = fold != k, fold == k
        model = make_pipeline(StandardScaler(), LogisticRegression(class_weight="balanced", max_iter=5000))
        model.fit(x[train], y[train])
        p = model.predict_proba(x[test])[:, 1]
        called_child[test] = p >= 0.5
        yt, pt = y[test], people[test]
        parent = "parent of " + child.split()[-1]
        same = np.isin(pt, [child, parent])
        same_auc = f"{roc_auc_score(yt[same], p[same]):.2f}" if parent in set(pt) else "n/a (no same-camera adult)"
        print(f"| {child} | {(p[yt == 1] >= 0.5).mean():.2f} | {(p[yt == 0] < 0.5).mean():.2f} "
              f"| {balanced_accuracy_score(yt, p >= 0.5):.2f} | {roc_auc_score(yt, p):.2f} | {same_auc} |")
    parents = np.array([p.startswith("parent of") for p in people])
    london = np.array([p.startswith("london") for p in people])
    print(f"\nAdult crops called child (out of fold): webcam parents {called_child[parents].mean():.2f} "
          f"({called_child[parents].sum()}/{parents.sum()}), London studio adults {called_child[london].mean():.2f} "
          f"({called_child[london].sum()}/{london.sum()})")


if __name__ == "__main__":
    main()
