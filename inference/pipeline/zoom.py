"""People too small for the full-frame detector: find them in tiles, then follow them in a crop.

MediaPipe's pose detector sees the whole frame at 224x224, so a person under about a third of the frame's height
(a wide shot: across a room, a field, a stage) is often not found at all: on rendered wide shots with the body 18-28 %
of a 640x480 frame's height, none of 10 sampled frames had a person, and every half-size tile around the body did.
``ZoomSearch`` is what ``PoseDetector`` falls back on in frames where the full frame has nobody (the full frame
is always tried first, so footage where it finds the person is detected exactly as without zoom):

* ``search``: the frame in ``TILES`` x ``TILES`` overlapping half-size tiles (IMAGE mode, one pose per tile); the
  largest pose found wins. After a search that finds nobody, the next waits ``SEARCH_EVERY_S`` (a clip with no one
  in it costs a few tile searches a second, not nine passes per frame).
* ``track``: from then on, a square crop around the last pose (``CROP_BODIES`` times its box's larger side, at least
  ``MIN_CROP_SHARE`` of the frame's shorter side) goes to a VIDEO-mode landmarker of its own, so MediaPipe tracks the
  person as it does on full frames; the crop follows the person, also through frames where the full frame finds
  them (``seen``). Once the crop would be nearly the whole frame (the person came close) or the person is lost in
  it, tracking stops until the next search.

Poses come back in full-frame terms: (K, 33, 4) [x, y normalised to the whole frame, visibility, presence] and
(K, 33, 3) world landmarks (MediaPipe's metric 3D does not depend on the crop).
"""
from __future__ import annotations

from typing import Callable

import numpy as np


TILES = 3                 # tiles per side, each half the frame's width and height, overlapping by half
SEARCH_EVERY_S = 0.5      # after a tile search found nobody, wait this long before the next
CROP_BODIES = 1.8         # tracking crop side / the pose box's larger side
MIN_CROP_SHARE = 0.35     # ... and at least this share of the frame's shorter side
FULL_FRAME_SHARE = 0.9    # a crop this close to the frame's shorter side: use the full frame again
_VISIBLE = 0.3            # landmarks above this visibility make the pose's box


def tile_boxes(width: int, height: int, tiles: int = TILES) -> list[tuple[int, int, int, int]]:
    """(x0, y0, x1, y1) pixel boxes, half the frame each, ``tiles`` per side, evenly spread (overlapping)."""
    tw, th = width // 2, height // 2
    xs = np.linspace(0, width - tw, tiles).round().astype(int)
    ys = np.linspace(0, height - th, tiles).round().astype(int)
    return [(int(x), int(y), int(x) + tw, int(y) + th) for y in ys for x in xs]


def to_full_frame(poses: np.ndarray, box: tuple[int, int, int, int], width: int, height: int) -> np.ndarray:
    """(K, 33, >=2) poses normalised to ``box`` -> the same normalised to the whole (width, height) frame."""
    x0, y0, x1, y1 = box
    out = np.array(poses, dtype=np.float32, copy=True)
    out[..., 0] = (x0 + out[..., 0] * (x1 - x0)) / width
    out[..., 1] = (y0 + out[..., 1] * (y1 - y0)) / height
    return out


def pose_box_px(pose: np.ndarray, width: int, height: int) -> tuple[float, float, float] | None:
    """Centre x, y and larger side (px) of a (33, >=3) full-frame pose's visible landmarks, or None."""
    seen = pose[:, 2] > _VISIBLE
    if seen.sum() < 4:
        seen = np.isfinite(pose[:, 0])
    if seen.sum() < 4:
        return None
    x, y = pose[seen, 0] * width, pose[seen, 1] * height
    return 0.5 * (x.min() + x.max()), 0.5 * (y.min() + y.max()), float(max(np.ptp(x), np.ptp(y)))


def crop_around(pose: np.ndarray, width: int, height: int) -> tuple[int, int, int, int] | None:
    """The square tracking crop for a (33, >=3) full-frame pose (module docstring), kept inside the frame; None
    when it would be nearly the whole frame (the full frame will do) or the pose has no box."""
    box = pose_box_px(pose, width, height)
    if box is None:
        return None
    cx, cy, side = box
    short = min(width, height)
    side = max(CROP_BODIES * side, MIN_CROP_SHARE * short)
    if side >= FULL_FRAME_SHARE * short:
        return None
    side = int(round(side))
    x0 = int(round(min(max(cx - side / 2, 0), width - side)))
    y0 = int(round(min(max(cy - side / 2, 0), height - side)))
    return x0, y0, x0 + side, y0 + side


def _largest(poses: list[tuple[np.ndarray, np.ndarray]], width: int, height: int):
    sizes = [(pose_box_px(p[0], width, height) or (0, 0, 0.0))[2] for p in poses]
    return poses[int(np.argmax(sizes))] if poses else None


class ZoomSearch:
    """Tile search and crop tracking (module docstring). ``detect_image(rgb) -> (poses (K, 33, 4), world (K, 33, 3))``
    runs MediaPipe in IMAGE mode, ``detect_video(rgb, ms)`` in VIDEO mode on its own landmarker (both on crops)."""

    def __init__(self, detect_image: Callable, detect_video: Callable):
        self._image, self._video = detect_image, detect_video
        self._crop: tuple[int, int, int, int] | None = None
        self._next_search_ms = -1
        self._last_ms = -1

    @property
    def tracking(self) -> bool:
        return self._crop is not None

    def _video_ms(self, ms: int) -> int:
        self._last_ms = max(ms, self._last_ms + 1)
        return self._last_ms

    def seen(self, poses: np.ndarray, width: int, height: int) -> None:
        """The full frame found (K, 33, 4) poses: while tracking, the crop moves to the one nearest its centre."""
        if self._crop is None or not len(poses):
            return
        cx, cy = 0.5 * (self._crop[0] + self._crop[2]), 0.5 * (self._crop[1] + self._crop[3])
        boxes = [pose_box_px(p, width, height) for p in poses]
        dist = [np.hypot(b[0] - cx, b[1] - cy) if b is not None else np.inf for b in boxes]
        k = int(np.argmin(dist))
        self._crop = crop_around(poses[k], width, height) if np.isfinite(dist[k]) else None

    def track(self, rgb: np.ndarray, ms: int):
        """The followed person in this frame as full-frame (1, 33, 4), (1, 33, 3) arrays, or None when lost or
        close enough for the full frame (tracking stops)."""
        if self._crop is None:
            return None
        height, width = rgb.shape[:2]
        x0, y0, x1, y1 = self._crop
        poses, world = self._video(np.ascontiguousarray(rgb[y0:y1, x0:x1]), self._video_ms(ms))
        if not len(poses):
            self._crop = None
            return None
        pose = to_full_frame(poses[:1], self._crop, width, height)
        self._crop = crop_around(pose[0], width, height)
        return pose, world[:1]

    def search(self, rgb: np.ndarray, ms: int):
        """Tiles of a frame where the full frame had nobody: the largest pose found, as full-frame (1, 33, 4),
        (1, 33, 3) arrays (and tracking starts), or None (and the next search waits ``SEARCH_EVERY_S``)."""
        if ms < self._next_search_ms:
            return None
        height, width = rgb.shape[:2]
        found = []
        for box in tile_boxes(width, height):
            x0, y0, x1, y1 = box
            poses, world = self._image(np.ascontiguousarray(rgb[y0:y1, x0:x1]))
            if len(poses):
                found.append((to_full_frame(poses[:1], box, width, height)[0], world[0]))
        best = _largest(found, width, height)
        if best is None:
            self._next_search_ms = ms + int(SEARCH_EVERY_S * 1000)
            return None
        self._crop = crop_around(best[0], width, height)
        return best[0][None], best[1][None]


__all__ = ["TILES", "SEARCH_EVERY_S", "ZoomSearch", "tile_boxes", "to_full_frame", "crop_around", "pose_box_px"]
