"""Streaming a long video through inference.pipeline.video.iter_frames keeps memory bounded (no per-frame growth)."""
from __future__ import annotations

import os
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")

from uplift_mocap.inference.pipeline import video  # noqa: E402

W, H, N, FPS = 96, 64, 4000, 50.0
FRAME_BYTES = W * H * 3


def _stamp(k: int) -> np.ndarray:
    """BGR frame carrying ``k`` in 12 binary blocks (white = 1) on a mid-grey ground."""
    img = np.full((H, W, 3), 90, np.uint8)
    s = W // 12
    for b in range(12):
        if (k >> b) & 1:
            img[: H // 2, b * s + 1:b * s + s - 1] = 255
    return img


def _read_stamp(img: np.ndarray) -> int:
    s = W // 12
    return sum(1 << b for b in range(12) if img[4:H // 2 - 4, b * s + 2:b * s + s - 2].mean() > 170)


@pytest.fixture(scope="module")
def long_video(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("long") / "long.avi"
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (W, H))
    assert out.isOpened()
    for k in range(N):
        out.write(_stamp(k))
    out.release()
    return path


def _rss() -> int | None:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return None


def test_long_video_streams_in_bounded_memory(long_video):
    """4,000 frames (74 MB decoded) stream through with a flat Python heap and RSS."""
    assert video.probe(long_video).frame_count == N
    count, rss_early = 0, None
    tracemalloc.start()
    try:
        for f in video.iter_frames(long_video):
            assert f.index == count and f.image.shape == (H, W, 3)
            if count % 500 == 0:
                assert _read_stamp(f.image[..., ::-1]) == count
            count += 1
            if count == 400:  # after warm-up: decoder buffers and caches are allocated by now
                tracemalloc.reset_peak()
                rss_early = _rss()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    rss_late = _rss()
    assert count == N
    total = N * FRAME_BYTES
    assert peak < 10 * FRAME_BYTES, f"Python heap peaked at {peak / 1e6:.2f} MB while streaming"
    if rss_early is not None and rss_late is not None:
        grew = rss_late - rss_early
        assert grew < total / 4, f"RSS grew {grew / 1e6:.1f} MB over {total / 1e6:.0f} MB of frames"


def test_stride_and_range_stream_too(long_video):
    """Every 7th frame of a late range (seeked start): right frames, still nothing kept."""
    tracemalloc.start()
    try:
        frames = []
        for f in video.iter_frames(long_video, start_s=30.0, end_s=70.0, stride=7):
            frames.append((f.index, _read_stamp(f.image[..., ::-1])))
            del f
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    expected = list(range(1500, 3500, 7))
    assert [i for i, _ in frames] == expected and [k for _, k in frames] == expected
    assert peak < 10 * FRAME_BYTES + 200 * len(frames)
