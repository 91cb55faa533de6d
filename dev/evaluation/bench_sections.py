"""More ``uplift-dev bench`` sections (registered on import, after ``bench``'s own; ``dev/cli.py`` imports this):
"keying" (Blender keying speed), "parallel detection" (one detection process against chunk-parallel ones:
``parallel_detect_speedup``), "batch" (many clips one after another against a local pool: ``batch_clips_per_min``)
and "hands" (hand detection's cost against the body pass: ``hands_ms_per_frame``). Ratios from one run.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

from .bench import BenchContext, bench_section


@bench_section("keying")
def keying_speed(ctx: BenchContext) -> dict:
    """Blender keying speed: ``addon.keying.bench_keying`` (22 bones x 10,000 frames, fastest of 3)
    in a bpy subprocess, since bpy must not share a process with torch."""
    import importlib.util
    import os
    import subprocess
    import tempfile

    if importlib.util.find_spec("bpy") is None:
        return {"keying_s_22x10000": "n/a (bpy not installed)"}
    package = __package__.rsplit(".", 2)[0]  # the package root (this is <root>.dev.evaluation)
    code = (f"from {package}.addon.keying import bench_keying\n"
            "print('KEYING', bench_keying(22, 10000, repeats=3))")
    with tempfile.TemporaryDirectory(prefix="uplift-bench-") as home:  # no Blender user config
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                              env={**os.environ, "HOME": home}, cwd=home)
    found = [ln.split()[1] for ln in proc.stdout.splitlines() if ln.startswith("KEYING ")]
    if proc.returncode or not found:
        raise RuntimeError(f"keying benchmark failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return {"keying_s_22x10000": float(found[-1])}


def looped_video(src: Path, dst: Path, seconds: float) -> Path:
    """Write ``dst``: the real video ``src`` played forwards and backwards until ``seconds`` long (mp4v)."""
    import cv2

    cap = cv2.VideoCapture(str(src))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    cap.release()
    h, w = frames[0].shape[:2]
    out = cv2.VideoWriter(str(dst), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    n, r = 0, 0
    while n < seconds * fps:
        for f in (frames if r % 2 == 0 else frames[::-1]):
            out.write(f)
            n += 1
        r += 1
    out.release()
    return dst


@bench_section("parallel detection")
def parallel_detection(ctx: BenchContext) -> dict:
    """``detect_video`` with one process against N = max(2, CPU cores) chunk-parallel processes on the same
    real clip (the pipeline section's video looped to 30 s), alternated ``video_repeats`` times; fastest of
    each. Also the largest landmark difference between the two, % of the image size (same frames, same
    person). Only a ratio from one run: both sides share the machine's load."""
    import tempfile

    from ...cli.demo import sample_video
    from ...inference.pipeline.detect import DetectOptions, detect_video

    src = Path(ctx.options.video) if ctx.options.video else sample_video()
    if src is None or not src.is_file():
        return {"parallel_video": "none"}
    workers = max(2, os.cpu_count() or 1)
    times = {1: float("inf"), workers: float("inf")}
    with tempfile.TemporaryDirectory(prefix="uplift-bench-") as tmp:
        path = looped_video(src, Path(tmp) / "looped.mp4", 30.0)
        dets = {}
        for _ in range(max(1, ctx.options.video_repeats)):
            for n in times:
                t0 = time.perf_counter()
                dets[n] = detect_video(path, DetectOptions(workers=n))
                times[n] = min(times[n], time.perf_counter() - t0)
    a, b = dets[1], dets[workers]
    both = a.detected & b.detected
    diff = (a.landmarks[both, :, :2] - b.landmarks[both, :, :2]) * [a.width, a.height]
    rms = np.sqrt(np.mean(diff ** 2, axis=(1, 2))) / max(a.width, a.height) if both.any() else np.zeros(1)
    return {"parallel_workers": workers, "parallel_frames": len(a.times_s),
            "parallel_detect_speedup": times[1] / times[workers],
            "parallel_same_frames": bool(np.array_equal(a.times_s, b.times_s)
                                         and np.array_equal(a.detected, b.detected)),
            "parallel_max_landmark_rms_pct": 100 * float(rms.max())}


@bench_section("batch")
def batch_clips(ctx: BenchContext) -> dict:
    """``uplift convert`` of 2 x N copies of the pipeline section's video (N = max(2, CPU cores)) as one process
    converting one clip after another against ``--jobs N`` (a local pool of processes), in one run:
    clips per minute of each and their ratio."""
    import contextlib
    import io
    import shutil
    import tempfile

    from ...cli.commands import main
    from ...cli.demo import sample_video

    src = Path(ctx.options.video) if ctx.options.video else sample_video()
    if src is None or not src.is_file():
        return {"batch_video": "none"}
    jobs = max(2, os.cpu_count() or 1)
    res = {"batch_jobs": jobs, "batch_clips": 2 * jobs}
    with tempfile.TemporaryDirectory(prefix="uplift-bench-") as tmp:
        folder = Path(tmp) / "clips"
        folder.mkdir()
        for k in range(2 * jobs):
            shutil.copy(src, folder / f"clip{k}{src.suffix}")
        for label, extra in (("serial", ["--workers", "1"]), ("pool", ["--jobs", str(jobs)])):
            t0 = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                code = main(["convert", str(folder), "-o", str(Path(tmp) / label), "--format", "npz", "-q", *extra])
            if code != 0:
                return {**res, "batch_error": f"uplift convert ({label}) exited {code}"}
            res[f"batch_clips_per_min_{label}"] = 60 * 2 * jobs / (time.perf_counter() - t0)
    res["batch_clips_per_min"] = res["batch_clips_per_min_pool"]
    res["batch_pool_speedup"] = res["batch_clips_per_min_pool"] / res["batch_clips_per_min_serial"]
    return res


@bench_section("hands")
def hands_cost(ctx: BenchContext) -> dict:
    """Hand detection (``hands.detect_hands``, crops around the wrists, every frame and every other frame) against
    the body pass on the pipeline section's video, in one run: ms per frame and the share of detection time; and
    ``hands_convert_added``: the share of time hands add to a whole conversion (``convert_video`` defaults)."""
    from ...cli.demo import sample_video
    from ...inference.pipeline.detect import DetectOptions, detect_video
    from ...inference.pipeline.hands import HandOptions, detect_hands

    path = Path(ctx.options.video) if ctx.options.video else sample_video()
    if path is None or not path.is_file():
        return {"hands_video": "none"}
    t0 = time.perf_counter()
    det = detect_video(path, DetectOptions(workers=1))
    body_s = time.perf_counter() - t0
    n = len(det.times_s)
    out = {"hands_frames": n}
    for every in (1, 2):
        t0 = time.perf_counter()
        h = detect_hands(path, det, HandOptions(every=every))
        wall = time.perf_counter() - t0
        key = "" if every == 1 else "_every2"
        out[f"hands_ms_per_frame{key}"] = 1000 * wall / n
        out[f"hands_share_of_detection{key}"] = wall / body_s
        out[f"hands_found_fraction{key}"] = float(h.found[::every].mean())
    # the whole conversion with and without hands (defaults otherwise), interleaved, best of two each
    from ...inference.pipeline.run import ConvertOptions, convert_video, get_uplifter

    uplifter = get_uplifter(None, None)
    best = {True: float("inf"), False: float("inf")}
    for _ in range(2):
        for hands in (False, True):
            t0 = time.perf_counter()
            convert_video(path, ConvertOptions(hands=hands), uplifter=uplifter)
            best[hands] = min(best[hands], time.perf_counter() - t0)
    out["hands_convert_added"] = best[True] / best[False] - 1.0
    return out
