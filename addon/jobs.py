"""A video conversion in a worker thread, talking to Blender's main thread through a queue.

The worker only runs ``pipeline.convert_video`` (numpy, MediaPipe, ONNX Runtime: no bpy); the main
thread calls ``poll()`` from a modal timer, shows ``status`` and writes keys when it gets the clip.
``cancel()`` sets the pipeline's cancel event (checked between frames) and waits for the thread.
"""
from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass

from ..inference.pipeline.everyone import convert_everyone
from ..inference.pipeline.run import Cancelled, ConvertOptions, PipelineError, convert_video

# Share of the whole job per pipeline stage, for one progress bar (detection dominates).
STAGE_WEIGHTS = {"detect": 0.66, "hands": 0.24, "flips": 0.005, "gaps": 0.005, "lift": 0.05, "world": 0.02,
                 "smooth": 0.015, "fingers": 0.005}
STAGE_LABELS = {"detect": "Detecting", "hands": "Hands", "gaps": "Filling gaps", "lift": "Uplifting",
                "world": "World motion", "smooth": "Smoothing", "fingers": "Fingers"}


@dataclass
class Status:
    """Latest progress: stage name, done/total in that stage, overall fraction 0..1, frames/s of
    detection (0 until known) and a one-line text for the UI."""
    stage: str = "starting"
    done: int = 0
    total: int = 0
    fraction: float = 0.0
    rate: float = 0.0

    @property
    def text(self) -> str:
        label = STAGE_LABELS.get(self.stage, self.stage.capitalize())
        if self.stage in ("detect", "hands") and self.total:
            rate = f", {self.rate:.0f} frames/s" if self.rate else ""
            return f"{label}: frame {self.done}/{self.total}{rate}"
        return f"{label}..."


def overall_fraction(stage: str, done: int, total: int) -> float:
    """Fraction 0..1 of the whole job when ``stage`` is ``done``/``total`` through."""
    before = 0.0
    for name, w in STAGE_WEIGHTS.items():
        if name == stage:
            return min(1.0, before + w * (done / total if total > 0 else 0.0))
        before += w
    return before


class ConvertJob:
    """``ConvertJob(path, options).start()``; then ``poll()`` until ``outcome`` is set:
    ("done", MotionClip, or a list of them, one per person, with ``everyone``) | ("error", one-line reason) |
    ("cancelled", None)."""

    def __init__(self, path, options: ConvertOptions | None = None, uplifter=None, everyone: bool = False,
                 work=None):
        self.path, self.options, self.uplifter, self.everyone = path, options, uplifter, everyone
        self.work = work     # another job of the same shape: work(path, options, progress=, cancel=, uplifter=)
        self.status = Status()
        self.outcome: tuple[str, object] | None = None
        self._queue: queue.Queue = queue.Queue()
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._run, name="uplift-convert", daemon=True)
        self._detect_t0: float | None = None

    # --- worker thread ---
    def _progress(self, stage: str, done: int, total: int) -> None:
        self._queue.put(("progress", (stage, int(done), int(total), time.perf_counter())))

    def _run(self) -> None:
        try:
            convert = self.work or (convert_everyone if self.everyone else convert_video)
            clip = convert(self.path, self.options, progress=self._progress, cancel=self._cancel,
                           uplifter=self.uplifter)
            self._queue.put(("done", clip))
        except Cancelled:
            self._queue.put(("cancelled", None))
        except PipelineError as exc:
            self._queue.put(("error", str(exc)))
        except Exception as exc:  # noqa: BLE001 - anything else is still reported, never raised in a thread
            self._queue.put(("error", f"{type(exc).__name__}: {exc}"))

    # --- main thread ---
    def start(self) -> "ConvertJob":
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def poll(self) -> tuple[str, object] | None:
        """Drain the queue (never blocks): update ``status``; return and keep ``outcome`` once the
        worker has finished, else None."""
        while True:
            try:
                kind, payload = self._queue.get_nowait()
            except queue.Empty:
                return self.outcome
            if kind == "progress":
                stage, done, total, t = payload
                if stage == "detect":
                    if self._detect_t0 is None or done == 0:
                        self._detect_t0, self._detect_n0 = t, done
                    elif t > self._detect_t0:
                        self.status.rate = (done - self._detect_n0) / (t - self._detect_t0)
                self.status.stage, self.status.done, self.status.total = stage, done, total
                self.status.fraction = overall_fraction(stage, done, total)
            else:
                self.outcome = (kind, payload)
                self._thread.join()

    def cancel(self, timeout: float = 30.0) -> None:
        """Ask the worker to stop and wait for it (at most ``timeout`` s); its result is discarded."""
        self._cancel.set()
        self._thread.join(timeout)
        self.poll()
        if self.outcome is None or self.outcome[0] == "done":
            self.outcome = ("cancelled", None)

    def wait(self, timeout: float | None = None) -> tuple[str, object] | None:
        """Block until the worker ends (headless use and tests); returns ``outcome``."""
        self._thread.join(timeout)
        return self.poll()


__all__ = ["STAGE_WEIGHTS", "Status", "overall_fraction", "ConvertJob"]
