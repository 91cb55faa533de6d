"""Chunk-parallel detection (inference/pipeline/detect_parallel.py) against the serial path, on real video."""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from uplift_mocap.inference.pipeline import detect  # before mediapipe (mediapipe_import._patch_protobuf)
from uplift_mocap.inference.pipeline.detect import DetectOptions
from uplift_mocap.inference.pipeline.detect_parallel import (WARMUP_S, Chunk, DetectionWorkerError, default_workers,
                                                             plan_chunks)

FIXTURES = Path(__file__).resolve().parent / "fixtures"
WALK = FIXTURES / "person_walk.mp4"  # 75 frames, 30 fps, 640x360


def _needs_video():
    for mod in ("cv2", "mediapipe"):
        if importlib.util.find_spec(mod) is None:
            pytest.skip(f"{mod} not installed (make venv installs it)")


def _frame_grid(chunks: list[Chunk], start: float, end: float, period: float) -> list[list[int]]:
    """Which sample numbers (start + k * period) each chunk keeps, and which it reads for warm-up."""
    k = np.arange(int(round((end - start) / period)))
    t = start + k * period
    out = []
    for c in chunks:
        hi = np.inf if c.end_s is None else c.end_s
        out.append(k[(t >= c.start_s) & (t < hi)].tolist())
    return out


@pytest.mark.parametrize("stride", [1, 2, 3])
def test_chunks_read_from_frames_on_the_serial_grid(stride):
    """Every chunk's first read frame (from its warm-up start) and first kept frame are frames the serial path
    keeps: with stride > 1 a border half a sample period before a kept frame would land on a skipped frame."""
    fps = 30.0
    for c in plan_chunks(0.0, None, 20.0, fps, stride, workers=3):
        for t in (c.warm_s, c.start_s):
            first = int(np.ceil(t * fps - 1e-9))                 # the first frame at or after t
            assert first % stride == 0, (stride, c, first)


def test_one_chunk_unless_parallel_pays():
    assert plan_chunks(0.0, None, 60.0, 30.0, 1, workers=1) == [Chunk(0.0, 0.0, None)]
    assert plan_chunks(0.0, None, 6.0, 30.0, 1, workers=4) == [Chunk(0.0, 0.0, None)]  # under 2 x 4 s
    assert plan_chunks(2.0, 5.0, 60.0, 30.0, 1, workers=4) == [Chunk(2.0, 2.0, 5.0)]
    assert plan_chunks(0.0, None, 60.0, 0.0, 1, workers=4) == [Chunk(0.0, 0.0, None)]  # unknown frame rate
    assert default_workers() == max(1, (os.cpu_count() or 1) - 1)


@pytest.mark.parametrize("start,end,duration,fps,stride,workers", [
    (0.0, None, 10.0, 30.0, 1, 2), (1.5, 20.0, 30.0, 25.0, 3, 3), (0.0, None, 300.0, 60.0, 2, 2),
    (3.0, None, 12.7, 24.0, 1, 8)])
def test_chunks_split_the_serial_frames_exactly_once(start, end, duration, fps, stride, workers):
    chunks = plan_chunks(start, end, duration, fps, stride, workers)
    period = stride / fps
    stop = duration if end is None else end
    assert len(chunks) >= min(workers, 2)
    assert chunks[0].start_s == chunks[0].warm_s == start and chunks[-1].end_s == end
    assert all(a.end_s == b.start_s for a, b in zip(chunks, chunks[1:]))
    kept = _frame_grid(chunks, start, stop, period)
    assert sum(kept, []) == list(range(int(round((stop - start) / period))))  # every sample once, in order
    for c in chunks[1:]:
        # borders half a frame before a kept frame; warm-up at least WARMUP_S, on the same stride phase
        frames = (c.start_s - start) * fps
        assert abs(frames % 1 - 0.5) < 1e-6 and int(np.ceil(frames)) % stride == 0
        assert c.start_s - c.warm_s >= WARMUP_S - 1e-9 or c.warm_s == start
        assert abs(((c.start_s - c.warm_s) / period) - round((c.start_s - c.warm_s) / period)) < 1e-6
    longest = max((duration if c.end_s is None else c.end_s) - c.start_s for c in chunks)
    assert longest <= 60.0 + period  # bounded memory per worker whatever the clip length


@pytest.fixture(scope="module")
def long_walk(tmp_path_factory) -> Path:
    """A 10 s real clip: the walking person played forwards, backwards, forwards, backwards."""
    _needs_video()
    from uplift_mocap.dev.evaluation.bench_sections import looped_video

    return looped_video(WALK, tmp_path_factory.mktemp("parallel") / "walk10s.mp4", 10.0)


def _children() -> list[int]:
    """PIDs of this process's live (non-zombie) children (Linux /proc)."""
    me, out = os.getpid(), []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == me and fields[0] != "Z":
                out.append(int(entry.name))
    return out


@pytest.mark.slow
def test_parallel_equals_serial_on_a_real_clip(long_walk):
    serial = detect.detect_video(long_walk, DetectOptions(workers=1))
    calls = []
    par = detect.detect_video(long_walk, DetectOptions(workers=2), progress=lambda d, n: calls.append((d, n)))
    assert serial.processes == 1 and par.processes == 2
    np.testing.assert_array_equal(par.times_s, serial.times_s)
    np.testing.assert_array_equal(par.frame_indices, serial.frame_indices)
    np.testing.assert_array_equal(par.detected, serial.detected)
    assert serial.detected.mean() > 0.95
    both = serial.detected & par.detected
    size = max(serial.width, serial.height)
    diff = (par.landmarks[both, :, :2] - serial.landmarks[both, :, :2]) * [serial.width, serial.height]
    rms = np.sqrt(np.mean(diff ** 2, axis=(1, 2))) / size
    assert rms.max() <= 0.005, f"landmarks differ by up to {100 * rms.max():.2f} % of the image"
    # progress counts every kept frame once and ends at the total
    assert calls[-1][0] == len(serial.times_s) and all(a[0] <= b[0] for a, b in zip(calls, calls[1:]))


@pytest.mark.slow
def test_parallel_people_match_serial(long_walk):
    a, _ = detect.detect_people(long_walk, DetectOptions(workers=1))
    b, _ = detect.detect_people(long_walk, DetectOptions(workers=2))
    assert len(a) == len(b) >= 1
    np.testing.assert_array_equal(a[0].seen, b[0].seen)


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds worker processes through /proc")
def test_a_dead_worker_is_a_clear_error_not_a_hang(long_walk):
    killed = []

    def kill_one(done, total):
        kids = _children()
        if done >= 10 and kids and not killed:
            os.kill(kids[0], 9)
            killed.append(kids[0])

    with pytest.raises(DetectionWorkerError, match=r"^detection worker for \d+\.\d s to .* was killed by signal 9$"):
        detect.detect_video(long_walk, DetectOptions(workers=2), progress=kill_one)
    assert killed and _children() == []  # the other worker was stopped too


@pytest.mark.slow
def test_a_worker_error_names_its_reason(long_walk, tmp_path):
    """A worker that fails (here: a model file that is not a model) reports its Python error line."""
    bad = tmp_path / "broken.task"
    bad.write_bytes(b"not a model")
    with pytest.raises(DetectionWorkerError, match=r"stopped with exit code 1: .*Error"):
        detect.detect_video(long_walk, DetectOptions(workers=2, model_path=bad))


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds worker processes through /proc")
def test_cancel_from_progress_stops_every_worker(long_walk):
    from uplift_mocap.inference.pipeline.run import Cancelled, ConvertOptions, convert_video
    import threading

    cancel = threading.Event()

    def progress(stage, done, total):
        if stage == "detect" and done >= 5:
            cancel.set()

    with pytest.raises(Cancelled):
        convert_video(long_walk, ConvertOptions(workers=2), progress=progress, cancel=cancel)
    assert _children() == []


def test_workers_option_is_checked_before_detection():
    from uplift_mocap.inference.pipeline.run import ConvertOptions, PipelineError

    with pytest.raises(PipelineError, match="workers must be a number >= 1, got 0"):
        ConvertOptions(workers=0).validate()


@pytest.mark.slow
def test_bench_reports_the_speedup_and_agreement():
    _needs_video()
    from uplift_mocap.dev.evaluation.bench import BenchContext, BenchOptions
    from uplift_mocap.dev.evaluation.bench_sections import parallel_detection

    res = parallel_detection(BenchContext(BenchOptions(video=WALK, video_repeats=1), None))
    assert res["parallel_workers"] >= 2 and res["parallel_frames"] >= 900  # 30 s at 30 fps
    assert res["parallel_same_frames"] is True and res["parallel_max_landmark_rms_pct"] <= 0.5
    assert res["parallel_detect_speedup"] > 0
