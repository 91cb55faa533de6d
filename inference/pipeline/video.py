"""Video reading with OpenCV: probe, and a frame generator with bounded memory.

Frames come out one at a time as ``Frame(index, time_s, image)`` with ``image`` (H, W, 3) uint8 RGB
(BGR on request), already turned upright when the container carries rotation metadata. ``time_s`` is
the frame's presentation time in seconds from the decoder (``CAP_PROP_POS_MSEC``), so variable
frame rate video keeps its real timing; it is forced strictly increasing (``+1/fps`` on a repeat).
Nothing is buffered beyond the frame being yielded, however long the video.

Every failure to read is a ``VideoError`` whose message is one line naming the file and the reason.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

# A seek lands this far before ``start_s`` and decodes forward to it (some containers seek late).
_SEEK_MARGIN_S = 2.0
# Only seek when the start is further in than this; before it, decoding forward is as cheap.
_SEEK_MIN_S = 5.0
_FALLBACK_FPS = 30.0


class VideoError(Exception):
    """A video that cannot be read; ``str(err)`` is a one-line reason."""


@dataclass(frozen=True)
class VideoInfo:
    """What the container says, with width/height as displayed (after rotation).

    ``fps`` is the nominal rate (0.0 when the container gives none); ``frame_count`` and
    ``duration_s`` are the container's estimates (exact for constant frame rate, approximate for
    VFR); ``rotation`` is the clockwise rotation in degrees (0, 90, 180, 270) applied for display.
    """
    path: str
    width: int
    height: int
    fps: float
    frame_count: int
    duration_s: float
    rotation: int
    codec: str


@dataclass(frozen=True)
class Frame:
    """One decoded frame: source frame number, presentation time (s), (H, W, 3) uint8 image."""
    index: int
    time_s: float
    image: np.ndarray


def _cv2():
    import cv2  # imported lazily: reading video is the only user of OpenCV in inference/

    return cv2


def _check_file(path: Path) -> None:
    if not path.exists():
        raise VideoError(f"{path}: no such file")
    if path.is_dir():
        raise VideoError(f"{path}: is a directory, not a video file")
    if not os.access(path, os.R_OK):
        raise VideoError(f"{path}: permission denied")
    if path.stat().st_size == 0:
        raise VideoError(f"{path}: zero-length video (empty file)")


def _open(path: Path):
    """Open ``path`` with auto-rotation on; return ``(capture, rotation_degrees, rotates_itself)``."""
    cv2 = _cv2()
    _check_file(path)
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise VideoError(f"{path}: cannot open: corrupt, truncated or not a video the decoder supports")
    rotation = int(round(cap.get(cv2.CAP_PROP_ORIENTATION_META) or 0)) % 360
    rotation = rotation if rotation in (90, 180, 270) else 0
    auto = bool(cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)) and cap.get(cv2.CAP_PROP_ORIENTATION_AUTO) == 1
    return cap, rotation, auto


def _rotate(image: np.ndarray, rotation: int) -> np.ndarray:
    """Turn a coded frame upright by hand (for backends that do not auto-rotate)."""
    cv2 = _cv2()
    code = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}
    return cv2.rotate(image, code[rotation]) if rotation else image


def _fourcc(cap) -> str:
    code = int(cap.get(_cv2().CAP_PROP_FOURCC)) & 0xFFFFFFFF
    text = "".join(chr((code >> (8 * i)) & 0xFF) for i in range(4))
    return text.strip("\x00 ") if text.isprintable() else ""


def probe(path: str | os.PathLike) -> VideoInfo:
    """Open ``path``, decode its first frame and describe it; ``VideoError`` if it has none."""
    cv2 = _cv2()
    path = Path(path)
    cap, rotation, auto = _open(path)
    try:
        count = int(max(0.0, cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0.0))
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        fps = fps if math.isfinite(fps) and 0.0 < fps < 1000.0 else 0.0
        ok, image = cap.read()
        if not ok or image is None:
            if count == 0:
                raise VideoError(f"{path}: zero-length video (no frames)")
            raise VideoError(f"{path}: corrupt video: no frame could be decoded")
        if not auto:
            image = _rotate(image, rotation)
        height, width = image.shape[:2]
        duration = count / fps if fps > 0 else 0.0
        return VideoInfo(str(path), int(width), int(height), fps, count, duration, rotation, _fourcc(cap))
    finally:
        cap.release()


def expected_frames(info: VideoInfo, start_s: float = 0.0, end_s: float | None = None,
                    stride: int = 1) -> int:
    """Estimated number of frames ``iter_frames`` yields for this range (for progress bars)."""
    if info.fps <= 0 or info.frame_count <= 0:
        return 0
    end = info.duration_s if end_s is None else min(end_s, info.duration_s)
    n = math.ceil(max(0.0, end - max(0.0, start_s)) * info.fps - 1e-6)
    return max(0, math.ceil(n / max(1, stride)))


def _check_range(start_s: float, end_s: float | None, stride: int) -> None:
    if not (math.isfinite(start_s) and start_s >= 0):
        raise ValueError(f"start must be a finite time >= 0 s, got {start_s}")
    if end_s is not None and not end_s > start_s:
        raise ValueError(f"end ({end_s} s) must be after start ({start_s} s)")
    if int(stride) != stride or stride < 1:
        raise ValueError(f"stride must be a positive integer, got {stride}")


def iter_frames(path: str | os.PathLike, start_s: float = 0.0, end_s: float | None = None,
                stride: int = 1, *, bgr: bool = False) -> Iterator[Frame]:
    """Yield the frames with ``start_s <= time_s < end_s``, every ``stride``-th one, upright.

    Images are RGB unless ``bgr``. Far starts are reached by seeking to a key frame a little
    before ``start_s`` and decoding forward (times stay exact; ``index`` is then the decoder's
    estimate). Raises ``VideoError`` if the file cannot be read or no frame lies in the range.
    """
    cv2 = _cv2()
    _check_range(start_s, end_s, stride)
    path = Path(path)
    cap, rotation, auto = _open(path)
    try:
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        step = 1.0 / fps if math.isfinite(fps) and 0.0 < fps < 1000.0 else 1.0 / _FALLBACK_FPS
        index = -1
        seeked = start_s > _SEEK_MIN_S and cap.set(cv2.CAP_PROP_POS_MSEC, (start_s - _SEEK_MARGIN_S) * 1e3)
        if seeked:
            index = int(round(cap.get(cv2.CAP_PROP_POS_FRAMES))) - 1
        prev_t = -math.inf
        taken = 0
        seen_any = False
        while True:
            grabbed = cap.grab()
            t = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0 if grabbed else math.nan
            if seeked and not seen_any and not t <= start_s:  # seek overshot or failed: decode from 0
                cap.release()
                cap, rotation, auto = _open(path)
                index, seeked = -1, False
                continue
            if not grabbed:
                break
            index += 1
            seen_any = True
            t = t if math.isfinite(t) and t > prev_t else prev_t + step
            prev_t = t
            if t < start_s - 1e-6:
                continue
            if end_s is not None and t >= end_s - 1e-6:
                break
            keep = taken % stride == 0
            taken += 1
            if not keep:
                continue
            ok, image = cap.retrieve()
            if not ok or image is None:
                raise VideoError(f"{path}: corrupt video: frame {index} could not be decoded")
            if not auto:
                image = _rotate(image, rotation)
            if not bgr:
                image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
            yield Frame(index, t, image)
        if not seen_any:
            count = cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0
            if count <= 0:
                raise VideoError(f"{path}: zero-length video (no frames)")
            raise VideoError(f"{path}: corrupt video: no frame could be decoded")
        if taken == 0:
            end = "the end" if end_s is None else f"{end_s:g} s"
            raise VideoError(f"{path}: no frames between {start_s:g} s and {end} "
                             f"(the video ends at {prev_t:.3f} s)")
    finally:
        cap.release()
