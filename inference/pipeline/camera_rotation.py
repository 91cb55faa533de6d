"""The camera's own rotation (pan, tilt, roll) from the background: corners outside the people, followed from frame
to frame.

    camera_rotations(path, det, focal_px) -> CameraTurn

A camera that only turns maps every image point by the homography ``H = K R K^-1`` whatever its depth, so between
two kept frames: Shi-Tomasi corners outside the person's box (grown by BOX_MARGIN of its size on each side),
pyramidal Lucas-Kanade to the next frame, a RANSAC homography to drop what does not move with the background,
then the rotation that best turns the inliers' viewing rays (``rays_rotation``, least squares);
steps with fewer than MIN_FEATURES followed corners, or corners along one line (their smaller spread under
MIN_SPREAD of the image: a horizon, where following them cannot tell a turn), count as no turn (``ok`` False). The steps are chained:
``rot[t]`` = R_t<-0, the rotation taking camera 0's axes to camera t's (OpenCV axes: x right, y down, z forward),
so a point fixed in the world at X_0 in camera 0 is at ``rot[t] @ X_0`` in camera t. K: principal point at the
image centre, focal ``focal_px``. A plain, untextured set gives no corners: every step is "no turn".
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from . import video

BOX_MARGIN = 0.2
MIN_FEATURES = 12
MAX_CORNERS = 400
MIN_SPREAD = 0.04       # the followed corners' smallest spread (std, share of the image's long side) to trust them


@dataclass
class CameraTurn:
    """rot (T, 3, 3) float64 R_t<-0 (module docstring); features (T,) int corners followed into each frame (0 for
    the first); ok (T,) bool steps measured (the first frame is the reference: True)."""
    rot: np.ndarray
    features: np.ndarray
    ok: np.ndarray

    def angles_deg(self) -> np.ndarray:
        """(T,) how far each frame's camera has turned from the first one's, degrees."""
        cos = (np.trace(self.rot, axis1=-2, axis2=-1) - 1.0) / 2.0
        return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def _nearest_rotation(m: np.ndarray) -> np.ndarray:
    u, _, vt = np.linalg.svd(m)
    r = u @ vt
    if np.linalg.det(r) < 0:
        u[:, -1] *= -1.0
        r = u @ vt
    return r


def background_mask(shape: tuple[int, int], landmarks: np.ndarray) -> np.ndarray:
    """(H, W) uint8 255 outside the person's box (``landmarks`` (33, >=2) normalised x, y; NaN: nobody)."""
    h, w = shape
    mask = np.full((h, w), 255, np.uint8)
    xy = landmarks[:, :2][np.all(np.isfinite(landmarks[:, :2]), axis=1)]
    if len(xy):
        x0, y0 = xy.min(axis=0)
        x1, y1 = xy.max(axis=0)
        mx, my = BOX_MARGIN * (x1 - x0), BOX_MARGIN * (y1 - y0)
        mask[int(max(0.0, y0 - my) * h):int(np.ceil(min(1.0, y1 + my) * h)),
             int(max(0.0, x0 - mx) * w):int(np.ceil(min(1.0, x1 + mx) * w))] = 0
    return mask


def step_rotation(prev_gray: np.ndarray, gray: np.ndarray, mask: np.ndarray, k: np.ndarray):
    """R_next<-prev (3, 3) and the number of corners followed, or (identity, n) when too few."""
    import cv2

    corners = cv2.goodFeaturesToTrack(prev_gray, MAX_CORNERS, 0.01, 8, mask=mask)
    if corners is None or len(corners) < MIN_FEATURES:
        return np.eye(3), 0 if corners is None else len(corners)
    moved, status, _ = cv2.calcOpticalFlowPyrLK(prev_gray, gray, corners, None, winSize=(21, 21), maxLevel=3)
    good = status.ravel() == 1
    if good.sum() < MIN_FEATURES:
        return np.eye(3), int(good.sum())
    a, b = corners[good].reshape(-1, 2), moved[good].reshape(-1, 2)
    h, inliers = cv2.findHomography(a, b, cv2.RANSAC, 2.0)
    if h is None or inliers is None or inliers.sum() < MIN_FEATURES:
        return np.eye(3), int(good.sum())
    keep = inliers.ravel() == 1
    spread = np.linalg.svd(a[keep] - a[keep].mean(axis=0), compute_uv=False) / np.sqrt(keep.sum())
    if spread[-1] < MIN_SPREAD * max(gray.shape):      # corners along one line (a horizon): no turn to be read
        return np.eye(3), 0
    return rays_rotation(_rays(a[keep], k), _rays(b[keep], k)), int(keep.sum())


def _rays(px: np.ndarray, k: np.ndarray) -> np.ndarray:
    """(N, 2) pixels -> (N, 3) unit viewing rays (OpenCV camera axes)."""
    r = np.linalg.solve(k, np.concatenate([px, np.ones((len(px), 1))], axis=1).T).T
    return r / np.linalg.norm(r, axis=1, keepdims=True)


def rays_rotation(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """The rotation R (3, 3) that best takes unit rays ``before`` (N, 3) onto ``after`` (least squares, Kabsch):
    a turning camera sees every fixed point's ray turned by the same R."""
    return _nearest_rotation(after.T @ before)


def camera_rotations(path: str | os.PathLike, det, focal_px: float) -> CameraTurn:
    """The camera's turn over the frames of ``det`` (a ``Detections`` of the same video: its times, stride and the
    person's landmarks to mask); a second pass over the video (module docstring)."""
    import cv2

    n = len(det.times_s)
    rot = np.repeat(np.eye(3)[None], n, axis=0)
    features, ok = np.zeros(n, np.int64), np.ones(n, bool)
    if n == 0:
        return CameraTurn(rot, features, ok)
    k = np.array([[focal_px, 0.0, det.width / 2.0], [0.0, focal_px, det.height / 2.0], [0.0, 0.0, 1.0]])
    prev, i = None, 0
    for frame in video.iter_frames(path, max(0.0, float(det.times_s[0]) - 1e-3), float(det.times_s[-1]) + 1e-3,
                                   det.stride):
        while i < n and det.times_s[i] < frame.time_s - 1e-4:
            i += 1
        if i >= n:
            break
        gray = cv2.cvtColor(frame.image, cv2.COLOR_RGB2GRAY)
        if prev is not None and i > 0:
            step, features[i] = step_rotation(prev[0], gray, background_mask(gray.shape, prev[1]), k)
            ok[i] = features[i] >= MIN_FEATURES
            rot[i] = step @ rot[i - 1]
        prev = (gray, det.landmarks[i])
    return CameraTurn(rot, features, ok)


MIN_TURN_DEG = 3.0       # a camera that turned less than this over the clip is taken as not turning


def measured_turn(det, camera: dict, camera_motion: str) -> np.ndarray | None:
    """The camera's own turn (T, 3, 3) R_t<-0 in the lifted motion's camera axes (x right, y depth, z up), for
    ``world_motion.solve_world(cam_turn=...)``: measured (``camera_rotations``) only when a moving camera was found or
    said (``camera["camera_motion"]``, a first ``solve_world``), and kept when at least half the steps could be
    measured and the camera turned by MIN_TURN_DEG or more; else None. ``det.source`` must be the video."""
    from ..core.frames import CV_FROM_UPLIFT_CAM, UPLIFT_CAM_FROM_CV

    if camera_motion == "static" or camera.get("camera_motion") != "moving" or not os.path.isfile(str(det.source)):
        return None
    try:
        turn = camera_rotations(det.source, det, float(camera["focal_px"]))
    except Exception:  # noqa: BLE001 - an optional refinement: any failure to read the background means no turn
        return None
    if turn.ok.mean() < 0.5 or turn.angles_deg().max() < MIN_TURN_DEG:
        return None
    return UPLIFT_CAM_FROM_CV @ turn.rot @ CV_FROM_UPLIFT_CAM
