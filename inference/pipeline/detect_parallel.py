"""Chunk-parallel detection: one video split in time, each chunk run by its own worker process.

Each worker is a fresh Python process (the interpreter running us, so Blender's own Python inside
Blender) with its own ``PoseLandmarker`` in VIDEO mode over one time chunk. A chunk starts
``warmup_s`` early so MediaPipe's tracker has settled by the chunk's first kept frame; the warm-up
frames are dropped. Workers return every pose of every kept frame (``PoseDetector.detect_all``) and
the parent joins the chunks and makes the one-person choice (``detect.PersonChooser``) or the tracks
(``people.track_people``) over the whole clip, so the selection rules are the serial ones.

Chunk borders sit half a sample period between two kept frames of the serial path's grid (start_s,
start_s + stride / fps, ...), so each frame belongs to exactly one chunk and ``stride`` keeps the same
frames (exact for constant frame rate; for variable frame rate the phase of ``stride`` > 1 may differ).
Chunks are at most ``max_chunk_s`` long, so a worker's memory is bounded whatever the clip length; a
pool of ``workers`` processes takes them in order.

Workers start through ``workers.start_worker`` (this package loaded by path, whatever it is called), run
``detect_worker.worker_main``.
A worker that dies raises ``DetectionWorkerError`` naming the chunk, its exit code and its last
error line; the parent never waits on a dead worker. ``progress`` may raise (e.g. ``Cancelled``):
the workers are then killed before the exception goes on.
"""
from __future__ import annotations

import math
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .workers import ended_how, last_error_line, start_worker

WARMUP_S = 1.0
MIN_CHUNK_S = 4.0
MAX_CHUNK_S = 60.0
_POLL_S = 0.05


class DetectionWorkerError(RuntimeError):
    """A detection worker process failed; ``str(err)`` is one line naming the chunk and the reason."""


def default_workers() -> int:
    """Worker processes when none are asked for: CPU cores - 1 (one left for Blender), at least 1."""
    return max(1, (os.cpu_count() or 1) - 1)


@dataclass(frozen=True)
class Chunk:
    """Frames with ``start_s <= t < end_s`` (``end_s`` None: to the end), read from ``warm_s`` on."""
    warm_s: float
    start_s: float
    end_s: float | None


def plan_chunks(start_s: float, end_s: float | None, duration_s: float, fps: float, stride: int,
                workers: int, warmup_s: float = WARMUP_S, min_chunk_s: float = MIN_CHUNK_S,
                max_chunk_s: float = MAX_CHUNK_S) -> list[Chunk]:
    """Split ``[start_s, end_s)`` (None: ``duration_s``) into chunks for ``workers`` processes.

    One chunk (the serial path) when ``workers`` <= 1, the frame rate is unknown, or the range is
    shorter than two ``min_chunk_s``; otherwise ``workers`` chunks, or more so none exceeds
    ``max_chunk_s``. Borders (and warm-up starts) are half a frame (``0.5 / fps``) before a kept frame.
    """
    end = duration_s if end_s is None else min(end_s, duration_s)
    length = end - start_s
    if workers <= 1 or fps <= 0 or length < 2 * min_chunk_s:
        return [Chunk(start_s, start_s, end_s)]
    n = min(int(workers), int(length // min_chunk_s))
    n = max(n, math.ceil(length / max_chunk_s))
    period = stride / fps
    samples = length / period
    # half a frame (not half a sample period) before a kept frame: with stride > 1 the first frame a chunk reads,
    # from its border or its warm-up start, is then on the serial path's grid
    borders = [start_s + round(k * samples / n) * period - 0.5 / fps for k in range(1, n)]
    warm_frames = math.ceil(warmup_s / period - 1e-9)
    starts = [start_s] + borders
    ends = borders + [end_s]
    return [Chunk(max(start_s, s - warm_frames * period) if k else start_s, s, e)
            for k, (s, e) in enumerate(zip(starts, ends))]


class _Worker:
    """One running job: the process (``<module>.worker_main(args)``), its progress count (read by a thread) and its
    files; ``what`` names it in errors ("detection worker for 0.0 s to 5.0 s")."""

    def __init__(self, module: str, args: dict, what: str, folder: Path, number: int):
        self.what, self.out = what, folder / f"chunk{number}.npz"
        self.log = open(folder / f"chunk{number}.log", "w+b")
        self.done = 0
        try:
            self.proc = start_worker(module, {**args, "out": str(self.out)}, self.log)
        except (OSError, RuntimeError) as err:
            self.log.close()
            raise DetectionWorkerError(f"cannot start a {what.split(' for ')[0]}: {err}") from err
        self._reader = threading.Thread(target=self._read, daemon=True, name="uplift-worker-progress")
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            if line.startswith(b"progress "):
                self.done = int(line.split()[1])

    def failure(self) -> str:
        """One line: which job, how the process ended, and its last Python error line if any."""
        why = last_error_line(self.log)
        return f"{self.what} {ended_how(self.proc.returncode)}" + (f": {why}" if why else "")

    def finish(self) -> dict:
        self._reader.join(5.0)
        with np.load(self.out) as z:
            return {k: z[k] for k in z.files}

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.log.close()
        if self.proc.stdout:
            self.proc.stdout.close()


def run_workers(module: str, jobs: list[tuple[dict, str]], workers: int, total: int, progress=None) -> list[dict]:
    """Run ``jobs`` ((args, what) each: ``<module>.worker_main(args)`` writes an npz to ``args["out"]`` and prints
    ``progress N``) on at most ``workers`` processes; their results in job order. A failed job raises
    ``DetectionWorkerError`` (``what`` and how it ended) after every other worker is killed; so does a raising
    ``progress(done, total)``."""
    results: dict[int, dict] = {}
    running: dict[int, _Worker] = {}
    queue = list(range(len(jobs)))
    last_done = -1
    with tempfile.TemporaryDirectory(prefix="uplift-workers-") as tmp:
        try:
            while queue or running:
                while queue and len(running) < workers:
                    k = queue.pop(0)
                    running[k] = _Worker(module, jobs[k][0], jobs[k][1], Path(tmp), k)
                for k, w in list(running.items()):
                    code = w.proc.poll()
                    if code is None:
                        continue
                    if code != 0 or not w.out.is_file():
                        raise DetectionWorkerError(w.failure())
                    results[k] = w.finish()
                    results[k]["done"] = w.done
                    w.kill()
                    del running[k]
                done = sum(r["done"] for r in results.values()) + sum(w.done for w in running.values())
                if progress is not None and done != last_done:
                    progress(done, max(total, done))
                    last_done = done
                time.sleep(_POLL_S)
        finally:
            for w in running.values():
                w.kill()
    return [results[k] for k in range(len(jobs))]


def scan_chunks(path, options, chunks: list[Chunk], workers: int, total: int, progress=None) -> dict:
    """Run ``chunks`` on at most ``workers`` processes; join them in time order.

    Returns ``times`` (T,) float64, ``indices`` (T,) int64, ``counts`` (T,) int16, ``poses`` / ``worlds``:
    lists of (K, 33, 4) / (K, 33, 3) float32 per frame (``PoseDetector.detect_all``) and ``detect_s`` (the
    wall time of the whole scan), ``device`` / ``device_note`` (the first chunk's ``PoseDetector``). ``options`` is a ``DetectOptions``; ``total`` the expected frame count.
    """
    opts = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(options).items()
            if k not in ("workers", "start_s", "end_s")}
    t0 = time.perf_counter()
    jobs = []
    for k, c in enumerate(chunks):
        end = "the end" if c.end_s is None else f"{c.end_s:.1f} s"
        jobs.append(({"path": str(path), "warm_s": c.warm_s, "start_s": c.start_s, "end_s": c.end_s, "options": opts,
                      "allow_empty": k > 0}, f"detection worker for {c.start_s:.1f} s to {end}"))
    results = run_workers("inference.pipeline.detect_worker", jobs, workers, total, progress)
    scan = join_chunks(results)
    scan["detect_s"] = time.perf_counter() - t0
    return scan


def join_chunks(results: list[dict]) -> dict:
    """Chunk results in time order (``detect_worker.detect_chunk``'s dicts) -> one scan: ``times``, ``indices``,
    ``counts`` concatenated, ``poses`` / ``worlds`` lists of (K, 33, 4) / (K, 33, 3) per frame, the summed
    ``detect_s`` and the first chunk's ``device`` / ``device_note``."""
    times, idx, counts, poses, worlds = [], [], [], [], []
    for r in results:
        times.append(r["times"])
        idx.append(r["indices"])
        counts.append(r["counts"])
        for n, p, w in zip(r["counts"], r["poses"], r["worlds"]):
            poses.append(p[:n])
            worlds.append(w[:n])
    return {"times": np.concatenate(times), "indices": np.concatenate(idx), "counts": np.concatenate(counts),
            "poses": poses, "worlds": worlds, "detect_s": float(sum(float(r["detect_s"]) for r in results)),
            "device": str(results[0]["device"]), "device_note": str(results[0]["device_note"])}
