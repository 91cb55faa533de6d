"""Hands: MediaPipe's ``HandLandmarker`` on crops around the kept person's wrists, one tracker per side.

Runs fully offline from ``models/hand_landmarker_full.task`` (built by ``dev/build_pose_task.py --hands``
from the hand models in the mediapipe 0.10.21 wheel). For every ``every``-th frame of a ``Detections``
(the body pass), a square crop around each wrist -- centred a little beyond the wrist along the forearm,
``crop_scale`` forearm lengths on each side, at least ``MIN_CROP_PX`` -- goes to that side's
``HandLandmarker`` (VIDEO mode, one hand, so it tracks the hand from frame to frame and runs its palm
detector only when the hand is lost). Cropping makes small hands in full-body shots large enough to find
(on the bundled sample walk: 269 hands in 146 frames against 68 on whole frames) and assigns each hand to
the body's own left or right wrist by position, not by MediaPipe's handedness label. A hand whose wrist
lands further than ``MAX_WRIST_OFFSET`` crop half-sides from the body's wrist is the other hand (or
someone else's) and dropped; when both sides find the same hand (the body pass put both wrists on it, the other
one hidden), it is kept only on the side whose body wrist lies nearer to it (``SAME_HAND``).

``HandTracks`` (T frames of the body pass, side 0 = the body's left hand, 1 = its right):
* ``landmarks`` (T, 2, 21, 3) float32: x, y normalised to the whole upright image (0..1, y down), z
  MediaPipe's relative depth (wrist-relative, image-width units); NaN where no hand was kept.
* ``world`` (T, 2, 21, 3) float32: MediaPipe's metric hand landmarks (metres, origin at the hand's centre,
  x image right, y down, z away from the camera); NaN where none.
* ``score`` (T, 2) float32: MediaPipe's confidence in the hand (its handedness score), 0 where none (and in
  frames not processed).
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..core import skeleton
from ..core.assets import HAND_TASK
from . import video
from .detect import Detections, import_mediapipe

MIN_CROP_PX = 48
MAX_WRIST_OFFSET = 0.6
SAME_HAND = 0.3             # two sides' hands this close (mean landmark distance / hand size) are one hand
_WRIST = (skeleton.MP_INDEX["left_wrist"], skeleton.MP_INDEX["right_wrist"])
_ELBOW = (skeleton.MP_INDEX["left_elbow"], skeleton.MP_INDEX["right_elbow"])


@dataclass
class HandOptions:
    """Hand detector settings: the ``.task`` bundle, every how many body frames to look, the crop size
    (forearm lengths each side of its centre) and MediaPipe's confidence thresholds."""
    model_path: Path = HAND_TASK
    every: int = 1
    crop_scale: float = 1.0
    min_detection_confidence: float = 0.3
    min_presence_confidence: float = 0.3
    min_tracking_confidence: float = 0.3


@dataclass
class HandTracks:
    """Both hands over the body pass's frames (see the module docstring); ``detect_s`` wall time in MediaPipe."""
    landmarks: np.ndarray
    world: np.ndarray
    score: np.ndarray
    detect_s: float = 0.0

    @property
    def found(self) -> np.ndarray:
        """(T, 2) bool: frames and sides with a hand."""
        return self.score > 0

    def arrays(self) -> dict:
        """The tracks as ``hands_*`` arrays, to keep in a detections file (``from_arrays`` reads them back)."""
        return {"hands_landmarks": self.landmarks, "hands_world": self.world, "hands_score": self.score}

    @classmethod
    def from_arrays(cls, z) -> "HandTracks | None":
        """``arrays``' arrays from a mapping (an opened npz), or None when it has none."""
        if "hands_world" not in z:
            return None
        return cls(np.asarray(z["hands_landmarks"]), np.asarray(z["hands_world"]), np.asarray(z["hands_score"]))

    def swap_sides(self, frames: np.ndarray) -> "HandTracks":
        """A copy with left and right exchanged in ``frames`` ((T,) bool): where the body's left/right labels were
        repaired after the hands were looked for (``flips.repair_swaps``), each hand goes with its repaired wrist."""
        f = np.asarray(frames, bool)
        lms, world, score = self.landmarks.copy(), self.world.copy(), self.score.copy()
        lms[f], world[f], score[f] = lms[f][:, ::-1], world[f][:, ::-1], score[f][:, ::-1]
        return HandTracks(lms, world, score, self.detect_s)

    def image_points(self, width: int, height: int) -> np.ndarray:
        """(T, 2, 21, 3) float32 pixels: the image landmarks with MediaPipe's relative depth in the same units
        (x right, y down, z away from the camera); NaN where no hand. What finger angles are read from: on rendered
        hands they follow the true finger joints better than ``world`` (``uplift-dev eval-hands``, docs/model.md)."""
        return self.landmarks * np.array([width, height, width], np.float32)


def wrist_crop(body: np.ndarray, side: int, width: int, height: int, scale: float = 1.0):
    """Pixel box (x0, y0, x1, y1) around the body's ``side`` wrist (0 left, 1 right), or None when the wrist or
    elbow is unknown or the box leaves too little of the image. ``body`` (33, 3) [x, y normalised, visibility]."""
    w, e = body[_WRIST[side], :2] * (width, height), body[_ELBOW[side], :2] * (width, height)
    if not (np.all(np.isfinite(w)) and np.all(np.isfinite(e))):
        return None
    forearm = float(np.hypot(*(w - e)))
    half = max(MIN_CROP_PX / 2.0, scale * forearm)
    cx, cy = w + 0.35 * (w - e)                              # the hand lies beyond the wrist
    x0, y0 = int(math.floor(max(0.0, cx - half))), int(math.floor(max(0.0, cy - half)))
    x1, y1 = int(math.ceil(min(width, cx + half))), int(math.ceil(min(height, cy + half)))
    if x1 - x0 < MIN_CROP_PX / 2 or y1 - y0 < MIN_CROP_PX / 2:
        return None
    return x0, y0, x1, y1


def one_hand_twice(lms: np.ndarray, body: np.ndarray, width: int, height: int) -> int | None:
    """The side (0 left, 1 right) to drop when both sides' (2, 21, 3) hands [x, y normalised, z] are the same hand
    (mean landmark distance under SAME_HAND of its size): the one whose body wrist (``body`` (33, 3)) lies further
    from that hand's wrist. None when they are two hands."""
    px = lms[..., :2] * (width, height)
    size = max(float(np.ptp(px[..., 0], axis=-1).max()), float(np.ptp(px[..., 1], axis=-1).max()), 1.0)
    if np.linalg.norm(px[0] - px[1], axis=-1).mean() >= SAME_HAND * size:
        return None
    wrists = body[list(_WRIST), :2] * (width, height)
    return int(np.argmax(np.linalg.norm(wrists - px[:, 0], axis=-1)))


class HandDetector:
    """Two ``HandLandmarker`` trackers (VIDEO mode), one per side; use as a context manager.

    ``detect(rgb, time_s, body)`` -> (landmarks (2, 21, 3), world (2, 21, 3), score (2,)) for one frame.
    """

    def __init__(self, options: HandOptions | None = None):
        self.options = o = options or HandOptions()
        path = Path(o.model_path)
        if not path.is_file():
            raise FileNotFoundError(f"hand model not found: {path} "
                                    "(build it: python -m uplift_mocap.dev.build_pose_task --hands)")
        self._mp, vision, BaseOptions = import_mediapipe()
        opts = vision.HandLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(path)), running_mode=vision.RunningMode.VIDEO,
            num_hands=1, min_hand_detection_confidence=o.min_detection_confidence,
            min_hand_presence_confidence=o.min_presence_confidence, min_tracking_confidence=o.min_tracking_confidence)
        self._trackers = [vision.HandLandmarker.create_from_options(opts) for _ in range(2)]
        self._last_ms = [-1, -1]

    def __enter__(self) -> "HandDetector":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        trackers, self._trackers = getattr(self, "_trackers", []), []
        for t in trackers:
            t.close()

    def detect(self, rgb: np.ndarray, time_s: float, body: np.ndarray):
        height, width = rgb.shape[:2]
        lms = np.full((2, skeleton.NUM_HAND_LANDMARKS, 3), np.nan, np.float32)
        world = lms.copy()
        score = np.zeros(2, np.float32)
        for side in (0, 1):
            box = wrist_crop(body, side, width, height, self.options.crop_scale)
            if box is None:
                continue
            x0, y0, x1, y1 = box
            crop = np.ascontiguousarray(rgb[y0:y1, x0:x1])
            ms = max(int(round(time_s * 1000.0)), self._last_ms[side] + 1)
            self._last_ms[side] = ms
            res = self._trackers[side].detect_for_video(
                self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=crop), ms)
            if not res.hand_landmarks:
                continue
            pts = np.array([(p.x, p.y, p.z) for p in res.hand_landmarks[0]], np.float32)
            full = np.stack([(x0 + pts[:, 0] * (x1 - x0)) / width, (y0 + pts[:, 1] * (y1 - y0)) / height,
                             pts[:, 2] * (x1 - x0) / width], axis=1)
            wrist = body[_WRIST[side], :2]
            offset = np.hypot((full[0, 0] - wrist[0]) * width, (full[0, 1] - wrist[1]) * height)
            if offset > MAX_WRIST_OFFSET * 0.5 * max(x1 - x0, y1 - y0):
                continue                                     # the other hand, or someone else's
            lms[side] = full
            world[side] = [(p.x, p.y, p.z) for p in res.hand_world_landmarks[0]]
            score[side] = max(float(res.handedness[0][0].score) if res.handedness else 1.0, 1e-6)
        if score.all():
            drop = one_hand_twice(lms, body, width, height)
            if drop is not None:
                lms[drop], world[drop], score[drop] = np.nan, np.nan, 0.0
        return lms, world, score


def detect_hands(path: str | os.PathLike, det: Detections, options: HandOptions | None = None,
                 progress: Callable[[int, int], None] | None = None) -> HandTracks:
    """Both hands of the person in ``det`` (the body pass of the same video, same range and stride): a second pass
    over the video (streamed). Frames are matched to ``det`` by presentation time."""
    o = options or HandOptions()
    if int(o.every) != o.every or o.every < 1:
        raise ValueError(f"every must be a positive integer, got {o.every}")
    n = len(det.times_s)
    lms = np.full((n, 2, skeleton.NUM_HAND_LANDMARKS, 3), np.nan, np.float32)
    world = lms.copy()
    score = np.zeros((n, 2), np.float32)
    if n == 0:
        return HandTracks(lms, world, score)
    start, end = float(det.times_s[0]) - 1e-3, float(det.times_s[-1]) + 1e-3
    detect_s, i = 0.0, 0
    with HandDetector(o) as hands:
        # only the frames looked at are decoded in full (the others are grabbed and skipped)
        for frame in video.iter_frames(path, max(0.0, start), end, det.stride * int(o.every)):
            while i < n and det.times_s[i] < frame.time_s - 1e-4:
                i += 1
            if i >= n:
                break
            if abs(det.times_s[i] - frame.time_s) > 1e-3 or i % o.every or not det.detected[i]:
                continue
            t0 = time.perf_counter()
            lms[i], world[i], score[i] = hands.detect(frame.image, frame.time_s, det.landmarks[i])
            detect_s += time.perf_counter() - t0
            if progress is not None:
                progress(i + 1, n)
    return HandTracks(lms, world, score, detect_s)
