"""Frame sources and the capture thread (real files rendered with OpenCV, a fake flaky camera)."""

import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from cribside.edge.capture import Backoff, Capture, EndOfSource
from cribside.edge.errors import CribsideError
from cribside.edge.sources import Frame, SourceLost, SourceOptions, open_source
from cribside.edge.sources.folder import FolderSource
from cribside.edge.sources.video import CameraSource, VideoFileSource

FPS = 20.0
N_FRAMES = 12


def render_video(path: Path, n: int = N_FRAMES, fps: float = FPS, size: tuple[int, int] = (160, 120)) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    assert writer.isOpened()
    for i in range(n):
        image = np.full((size[1], size[0], 3), 10 * i, np.uint8)
        writer.write(image)
    writer.release()
    return path


@pytest.fixture
def video(tmp_path: Path) -> Path:
    return render_video(tmp_path / "clip.mp4")


def test_video_file_frames_and_media_time(video: Path) -> None:
    source = open_source(str(video))
    assert isinstance(source, VideoFileSource) and not source.live
    assert source.fps == pytest.approx(FPS)
    frames = list(source.frames())
    assert len(frames) == N_FRAMES
    assert [f.index for f in frames] == list(range(N_FRAMES))
    assert frames[5].t_s == pytest.approx(5 / FPS)
    assert frames[0].image.shape == (120, 160, 3) and frames[0].image.dtype == np.uint8
    # frames() can be read again (a fresh capture each time)
    assert len(list(source.frames())) == N_FRAMES


def test_file_prefix_is_the_same_source(video: Path) -> None:
    assert isinstance(open_source(f"file:{video}"), VideoFileSource)


def test_realtime_plays_at_the_files_pace(video: Path) -> None:
    source = open_source(str(video), SourceOptions(realtime=True))
    started = time.monotonic()
    n = len(list(source.frames()))
    elapsed = time.monotonic() - started
    expected = (n - 1) / FPS
    pacing_tolerance_s = 0.2
    assert expected - 0.01 <= elapsed <= expected + pacing_tolerance_s


def test_missing_video_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CribsideError, match="video not found"):
        open_source(str(tmp_path / "nope.mp4"))


def test_unreadable_video_is_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.mp4"
    bogus.write_text("this is not a video\n")
    with pytest.raises(CribsideError, match="cannot read video"):
        open_source(str(bogus))


def test_folder_of_frames(tmp_path: Path) -> None:
    for i in range(5):
        cv2.imwrite(str(tmp_path / f"frame_{i:03d}.jpg"), np.full((48, 64, 3), 40 * i, np.uint8))
    (tmp_path / "labels.csv").write_text("not an image")
    source = open_source(str(tmp_path))
    assert isinstance(source, FolderSource) and source.fps == 3.0
    frames = list(source.frames())
    assert len(frames) == 5 and frames[4].t_s == pytest.approx(4 / 3)
    assert frames[2].image.mean() == pytest.approx(80, abs=3)  # file-name order
    faster = open_source(f"frames:{tmp_path}?fps=6")
    assert faster.fps == 6.0 and list(faster.frames())[4].t_s == pytest.approx(4 / 6)


def test_empty_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CribsideError, match="no .* images"):
        open_source(f"frames:{tmp_path}")


def test_picamera_off_a_pi_says_what_to_install() -> None:
    try:
        import picamera2  # noqa: F401
    except ImportError:
        with pytest.raises(CribsideError, match="picamera2 not available: on Raspberry Pi OS install python3-picamera2"):
            open_source("picamera2")
    else:
        pytest.skip("picamera2 is installed here")


@pytest.mark.hardware
def test_picamera_delivers_frames_on_a_pi() -> None:
    pytest.importorskip("picamera2", reason="needs a Raspberry Pi with python3-picamera2 and a camera")
    frame = next(iter(open_source("picamera2").frames()))
    assert frame.image.shape == (480, 640, 3)


def test_camera_specs() -> None:
    camera = open_source("v4l2:7")
    assert isinstance(camera, CameraSource) and camera.live and camera.target == 7
    stream = open_source("rtsp://nurse:secret@10.0.0.5:554/crib")
    assert "secret" not in stream.name and stream.name == "rtsp://10.0.0.5:554/crib"
    with pytest.raises(CribsideError, match="v4l2"):
        open_source("v4l2:front")
    with pytest.raises(CribsideError, match="empty"):
        open_source("  ")


def test_missing_camera_raises_source_lost() -> None:
    camera = open_source("v4l2:63")  # no such device here
    with pytest.raises(SourceLost):
        next(iter(camera.frames()))


class FlakyCamera:
    """A live source that fails to open twice, then delivers ``n`` frames, then dies."""

    live = True
    name = "flaky"

    def __init__(self, n: int = 5) -> None:
        self.n = n
        self.opens = 0

    def frames(self):
        self.opens += 1
        if self.opens <= 2:
            raise SourceLost("not there yet")
        for i in range(self.n):
            yield Frame(np.full((8, 8, 3), i, np.uint8), time.monotonic(), i)
        raise SourceLost("unplugged")

    def close(self) -> None:
        pass


def test_capture_reconnects_live_source_with_backoff() -> None:
    counts = {"captured": 0, "dropped": 0}

    def count(c: int, d: int) -> None:
        counts["captured"] += c
        counts["dropped"] += d

    camera = FlakyCamera()
    capture = Capture(camera, on_captured=count, queue_size=16, backoff=Backoff(min_s=0.02, max_s=0.05, jitter=0.2))
    capture.start()
    got = []
    deadline = time.monotonic() + 5
    while len(got) < 10 and time.monotonic() < deadline:
        item = capture.get(0.1)
        if isinstance(item, Frame):
            got.append(item)
    capture.stop()
    assert len(got) >= 10  # frames again after two failed opens and one unplug
    assert camera.opens >= 4


def test_backoff_doubles_to_max_with_jitter() -> None:
    import random

    backoff = Backoff(min_s=1.0, max_s=30.0, jitter=0.2)
    rng = random.Random(1)
    delays = [backoff.delay_s(a, rng) for a in range(8)]
    for attempt, delay in enumerate(delays):
        base = min(30.0, 2.0**attempt)
        assert 0.8 * base <= delay <= 1.2 * base
    assert len({round(backoff.delay_s(0, rng), 6) for _ in range(5)}) > 1  # jittered


class FastCamera:
    """A live source far faster than the loop."""

    live = True
    name = "fast"

    def frames(self):
        for i in range(200):
            yield Frame(np.full((8, 8, 3), i % 256, np.uint8), time.monotonic(), i)
        i = 200
        while True:  # then a trickle, as from a real camera
            time.sleep(0.05)
            yield Frame(np.zeros((8, 8, 3), np.uint8), time.monotonic(), i)
            i += 1

    def close(self) -> None:
        pass


def test_live_capture_drops_oldest_and_never_blocks() -> None:
    counts = {"captured": 0, "dropped": 0}

    def count(c: int, d: int) -> None:
        counts["captured"] += c
        counts["dropped"] += d

    capture = Capture(FastCamera(), on_captured=count, queue_size=4)
    capture.start()
    time.sleep(0.3)  # the loop is "busy": nothing consumed
    first = capture.get(1.0)
    capture.stop()
    assert counts["captured"] >= 200
    assert counts["dropped"] >= 190  # bounded queue: all but the last few dropped
    assert isinstance(first, Frame) and first.index >= 196  # the freshest frames were kept


def test_file_capture_is_lossless(video: Path) -> None:
    counts = {"captured": 0, "dropped": 0}

    def count(c: int, d: int) -> None:
        counts["captured"] += c
        counts["dropped"] += d

    capture = Capture(open_source(str(video)), on_captured=count, queue_size=2)
    capture.start()
    time.sleep(0.2)  # a slow loop: the reader waits instead of dropping
    items = []
    while not items or not isinstance(items[-1], EndOfSource):
        items.append(capture.get(2.0))
    capture.stop()
    assert [f.index for f in items[:-1]] == list(range(N_FRAMES))
    assert counts == {"captured": N_FRAMES, "dropped": 0}
