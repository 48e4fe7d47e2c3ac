"""Window building: video boundaries, no-face gaps, missing frames, label rules."""

from dataclasses import dataclass

import numpy as np
import pytest

from cribside.edge.errors import CribsideError
from cribside.training.data.windows import FrameTable, build_windows, majority


@dataclass(frozen=True)
class Row:
    subject: str
    video: str
    frame: int
    cry: int = 0
    pain: int = 0
    face: bool = True


def _table(rows):
    return FrameTable.from_frames(rows)


def test_windows_slide_one_frame_within_a_video():
    table = _table([Row("a", "v", f, cry=f % 2) for f in range(6)])
    w = build_windows(table, 4)
    assert w.rows.tolist() == [[0, 1, 2, 3], [1, 2, 3, 4], [2, 3, 4, 5]]
    assert w.ids.tolist() == ["a/v/3", "a/v/4", "a/v/5"]
    assert w.cry.tolist() == [1, 0, 1]  # last frame's label


def test_windows_never_cross_videos_or_subjects():
    rows = [Row("a", "v1", f) for f in range(5)] + [Row("a", "v2", f) for f in range(3)] + \
           [Row("b", "v1", f) for f in range(4)]
    w = build_windows(_table(rows), 4)
    table = _table(rows)
    for window in w.rows:
        assert len({(table.subject[i], table.video[i]) for i in window}) == 1
    # a/v1 gives 2 windows, a/v2 (3 frames) none, b/v1 one.
    assert len(w) == 3


def test_no_face_frame_breaks_windows():
    rows = [Row("a", "v", f, face=(f != 4)) for f in range(10)]
    w = build_windows(_table(rows), 4)
    # runs 0-3 and 5-9: 1 + 2 windows, none containing frame 4.
    assert len(w) == 3
    assert 4 not in w.rows
    assert w.rows.tolist() == [[0, 1, 2, 3], [5, 6, 7, 8], [6, 7, 8, 9]]


def test_missing_frame_index_breaks_windows():
    frames = [0, 1, 2, 3, 5, 6, 7, 8]  # frame 4 missing
    w = build_windows(_table([Row("a", "v", f) for f in frames]), 4)
    assert w.ids.tolist() == ["a/v/3", "a/v/8"]


def test_a_video_numbered_by_source_frame_is_not_all_gaps():
    w = build_windows(_table([Row("a", "v", f) for f in range(0, 100, 10)]), 4)
    assert len(w) == 7


def test_frames_out_of_order_are_an_error():
    with pytest.raises(CribsideError, match="time order"):
        build_windows(_table([Row("a", "v", f) for f in (0, 2, 1, 3)]), 2)


def test_majority_rule_and_tie_break_to_most_recent():
    pain = [2, 2, 1, 0, 0, 1]
    table = _table([Row("a", "v", f, pain=p) for f, p in enumerate(pain)])
    w = build_windows(table, 4, label_rule="majority")
    # windows: [2,2,1,0] -> 2; [2,1,0,0] -> 0; [1,0,0,1] tie 0/1 -> last seen is 1.
    assert w.pain.tolist() == [2, 0, 1]
    last = build_windows(table, 4, label_rule="last")
    assert last.pain.tolist() == [0, 0, 1]
    assert majority(np.array([[0, 1]])).tolist() == [1]


def test_unknown_rule_and_empty_result():
    table = _table([Row("a", "v", f) for f in range(3)])
    with pytest.raises(CribsideError):
        build_windows(table, 2, label_rule="first")
    empty = build_windows(table, 4)
    assert len(empty) == 0 and empty.rows.shape == (0, 4)
