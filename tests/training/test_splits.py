"""Splits: subject-independent never leaks a subject; k-fold covers everyone once; random is the paper's."""

import numpy as np
import pytest

from cribside.edge.errors import CribsideError
from cribside.training.data.splits import Split, kfold_split, random_split, subject_split
from cribside.training.data.windows import FrameTable, build_windows

SUBJECTS = [f"infant{i:02d}" for i in range(28)]  # IFPaLD has 28 infants


def _table(subjects, frames_per_video=12):
    rows = {"subject": [], "video": [], "frame": [], "cry": [], "pain": [], "face": []}
    for s in subjects:
        for f in range(frames_per_video):
            for key, value in zip(rows, (s, "v", f, f % 2, f % 3, True)):
                rows[key].append(value)
    return FrameTable.from_arrays({k: np.array(v) for k, v in rows.items()})


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_subject_split_never_leaks_a_subject(seed):
    split = subject_split(SUBJECTS, 0.2, 0.15, seed)
    parts = [set(split.train), set(split.val), set(split.test)]
    assert not (parts[0] & parts[1]) and not (parts[0] & parts[2]) and not (parts[1] & parts[2])
    assert set().union(*parts) == set(SUBJECTS)
    assert len(split.test) == round(0.2 * 28)
    # windows and frames follow their subject
    table = _table(SUBJECTS)
    windows = build_windows(table, 4)
    wpart = split.window_part(windows)
    for p, members in enumerate((split.train, split.val, split.test)):
        assert set(windows.subject[wpart == p]) == set(members)
    fpart = split.frame_part(table, windows)
    for p, members in enumerate((split.train, split.val, split.test)):
        assert set(table.subject[fpart == p]) == set(members)


def test_subject_split_is_deterministic_for_a_seed_and_varies_across_seeds():
    assert subject_split(SUBJECTS, 0.2, 0.15, 3) == subject_split(SUBJECTS, 0.2, 0.15, 3)
    assert subject_split(SUBJECTS, 0.2, 0.15, 3).test != subject_split(SUBJECTS, 0.2, 0.15, 4).test


def test_kfold_tests_every_subject_exactly_once():
    tested = []
    for fold in range(5):
        split = kfold_split(SUBJECTS, 5, fold, 0.15, seed=0)
        assert not set(split.test) & (set(split.train) | set(split.val))
        tested += split.test
    assert sorted(tested) == sorted(SUBJECTS)


def test_random_split_is_window_level_and_round_trips():
    table = _table(SUBJECTS[:5])
    windows = build_windows(table, 4)
    split = random_split(windows.ids.tolist(), 0.2, 0.15, seed=0)
    part = split.window_part(windows)
    assert (part >= 0).all()
    assert abs((part == 2).mean() - 0.2) < 0.02
    # The paper's protocol puts the same subject on both sides.
    assert set(windows.subject[part == 0]) & set(windows.subject[part == 2])
    # A frame in a training window is never counted as a held-out frame.
    fpart = split.frame_part(table, windows)
    assert set(windows.rows[part == 0].ravel()) <= set(np.flatnonzero(fpart == 0))
    assert Split.from_dict(split.to_dict()) == split


def test_too_few_subjects_is_a_clear_error():
    with pytest.raises(CribsideError, match="--split random"):
        subject_split(["a", "b"], 0.2, 0.15, 0)


def test_subject_split_prefers_held_out_sets_that_show_every_class():
    # Only two of ten subjects ever show class ("pain", 1): both held-out sets need one.
    classes = {s: {("pain", 0), ("pain", 2)} for s in SUBJECTS[:10]}
    classes[SUBJECTS[3]].add(("pain", 1))
    classes[SUBJECTS[7]].add(("pain", 1))
    split = subject_split(SUBJECTS[:10], 0.2, 0.15, seed=0, classes=classes)
    assert {SUBJECTS[3], SUBJECTS[7]} <= set(split.val) | set(split.test)
    assert SUBJECTS[3] not in split.train and SUBJECTS[7] not in split.train
    assert not set(split.test) & set(split.val)
    assert split == subject_split(SUBJECTS[:10], 0.2, 0.15, seed=0, classes=classes)
