"""What the command line prints: a progress bar per stage, a summary per clip, and MediaPipe's native log lines
kept off the terminal."""
from __future__ import annotations

import contextlib
import os
import sys
import time
from pathlib import Path
from typing import TextIO


class ProgressBar:
    """One text bar per stage on ``stream``: ``  detect  [#######.......]  45/75``; nothing when
    the stream is not a terminal (or ``enabled`` is False)."""

    def __init__(self, stream: TextIO | None = None, enabled: bool | None = None, width: int = 30):
        stream = stream or sys.stderr
        self.stream = stream
        self.enabled = stream.isatty() if enabled is None else enabled
        self.width = width
        self.stage: str | None = None
        self._last = 0.0

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        final = total > 0 and done >= total
        if stage == self.stage and not final and now - self._last < 0.1:
            return
        if stage != self.stage and self.stage is not None:
            self.stream.write("\n")
        self.stage, self._last = stage, now
        frac = min(done / total, 1.0) if total > 0 else 0.0
        fill = int(round(frac * self.width))
        count = f"{done}/{total}" if total > 1 else ("done" if final else "...")
        self.stream.write(f"\r  {stage:<7} [{'#' * fill}{'.' * (self.width - fill)}] {count:>11}")
        self.stream.flush()

    def finish(self) -> None:
        if self.enabled and self.stage is not None:
            self.stream.write("\n")
            self.stream.flush()
        self.stage = None


def timing_line(timings: dict[str, float]) -> str:
    order = ["load", "read", "detect", "hands", "flips", "gaps", "lift", "world", "smooth", "fingers", "write"]
    keys = [k for k in order if k in timings] + [k for k in timings if k not in order and k != "total"]
    parts = ", ".join(f"{k} {timings[k]:.2f}" for k in keys)
    return f"{parts}; total {timings.get('total', sum(timings[k] for k in keys)):.2f} s"


def finger_bend_deg(fingers, finger_keyed) -> tuple[float, float]:
    """5th and 95th percentile of the finger joints' rotation angles (degrees) over keyed hands: how much the
    fingers move."""
    import numpy as np

    q = np.asarray(fingers, np.float64).reshape(len(fingers), 2, -1, 4)[np.asarray(finger_keyed, bool)]
    if not q.size:
        return 0.0, 0.0
    angle = np.degrees(2.0 * np.arccos(np.clip(np.abs(q[..., 0]), 0.0, 1.0)))
    return float(np.percentile(angle, 5)), float(np.percentile(angle, 95))


def clip_summary(name: str, clip, paths: list[Path], indent: str = "  ") -> str:
    """A few lines about a converted clip: frames, detection, gaps, body, jitter, stage times, files."""
    info = clip.info
    gaps = info.get("gaps", [])
    unkeyed = sum(g["frames"] for g in gaps if not g["filled"])
    lines = [f"{name}: {clip.num_frames} frames at {clip.fps:.4g} fps ({clip.duration_s:.2f} s), "
             f"person in {100 * info.get('detected_fraction', 0.0):.1f}% of frames, "
             f"{len(gaps)} gap{'s' if len(gaps) != 1 else ''} ({unkeyed} frames left unkeyed), "
             f"body height {info.get('body_height_m', float('nan')):.2f} m"
             + (f", left/right relabelled in {info['swapped_frames']} frames" if info.get("swapped_frames") else ""),
             f"{indent}jitter   rotations {info.get('jitter_rot_deg_before', float('nan')):.2f} -> "
             f"{info.get('jitter_rot_deg_after', float('nan')):.2f} deg, joints "
             f"{info.get('jitter_pos_mm_before', float('nan')):.1f} -> "
             f"{info.get('jitter_pos_mm_after', float('nan')):.1f} mm (mean acceleration)",
             f"{indent}time     {timing_line(clip.timings)}"]
    if getattr(clip, "fingers", None) is not None:
        left, right = info.get("hands_keyed_fraction", [0.0, 0.0])
        bend = finger_bend_deg(clip.fingers, clip.finger_keyed)
        lines.append(f"{indent}hands    fingers keyed in {100 * left:.0f}% (left) / {100 * right:.0f}% (right) of frames, "
                     f"finger joints bend {bend[0]:.0f}-{bend[1]:.0f} deg (5th-95th percentile)")
    devices = info.get("devices")
    if devices:
        lines.append(f"{indent}device   " + ", ".join(f"{stage} {dev}" for stage, dev in devices.items()))
    lines += [f"{indent}note     {w}" for w in info.get("notes", [])]
    lines += [f"{indent}warning  {w}" for w in info.get("warnings", [])]
    lines += [f"{indent}wrote    {p}" for p in paths]
    return "\n".join(lines)


@contextlib.contextmanager
def native_logs_silenced(enabled: bool = True):
    """Send file descriptor 2 to /dev/null (MediaPipe/TFLite C++ log lines) and yield a text stream
    on the real stderr for our own messages; a no-op (yielding sys.stderr) when ``enabled`` is False
    or sys.stderr is not the process' own (e.g. captured by a test)."""
    if not enabled or sys.stderr is not sys.__stderr__:
        yield sys.stderr
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield sys.stderr
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    stream = os.fdopen(os.dup(saved), "w", buffering=1)
    try:
        yield stream
    finally:
        stream.flush()
        os.dup2(saved, 2)
        os.close(saved)
        stream.close()


__all__ = ["ProgressBar", "timing_line", "clip_summary", "native_logs_silenced"]
