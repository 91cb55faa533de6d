"""A picture of each person seen, to choose who to convert (the add-on's people list).

    person_thumbnails(path, tracks, times_s, size=96) -> [(size, size, 3) uint8 RGB per track]

For each ``people.PersonTrack``: the frame where that person's landmark box is tallest (``best_frames``), a square
crop around the box grown by MARGIN of its height on every side (padded grey where it leaves the image), resized
to ``size`` pixels. Others in the crop are left as they are: the person is the one in the middle.
"""
from __future__ import annotations

import os

import numpy as np

from . import video

MARGIN = 0.12
PAD = 96                      # grey where a crop leaves the image


def best_frames(tracks) -> list[int]:
    """Per track, the index of the frame where its box is tallest (-1 for a track never seen)."""
    out = []
    for tr in tracks:
        seen = np.flatnonzero(tr.seen & np.isfinite(tr.landmarks[:, :, 1]).any(axis=1))
        if not len(seen):
            out.append(-1)
            continue
        y = tr.landmarks[seen, :, 1]
        out.append(int(seen[np.argmax(np.nanmax(y, axis=1) - np.nanmin(y, axis=1))]))
    return out


def crop_box(landmarks: np.ndarray, width: int, height: int) -> tuple[int, int, int]:
    """Square crop (x0, y0, side) in pixels around landmarks (33, >=2) normalised x, y (NaN ignored)."""
    xy = landmarks[:, :2][np.all(np.isfinite(landmarks[:, :2]), axis=1)] * (width, height)
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    side = max(hi[1] - lo[1], hi[0] - lo[0]) * (1.0 + 2.0 * MARGIN)
    centre = (lo + hi) / 2.0
    side = max(int(round(side)), 8)
    return int(round(centre[0] - side / 2.0)), int(round(centre[1] - side / 2.0)), side


def _crop(image: np.ndarray, box: tuple[int, int, int], size: int) -> np.ndarray:
    import cv2

    x0, y0, side = box
    h, w = image.shape[:2]
    out = np.full((side, side, 3), PAD, np.uint8)
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x0 + side, w), min(y0 + side, h)
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = image[sy0:sy1, sx0:sx1]
    return cv2.resize(out, (size, size), interpolation=cv2.INTER_AREA)


def person_thumbnails(path: str | os.PathLike, tracks, times_s: np.ndarray, size: int = 96) -> list[np.ndarray]:
    """(module docstring) ``tracks`` and ``times_s`` as ``detect.detect_people`` returns them; a track never seen
    gets a plain grey picture."""
    info = video.probe(path)
    pictures = []
    for tr, i in zip(tracks, best_frames(tracks)):
        if i < 0:
            pictures.append(np.full((size, size, 3), PAD, np.uint8))
            continue
        t = float(times_s[i])
        frame = next(video.iter_frames(path, max(0.0, t - 1e-3), t + 0.5))
        pictures.append(_crop(frame.image, crop_box(tr.landmarks[i], info.width, info.height), size))
    return pictures
