"""The camera's travel (a tracking shot) from corners on the floor, once the floor is known.

    floor_step(before_px, after_px, k, up_cv, height_m) -> (R, t, inliers) or None

A camera that moves shifts each image point by an amount that depends on its depth, so only a turn can be read
from a homography of arbitrary points (``camera_rotation``). Corners on the floor have a known depth, though,
once ``world_motion.solve_world`` has placed the floor from the body's size: the floor's normal ``up_cv`` in the
camera's axes and the camera's height above it. A corner whose viewing ray points at least MIN_BELOW_DEG below
the horizon meets the floor at ``X = ray * height / -(up . ray)``; its position in the next frame gives that
camera's pose against those 3D points (PnP, RANSAC: corners on walls or on people do not agree and drop out).
OpenCV camera axes throughout (x right, y down, z forward); X_next = R @ X_prev + t, metres.
"""
from __future__ import annotations

import numpy as np

MIN_BELOW_DEG = 4.0      # rays closer to the horizon meet the floor too far away to place them well
MAX_FLOOR_M = 40.0       # nor further than this from the camera
MIN_FLOOR_POINTS = 12
REPROJECTION_PX = 2.0


def rays(px: np.ndarray, k: np.ndarray) -> np.ndarray:
    """(N, 2) pixels -> (N, 3) unit viewing rays (OpenCV camera axes)."""
    r = np.linalg.solve(k, np.concatenate([px, np.ones((len(px), 1))], axis=1).T).T
    return r / np.linalg.norm(r, axis=1, keepdims=True)


def floor_points(ray: np.ndarray, up_cv: np.ndarray, height_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Where unit rays (N, 3) meet the floor (normal ``up_cv``, the camera ``height_m`` above it): (N, 3) points
    (m, camera axes) and (N,) bool, the rays that meet it close and far enough below the horizon."""
    down = -(ray @ np.asarray(up_cv, np.float64))                      # sine of the angle below the horizon
    ok = down > np.sin(np.radians(MIN_BELOW_DEG))
    dist = np.where(ok, float(height_m) / np.where(ok, down, 1.0), np.inf)
    ok &= dist < MAX_FLOOR_M
    return ray * np.where(ok, dist, 0.0)[:, None], ok


def floor_step(before_px: np.ndarray, after_px: np.ndarray, k: np.ndarray, up_cv: np.ndarray, height_m: float,
               min_spread_px: float = 0.0):
    """The camera's step between two frames from corners followed from ``before_px`` (N, 2) to ``after_px``
    (N, 2): (R (3, 3), t (3,), inliers) with X_after = R X_before + t (module docstring), or None when fewer than
    MIN_FLOOR_POINTS corners lie on the floor and agree, or when those that agree lie along one line (their
    smaller spread, std in pixels, under ``min_spread_px``: an edge, which cannot tell a step)."""
    import cv2

    pts, on_floor = floor_points(rays(np.asarray(before_px, np.float64), k), up_cv, height_m)
    if on_floor.sum() < MIN_FLOOR_POINTS or not np.isfinite(height_m) or height_m <= 0:
        return None
    obj = pts[on_floor].astype(np.float64)
    img = np.asarray(after_px, np.float64)[on_floor]
    # from "no step" (frames are close together): the floor is a plane, and plane-only solvers can flip
    rvec, tvec = np.zeros((3, 1)), np.zeros((3, 1))
    ok, rvec, tvec, inliers = cv2.solvePnPRansac(obj, img, k, None, rvec, tvec, useExtrinsicGuess=True,
                                                 iterationsCount=200, reprojectionError=REPROJECTION_PX,
                                                 flags=cv2.SOLVEPNP_ITERATIVE)
    if not ok or inliers is None or len(inliers) < MIN_FLOOR_POINTS:
        return None
    keep = inliers.ravel()
    spread = np.linalg.svd(img[keep] - img[keep].mean(axis=0), compute_uv=False) / np.sqrt(len(keep))
    if spread[-1] < min_spread_px:
        return None
    ok, rvec, tvec = cv2.solvePnP(obj[keep], img[keep], k, None, rvec, tvec, useExtrinsicGuess=True,
                                  flags=cv2.SOLVEPNP_ITERATIVE)
    if not ok:
        return None
    return cv2.Rodrigues(rvec)[0], tvec.ravel(), int(len(keep))
