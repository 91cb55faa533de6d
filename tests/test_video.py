"""inference/pipeline/video.py: probing, codecs/containers, rotation, VFR timestamps, ranges, errors, memory."""
from __future__ import annotations

import importlib.util
import os
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")

from uplift_mocap.inference.pipeline import video  # noqa: E402
from uplift_mocap.inference.pipeline.video import VideoError  # noqa: E402

FIXTURES = Path(__file__).resolve().parent / "fixtures"
_spec = importlib.util.spec_from_file_location("make_video_fixtures", FIXTURES / "make_video_fixtures.py")
mvf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mvf)

CODEC_CLIPS = ["codec_h264.mp4", "codec_h264.mov", "codec_h265.mkv", "codec_vp9.webm", "codec_mjpeg.avi"]


def _frame_of(image: np.ndarray) -> int:
    """Which fixture frame ``image`` (upright 48x64 or 64x48) is, from its gray level."""
    h, w = image.shape[:2]
    centre = image[h // 2 - 6:h // 2 + 6, w // 2 - 6:w // 2 + 6].mean()
    return int(np.argmin([abs(centre - mvf.level(k)) for k in range(mvf.N_FRAMES)]))


def _marker_corner(image: np.ndarray) -> str:
    """Corner holding the white marker block: 'tl', 'tr', 'bl' or 'br'."""
    m = mvf.MARKER
    corners = {"tl": image[:m, :m], "tr": image[:m, -m:], "bl": image[-m:, :m], "br": image[-m:, -m:]}
    return max(corners, key=lambda k: corners[k].mean())


@pytest.mark.parametrize("name", CODEC_CLIPS)
def test_codecs_and_containers(name):
    info = video.probe(FIXTURES / name)
    assert (info.width, info.height, info.rotation) == (mvf.W, mvf.H, 0)
    assert info.fps == pytest.approx(25.0)
    assert info.frame_count == mvf.N_FRAMES
    assert info.duration_s == pytest.approx(mvf.N_FRAMES / 25.0)
    frames = list(video.iter_frames(FIXTURES / name))
    assert [f.index for f in frames] == list(range(mvf.N_FRAMES))
    assert [_frame_of(f.image) for f in frames] == list(range(mvf.N_FRAMES))
    np.testing.assert_allclose([f.time_s for f in frames], np.arange(mvf.N_FRAMES) * 0.04, atol=1e-3)
    for f in frames:
        assert f.image.shape == (mvf.H, mvf.W, 3) and f.image.dtype == np.uint8
        assert _marker_corner(f.image) == "tl"
    assert video.expected_frames(info) == mvf.N_FRAMES


def test_variable_frame_rate_keeps_real_times():
    frames = list(video.iter_frames(FIXTURES / "vfr_h264.mkv"))
    assert [_frame_of(f.image) for f in frames] == list(range(mvf.N_FRAMES))
    np.testing.assert_allclose([f.time_s for f in frames], mvf.VFR_TIMES, atol=1e-3)
    # a range in real time, not in frame counts: 0.2 s <= t < 0.5 s holds frames 3..7
    part = list(video.iter_frames(FIXTURES / "vfr_h264.mkv", start_s=0.2, end_s=0.5))
    assert [_frame_of(f.image) for f in part] == [3, 4, 5, 6, 7]


def test_rotation_metadata_is_honoured():
    """The clip is coded 64x48 with a display matrix turning it 90 deg counter-clockwise."""
    info = video.probe(FIXTURES / "rotated_ccw90_h264.mp4")
    assert info.rotation == 270  # clockwise degrees, i.e. 90 counter-clockwise
    assert (info.width, info.height) == (mvf.H, mvf.W)
    frames = list(video.iter_frames(FIXTURES / "rotated_ccw90_h264.mp4"))
    assert len(frames) == mvf.N_FRAMES
    for k, f in enumerate(frames):
        assert f.image.shape == (mvf.W, mvf.H, 3)
        assert _marker_corner(f.image) == "bl"  # np.rot90 of the top-left marker
        assert _frame_of(f.image) == k
        expected = np.rot90(mvf.frames()[k])
        assert np.abs(f.image.astype(int) - expected).mean() < 4


def _encode_number(k: int, w: int, h: int) -> np.ndarray:
    """BGR frame with ``k`` in 12 binary blocks along the top and a red patch bottom-right."""
    img = np.full((h, w, 3), 64, np.uint8)
    s = w // 12
    for b in range(12):
        if (k >> b) & 1:
            img[:s - 4, b * s:b * s + s - 4] = 255
    img[-20:, -20:] = (0, 0, 255)
    return img


def _decode_number(img: np.ndarray) -> int:
    s = img.shape[1] // 12
    return sum(1 << b for b in range(12) if img[2:s - 6, b * s + 2:b * s + s - 6].mean() > 160)


def _write(path: Path, n: int, fps: float, size=(160, 120), fourcc="MJPG") -> Path:
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, size)
    assert out.isOpened()
    for k in range(n):
        out.write(_encode_number(k, *size))
    out.release()
    return path


@pytest.fixture(scope="module")
def numbered(tmp_path_factory) -> Path:
    """64 frames, 160x120, 20 fps, MJPG in AVI."""
    return _write(tmp_path_factory.mktemp("video") / "numbered.avi", 64, 20.0)


def test_start_end_stride(numbered):
    frames = list(video.iter_frames(numbered, start_s=1.0, end_s=2.0, stride=3))
    assert [f.index for f in frames] == list(range(20, 40, 3))
    assert [_decode_number(f.image) for f in frames] == [f.index for f in frames]
    np.testing.assert_allclose([f.time_s for f in frames], np.arange(20, 40, 3) / 20.0, atol=1e-6)
    info = video.probe(numbered)
    assert video.expected_frames(info, 1.0, 2.0, 3) == len(frames)
    tail = list(video.iter_frames(numbered, start_s=3.0))
    assert [f.index for f in tail] == list(range(60, 64))
    assert video.expected_frames(info, 3.0) == 4


def test_rgb_by_default_bgr_on_request(numbered):
    rgb = next(iter(video.iter_frames(numbered))).image
    bgr = next(iter(video.iter_frames(numbered, bgr=True))).image
    patch = rgb[-12:, -12:].mean((0, 1))
    assert patch[0] > 200 and patch[2] < 60  # red in channel 0
    np.testing.assert_array_equal(bgr, rgb[..., ::-1])


def test_bad_arguments(numbered):
    for kwargs in (dict(stride=0), dict(stride=1.5), dict(start_s=-1.0), dict(start_s=2.0, end_s=1.0)):
        with pytest.raises(ValueError):
            next(iter(video.iter_frames(numbered, **kwargs)))


def _bad_files(tmp: Path, numbered: Path) -> dict[str, tuple[Path, str]]:
    empty = tmp / "empty.mp4"
    empty.write_bytes(b"")
    noframes = tmp / "noframes.avi"
    cv2.VideoWriter(str(noframes), cv2.VideoWriter_fourcc(*"MJPG"), 25, (64, 48)).release()
    garbage = tmp / "garbage.mp4"
    garbage.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    data = (FIXTURES / "codec_h264.mp4").read_bytes()
    truncated = tmp / "truncated.mp4"
    truncated.write_bytes(data[: len(data) // 2])
    text = tmp / "notes.mp4"
    text.write_text("not a video\n")
    return {
        "missing": (tmp / "missing.mp4", "no such file"),
        "directory": (tmp, "is a directory"),
        "zero bytes": (empty, "zero-length video"),
        "no frames": (noframes, "zero-length video"),
        "garbage": (garbage, "cannot open"),
        "truncated": (truncated, "cannot open"),
        "text": (text, "cannot open"),
    }


def test_unreadable_inputs_raise_one_line_errors(tmp_path, numbered):
    for case, (path, reason) in _bad_files(tmp_path, numbered).items():
        for call in (lambda: video.probe(path), lambda: list(video.iter_frames(path))):
            with pytest.raises(VideoError) as err:
                call()
            msg = str(err.value)
            assert reason in msg and str(path) in msg and "\n" not in msg, (case, msg)


def test_range_past_the_end(numbered):
    with pytest.raises(VideoError, match="no frames between 10 s and the end"):
        list(video.iter_frames(numbered, start_s=10.0))


def _rss_bytes() -> int | None:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return None


@pytest.mark.slow
def test_long_video_streams_in_bounded_memory(tmp_path):
    """3,000 frames of 640x480 (2.6 GB as RGB) are read one by one; memory stays flat."""
    path = _write(tmp_path / "long.mp4", 3000, 30.0, size=(640, 480), fourcc="mp4v")
    frame_bytes = 640 * 480 * 3
    tracemalloc.start()
    rss_early = None
    try:
        n = 0
        for f in video.iter_frames(path):
            assert f.index == n and _decode_number(f.image) == n
            n += 1
            if n == 300:
                rss_early = _rss_bytes()
                tracemalloc.reset_peak()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    rss_late = _rss_bytes()
    assert n == 3000
    assert peak < 8 * frame_bytes, f"traced peak {peak / 1e6:.1f} MB while streaming"
    if rss_early is not None and rss_late is not None:
        assert rss_late - rss_early < 40 * frame_bytes, f"RSS grew {(rss_late - rss_early) / 1e6:.0f} MB"
    # a far start seeks, with frame-exact results
    first = list(zip(range(3), video.iter_frames(path, start_s=60.0, stride=2)))
    assert [(f.index, _decode_number(f.image)) for _, f in first] == [(1800, 1800), (1802, 1802), (1804, 1804)]
    assert first[0][1].time_s == pytest.approx(60.0, abs=1e-6)
