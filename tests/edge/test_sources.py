"""Frame sources and the capture thread (real files rendered with OpenCV, a fake flaky camera)."""

import re
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from cribside.edge.errors import CribsideError
from cribside.edge.sources import Frame, SourceLost, SourceOptions, open_source
from cribside.edge.sources.capture import Backoff, Capture, EndOfSource
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


def test_a_camera_by_its_stable_path() -> None:
    # /dev/v4l/by-id/... names one camera whatever order the USB bus enumerates them in.
    path = "/dev/v4l/by-id/usb-Logitech_C920_AB12-video-index0"
    camera = open_source(f"v4l2:{path}")
    assert isinstance(camera, CameraSource) and camera.live and camera.target == path
    with pytest.raises(SourceLost, match="usb-Logitech_C920_AB12"):
        next(iter(camera.frames()))  # not plugged in here: lost (and retried by the capture thread), named
    with pytest.raises(CribsideError, match="v4l2:/dev/<path>"):
        open_source("v4l2:by-id/usb-x")


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


# -- damaged and truncated videos ------------------------------------------------------------------

SAMPLE_VIDEO = Path(__file__).parents[2] / "edge" / "samples" / "synthetic_infant_demo.mp4"
SAMPLE_MODELS = Path(__file__).parents[2] / "edge" / "samples" / "models"


def render_textured(path: Path, n: int, fps: float = 10.0, fourcc: str = "mp4v") -> Path:
    """A video whose frames carry noise (so each is a sizable, distinct chunk of the file)."""
    rng = np.random.default_rng(0)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (160, 120))
    assert writer.isOpened()
    for i in range(n):
        image = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
        cv2.putText(image, str(i), (10, 60), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (255, 255, 255), 2)
        writer.write(image)
    writer.release()
    return path


def damage_middle(src: Path, dst: Path, n_bytes: int = 4096) -> Path:
    """A copy of ``src`` with ``n_bytes`` zeroed in the middle (a bad sector, a broken copy)."""
    data = bytearray(src.read_bytes())
    middle = len(data) // 2
    data[middle : middle + n_bytes] = bytes(n_bytes)
    dst.write_bytes(bytes(data))
    return dst


def test_a_video_damaged_in_the_middle_is_an_error_not_an_end(tmp_path: Path) -> None:
    # The demo video (72 s at 9 fps) with a damaged stretch: OpenCV stops at 34.8 s, as if the recording ended.
    source = open_source(str(damage_middle(SAMPLE_VIDEO, tmp_path / "video.mp4")))
    assert source.duration_s == pytest.approx(71.8, abs=0.1)
    frames = []
    with pytest.raises(CribsideError) as err:
        for frame in source.frames():
            frames.append(frame)
    assert str(err.value) == (
        f"video.mp4 ended at {len(frames) / source.fps:.1f} s of 71.8 s (frame {len(frames)} of {source.frame_count}): "
        "the file is damaged or truncated"
    )
    assert 0 < len(frames) < source.frame_count * 0.6  # every frame before the damage was delivered


def test_a_truncated_video_is_an_error_not_an_end(tmp_path: Path) -> None:
    # An AVI keeps its header at the start, so half a file still opens (an MP4 from OpenCV does not: below).
    full = render_textured(tmp_path / "full.avi", 100, fourcc="MJPG")
    half = tmp_path / "half.avi"
    half.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    source = open_source(str(half))
    assert source.frame_count == 100
    with pytest.raises(CribsideError, match=r"^half\.avi ended at [45]\.\d s of 10\.0 s \(frame \d+ of 100\): the file is damaged or truncated$"):
        list(source.frames())


def test_an_mp4_cut_before_its_index_cannot_be_opened(tmp_path: Path) -> None:
    full = render_textured(tmp_path / "full.mp4", 30)
    half = tmp_path / "half.mp4"
    half.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with pytest.raises(CribsideError, match="cannot read video .*half.mp4: not a video OpenCV can decode .*truncated"):
        open_source(str(half))


@pytest.mark.parametrize("n", [1, 2, 7, 31, 90])
@pytest.mark.parametrize(("fourcc", "suffix"), [("mp4v", ".mp4"), ("MJPG", ".avi"), ("mp4v", ".avi"), ("MJPG", ".mkv")])
def test_complete_videos_end_cleanly(tmp_path: Path, fourcc: str, suffix: str, n: int) -> None:
    source = open_source(str(render_textured(tmp_path / f"clip{suffix}", n, fourcc=fourcc)))
    assert len(list(source.frames())) == n


@pytest.mark.parametrize("video", [SAMPLE_VIDEO, Path(__file__).parents[1] / "data/infants/icatcher_plus_lookit/fd_video.mp4"],
                         ids=lambda p: p.name)
def test_real_videos_end_cleanly(video: Path) -> None:
    source = open_source(str(video))
    assert len(list(source.frames())) == source.frame_count > 0


def test_the_capture_thread_hands_the_damage_to_the_loop(tmp_path: Path) -> None:
    capture = Capture(open_source(str(damage_middle(SAMPLE_VIDEO, tmp_path / "video.mp4"))), on_captured=lambda c, d: None)
    capture.start()
    item = None
    deadline = time.monotonic() + 30
    while not isinstance(item, EndOfSource) and time.monotonic() < deadline:
        item = capture.get(1.0)
    capture.stop()
    assert isinstance(item, EndOfSource)
    assert isinstance(item.error, CribsideError) and "the file is damaged or truncated" in str(item.error)


def test_cribside_run_on_a_damaged_video_exits_non_zero(tmp_path: Path, face_models_dir: Path) -> None:
    import os
    import subprocess
    import sys

    video = damage_middle(SAMPLE_VIDEO, tmp_path / "video.mp4")
    env = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET" and not k.startswith("CRIBSIDE")}
    env.update(CRIBSIDE_FACE_MODELS=str(face_models_dir), TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, "-m", "cribside", "run", "--models", str(SAMPLE_MODELS), "--source", str(video)],
                          capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert re.fullmatch(r"cribside run: error: demo: reading \S+ failed: video\.mp4 ended at \d+\.\d s of 71\.8 s "
                        r"\(frame \d+ of 646\): the file is damaged or truncated", last), last


# -- specs that can never work ---------------------------------------------------------------------


def test_gst_source_needs_opencv_with_gstreamer() -> None:
    from cribside.edge.sources.video import opencv_has_gstreamer

    if opencv_has_gstreamer():
        pytest.skip("this OpenCV has GStreamer")
    with pytest.raises(CribsideError) as err:
        open_source("gst:videotestsrc ! videoconvert ! appsink")
    assert str(err.value).startswith("gst: source needs OpenCV built with GStreamer")
    assert "python3-opencv" in str(err.value) and "v4l2:" in str(err.value) and "rtsp://" in str(err.value)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("file:", r"expected file:<path>"),
        ("frames:", r"expected frames:<path>"),
        ("frames:?fps=3", r"expected frames:<path>"),
        ("gst:", r"expected gst:<pipeline>"),
        ("frames:{tmp}?fps=nan", r"fps must be a positive number"),
        ("frames:{tmp}?fps=inf", r"fps must be a positive number"),
        ("frames:{tmp}?fps=-3", r"fps must be a positive number"),
        ("frames:{tmp}?fps=fast", r"fps must be a positive number"),
        ("/dev/null", r"video /dev/null is not a regular file \(for a camera device use v4l2:<index>\)"),
        ("rtmp://nurse:secret@cam/x", r"^camera source 'rtmp://cam/x': unknown URL scheme rtmp://"),
    ],
)
def test_specs_that_can_never_work_are_clear_errors(tmp_path: Path, spec: str, message: str) -> None:
    with pytest.raises(CribsideError, match=message) as err:
        open_source(spec.format(tmp=tmp_path))
    assert "secret" not in str(err.value)


def test_folder_source_refuses_a_non_finite_fps(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "a.jpg"), np.zeros((8, 8, 3), np.uint8))
    for fps in (float("nan"), float("inf"), 0.0):
        with pytest.raises(CribsideError, match="fps must be a positive number"):
            FolderSource(tmp_path, fps=fps)


def test_stream_schemes_are_case_insensitive_and_redacted() -> None:
    stream = open_source("RTSP://nurse:secret@10.0.0.5/crib")
    assert isinstance(stream, CameraSource) and stream.name == "RTSP://10.0.0.5/crib"
    query = open_source("http://cam/video.cgi?user=admin&pwd=secret")
    assert query.name == "http://cam/video.cgi?user=***&pwd=***"


def test_file_source_path() -> None:
    from cribside.edge.sources.base import file_source_path

    assert file_source_path("file:/v/a.mp4") == Path("/v/a.mp4")
    assert file_source_path("frames:/v/shots?fps=3") == Path("/v/shots")
    assert file_source_path(" /v/a.mp4 ") == Path("/v/a.mp4")
    for live in ("picamera2", "v4l2:0", "rtsp://h/x", "HTTP://h/x", "gst:videotestsrc ! appsink"):
        assert file_source_path(live) is None
