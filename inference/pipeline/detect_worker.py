"""One chunk of chunk-parallel detection, run in its own process (started by ``detect_parallel``).

Writes every pose of every kept frame of ``[start_s, end_s)`` (read from ``warm_s`` so MediaPipe's
tracker has settled) to an npz: ``times`` (T,), ``indices`` (T,), ``counts`` (T,) int16 poses per frame,
``poses`` (T, K, 33, 4) / ``worlds`` (T, K, 33, 3) float32 padded with NaN, ``detect_s``, ``device`` and
``device_note`` (``PoseDetector``). Prints
``progress N`` after each kept frame.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..core import skeleton
from . import video
from .detect import DetectOptions, PoseDetector


def worker_main(args: dict) -> None:
    """Worker process: ``detect_chunk`` over ``args``' chunk, saved as an npz at ``args["out"]``."""
    o = DetectOptions(**args["options"])
    o.model_path = Path(o.model_path)
    np.savez(args["out"], **detect_chunk(args["path"], args["warm_s"], args["start_s"], args["end_s"], o,
                                         args["allow_empty"], progress=True))


def detect_chunk(path, warm_s: float, start_s: float, end_s: float | None, o: DetectOptions,
                 allow_empty: bool = False, progress: bool = False) -> dict:
    """Every pose of every kept frame in ``[start_s, end_s)``, read from ``warm_s`` (the module docstring's
    arrays, as a dict); no frames at all is an empty result when ``allow_empty``, else ``VideoError``."""
    times, idx, poses, worlds = [], [], [], []
    detect_s, device = 0.0, ("CPU", "")
    try:
        frames = video.iter_frames(path, warm_s, end_s, o.stride)
        with PoseDetector(o) as det:
            device = (det.device, det.device_note)
            _, detect_s = _detect_frames(det, frames, start_s, (times, idx, poses, worlds), progress)
    except video.VideoError:
        if not allow_empty or times:
            raise
        # a later chunk past the real end of a video whose container over-states its length: no frames
    return _arrays(times, idx, poses, worlds, detect_s, device)


def _detect_frames(det, frames, start_s: float, out: tuple, progress: bool) -> tuple[int, float]:
    times, idx, poses, worlds = out
    detect_s, n = 0.0, 0
    for frame in frames:
        t0 = time.perf_counter()
        arr, wl = det.detect_all(frame.image, frame.time_s)
        detect_s += time.perf_counter() - t0
        if frame.time_s < start_s:
            continue  # warm-up: the tracker settles; this frame is the previous chunk's to give
        times.append(frame.time_s)
        idx.append(frame.index)
        poses.append(arr)
        worlds.append(wl)
        n += 1
        if progress:
            print(f"progress {n}", flush=True)
    return n, detect_s


def _arrays(times, idx, poses, worlds, detect_s: float, device: tuple[str, str]) -> dict:
    k = max([len(p) for p in poses], default=0)
    pad_p = np.full((len(poses), k, skeleton.NUM_LANDMARKS, 4), np.nan, np.float32)
    pad_w = np.full((len(poses), k, skeleton.NUM_LANDMARKS, 3), np.nan, np.float32)
    for i, (p, w) in enumerate(zip(poses, worlds)):
        pad_p[i, :len(p)], pad_w[i, :len(w)] = p, w
    return dict(times=np.asarray(times, np.float64), indices=np.asarray(idx, np.int64),
                counts=np.asarray([len(p) for p in poses], np.int16), poses=pad_p, worlds=pad_w,
                detect_s=detect_s, device=device[0], device_note=device[1])
