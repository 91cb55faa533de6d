"""The camera's own rotation (pan, tilt, roll) from the background: corners outside the people, followed from frame
to frame; and its travel where they lie on a known floor (``camera_travel``).

    camera_rotations(path, det, focal_px, floor=None) -> CameraTurn
    measured_turn(det, camera, camera_motion) -> (turn, centre or None) or None   (for ``solve_world``)

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
from .camera_travel import floor_step, rays as _rays

BOX_MARGIN = 0.2
MIN_FEATURES = 12
MAX_CORNERS = 400
MIN_CORNER_EIG = 5e-4   # a corner's smaller structure-tensor eigenvalue (cv2.cornerMinEigenVal, 3 px) at least: a
                        # plain wall or floor's video noise and compression grain stay below it, texture does not
MIN_SPREAD = 0.04       # the followed corners' smallest spread (std, share of the image's long side) to trust them


@dataclass
class CameraTurn:
    """rot (T, 3, 3) float64 R_t<-0 (module docstring); features (T,) int corners followed into each frame (0 for
    the first); ok (T,) bool steps measured (the first frame is the reference: True). With a known floor
    (``camera_rotations(floor=...)``): centre (T, 3) float64 each frame's camera centre in camera 0's axes (m;
    zeros without a floor), travel_ok (T,) bool steps whose travel the floor gave (``camera_travel``)."""
    rot: np.ndarray
    features: np.ndarray
    ok: np.ndarray
    centre: np.ndarray | None = None
    travel_ok: np.ndarray | None = None

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


def follow_corners(prev_gray: np.ndarray, gray: np.ndarray, mask: np.ndarray):
    """Corners of ``prev_gray`` inside ``mask`` followed into ``gray``: ((N, 2), (N, 2)) pixels, or (None, n) with
    the number found when fewer than MIN_FEATURES could be followed."""
    import cv2

    corners = cv2.goodFeaturesToTrack(prev_gray, MAX_CORNERS, 0.01, 8, mask=mask)
    if corners is not None:
        eig = cv2.cornerMinEigenVal(prev_gray, 3)
        xy = np.clip(np.rint(corners.reshape(-1, 2)).astype(int), 0, [prev_gray.shape[1] - 1, prev_gray.shape[0] - 1])
        corners = corners[eig[xy[:, 1], xy[:, 0]] >= MIN_CORNER_EIG]
    if corners is None or len(corners) < MIN_FEATURES:
        return None, 0 if corners is None else len(corners)
    moved, status, _ = cv2.calcOpticalFlowPyrLK(prev_gray, gray, corners, None, winSize=(21, 21), maxLevel=3)
    good = status.ravel() == 1
    if good.sum() < MIN_FEATURES:
        return None, int(good.sum())
    return (corners[good].reshape(-1, 2), moved[good].reshape(-1, 2)), int(good.sum())


def step_rotation(prev_gray: np.ndarray, gray: np.ndarray, mask: np.ndarray, k: np.ndarray, followed=None):
    """R_next<-prev (3, 3) and the number of corners followed, or (identity, n) when too few. ``followed``: the
    result of ``follow_corners`` when the caller has it already."""
    import cv2

    pair, n = followed if followed is not None else follow_corners(prev_gray, gray, mask)
    if pair is None:
        return np.eye(3), n
    a, b = pair
    h, inliers = cv2.findHomography(a, b, cv2.RANSAC, 2.0)
    if h is None or inliers is None or inliers.sum() < MIN_FEATURES:
        return np.eye(3), n
    keep = inliers.ravel() == 1
    spread = np.linalg.svd(a[keep] - a[keep].mean(axis=0), compute_uv=False) / np.sqrt(keep.sum())
    if spread[-1] < MIN_SPREAD * max(gray.shape):      # corners along one line (a horizon): no turn to be read
        return np.eye(3), 0
    return rays_rotation(_rays(a[keep], k), _rays(b[keep], k)), int(keep.sum())


def rays_rotation(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """The rotation R (3, 3) that best takes unit rays ``before`` (N, 3) onto ``after`` (least squares, Kabsch):
    a turning camera sees every fixed point's ray turned by the same R."""
    return _nearest_rotation(after.T @ before)


def camera_rotations(path: str | os.PathLike, det, focal_px: float, floor: tuple[np.ndarray, float] | None = None
                     ) -> CameraTurn:
    """The camera's turn over the frames of ``det`` (a ``Detections`` of the same video: its times, stride and the
    person's landmarks to mask); a second pass over the video (module docstring). ``floor``: (up (3,), height m),
    the floor's normal in camera 0's axes (OpenCV) and the camera's height above it: then the camera's travel too,
    from the corners on the floor (``camera_travel.floor_step``), and where that is measured the turn comes from
    it (a travelling camera's homography is no pure turn). The camera is taken to keep its height: each step's
    travel is kept along the floor (a slightly wrong floor normal would otherwise make it climb, and the floor's
    points, and so its steps, grow with the height). A step the floor cannot give is no travel."""
    import cv2

    n = len(det.times_s)
    rot = np.repeat(np.eye(3)[None], n, axis=0)
    centre, travel_ok = np.zeros((n, 3)), np.zeros(n, bool)
    features, ok = np.zeros(n, np.int64), np.ones(n, bool)
    if n == 0:
        return CameraTurn(rot, features, ok, centre, travel_ok)
    travel_ok[0] = True
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
            followed = follow_corners(prev[0], gray, background_mask(gray.shape, prev[1]))
            step, features[i] = step_rotation(prev[0], gray, None, k, followed)
            ok[i] = features[i] >= MIN_FEATURES
            moved = None
            if floor is not None and followed[0] is not None:
                moved = floor_step(followed[0][0], followed[0][1], k, rot[i - 1] @ floor[0], float(floor[1]),
                                   MIN_SPREAD * max(gray.shape))
            if moved is not None:
                r_step, t_step, _ = moved
                rot[i] = r_step @ rot[i - 1]
                travel = rot[i - 1].T @ (-r_step.T @ t_step)                # in camera 0's axes
                centre[i] = centre[i - 1] + travel - (travel @ floor[0]) * floor[0]
                travel_ok[i] = True
            else:
                rot[i] = step @ rot[i - 1]
                centre[i] = centre[i - 1]
        prev = (gray, det.landmarks[i])
    return CameraTurn(rot, features, ok, centre, travel_ok)


MIN_TURN_DEG = 3.0       # a camera that turned less than this over the clip is taken as not turning
MIN_TRAVEL_M = 0.3       # ... and one that travelled less than this as not travelling


def measured_turn(det, camera: dict, camera_motion: str) -> tuple[np.ndarray, np.ndarray | None] | None:
    """The camera's own motion in the lifted motion's camera axes (x right, y depth, z up), for
    ``world_motion.solve_world(cam_turn=..., cam_centre=...)``: (turn (T, 3, 3) R_t<-0, centre (T, 3) m in camera
    0's axes or None). Measured (``camera_rotations``, over the floor that a first ``solve_world`` placed:
    ``camera["cam_from_world"]``, ``camera["cam_position"]``) only when a moving camera was found or said
    (``camera["camera_motion"]``). The travel is kept when the floor gave at least half the steps and the camera
    travelled MIN_TRAVEL_M or more; else the turn alone, when at least half the steps could be measured and the
    camera turned by MIN_TURN_DEG or more; else None. ``det.source`` must be the video."""
    from ..core.frames import CV_FROM_UPLIFT_CAM, UPLIFT_CAM_FROM_CV

    if camera_motion == "static" or camera.get("camera_motion") != "moving" or not os.path.isfile(str(det.source)):
        return None
    try:
        up = CV_FROM_UPLIFT_CAM @ (np.asarray(camera["cam_from_world"], np.float64) @ [0.0, 0.0, 1.0])
        floor = (up, float(np.asarray(camera["cam_position"], np.float64)[2]))
        turn = camera_rotations(det.source, det, float(camera["focal_px"]), floor)
    except Exception:  # noqa: BLE001 - an optional refinement: any failure to read the background means no turn
        return None
    rot = UPLIFT_CAM_FROM_CV @ turn.rot @ CV_FROM_UPLIFT_CAM
    if turn.travel_ok.mean() >= 0.5 and np.linalg.norm(turn.centre, axis=1).max() >= MIN_TRAVEL_M:
        return rot, turn.centre @ UPLIFT_CAM_FROM_CV.T
    if turn.ok.mean() < 0.5 or turn.angles_deg().max() < MIN_TURN_DEG:
        return None
    return rot, None
