"""The hand pass in worker processes: the body pass's frames split into time chunks, each chunk's hands found by
its own process (``hands_worker``, through ``detect_parallel.run_workers``), joined in time order.

Chunks are at least ``detect_parallel.MIN_CHUNK_S`` long and start on a frame the serial pass would look at (a
multiple of ``HandOptions.every``), so the result is the serial one, except that each chunk's trackers start
afresh (MediaPipe's palm detector finds the hands again on a chunk's first frame). One chunk, or one worker: the
serial ``hands.detect_hands``.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import numpy as np

from .detect import Detections
from .detect_parallel import MIN_CHUNK_S, run_workers
from .hands import HandOptions, HandTracks, detect_hands


def chunk_bounds(n: int, fps: float, workers: int, every: int) -> list[tuple[int, int]]:
    """[start, stop) frame ranges: at most ``workers`` chunks of at least MIN_CHUNK_S, starting on multiples of
    ``every``; one range when there is not enough for two."""
    pieces = min(int(workers), int(n / max(fps, 1e-9) // MIN_CHUNK_S)) if fps > 0 else 1
    if pieces < 2:
        return [(0, n)]
    starts = sorted({int(round(k * n / pieces / every)) * every for k in range(pieces)})
    return list(zip(starts, starts[1:] + [n]))


def detect_hands_parallel(path: str | os.PathLike, det: Detections, options: HandOptions | None = None,
                          workers: int = 1, progress: Callable[[int, int], None] | None = None) -> HandTracks:
    """``hands.detect_hands`` over chunks on up to ``workers`` processes (module docstring); same result layout."""
    o = options or HandOptions()
    n = len(det.times_s)
    fps = det.fps / max(int(det.stride), 1) if det.fps > 0 else 0.0
    bounds = chunk_bounds(n, fps, workers, int(o.every))
    if len(bounds) < 2:
        return detect_hands(path, det, o, progress)
    opts = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(o).items()}
    with tempfile.TemporaryDirectory(prefix="uplift-hands-") as tmp:
        jobs = []
        for k, (a, b) in enumerate(bounds):
            part = Path(tmp) / f"body{k}.npz"
            np.savez(part, times_s=det.times_s[a:b], landmarks=det.landmarks[a:b], detected=det.detected[a:b],
                     stride=np.int64(det.stride))
            jobs.append(({"path": str(path), "body": str(part), "options": opts},
                         f"hand worker for {det.times_s[a]:.1f} s to {det.times_s[b - 1]:.1f} s"))
        results = run_workers("inference.pipeline.hands_worker", jobs, workers, n, progress)
    return HandTracks(np.concatenate([r["landmarks"] for r in results]), np.concatenate([r["world"] for r in results]),
                      np.concatenate([r["score"] for r in results]),
                      float(sum(float(r["detect_s"]) for r in results)))
