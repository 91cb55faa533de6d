"""Finger motion of a clip from its hand tracks: angles per frame, short gaps bridged, smoothed, and turned
into rest-relative local rotations of the full skeleton's finger joints (``skeleton.FINGER_JOINT_NAMES``).

    solve_fingers(tracks, times_s, fps, smoothing, max_gap_s) -> FingerMotion

Angles come from MediaPipe's hand landmarks (``hands.HandTracks.image_points``; ``fingers.finger_angles``:
flexion and spread per joint, within ``fingers.JOINT_LIMITS``). Frames without a hand (not looked at, or nothing found) are filled linearly
in time when the gap is at most ``max_gap_s`` (and at the ends, held over at most that long); longer gaps stay
unkeyed. Smoothing is the body's Gaussian (``smoothing.gaussian_filter_time``, same strength) per keyed run.

Rotations: ``fingers`` works in the hand's own frame (x across the knuckles, y distal, p out of the palm); the
skeleton's rest frames are world-aligned with the hand flat in the T-pose (``skeleton.HAND_AXES``), so a local
rotation R in the hand frame is ``C R C^T`` in the skeleton, C = the hand frame's axes in the rest pose
(followed by ``fingers.THUMB_BASE`` for the thumb's joints, whose rest direction it sets).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core import rotations as R
from ..core import skeleton
from .fingers import THUMB_BASE, angles_to_quats, finger_angles, JOINT_LIMITS
from .smoothing import MAX_SIGMA_S, gaussian_filter_time, true_runs

_FINGER_COUNT = len(skeleton.FINGERS)


@dataclass
class FingerMotion:
    """rotations (T, 30, 4) float32 wxyz, rest-relative local, ``skeleton.FINGER_JOINT_NAMES`` order (unkeyed
    frames: interpolated between keyed ones, held at the ends, straight where a hand is never seen);
    keyed (T, 2) bool per hand (0 the body's left, 1 its right); angles (T, 2, 5, 3, 2) float32 radians
    [flexion, spread] (NaN where unkeyed)."""
    rotations: np.ndarray
    keyed: np.ndarray
    angles: np.ndarray

    @property
    def keyed_fraction(self) -> list[float]:
        return [float(v) for v in self.keyed.mean(axis=0)] if len(self.keyed) else [0.0, 0.0]


def hand_axes(side: int) -> np.ndarray:
    """(3, 3) columns: the hand frame's x, y, p (``fingers`` module) in the skeleton's rest pose, side 0 / 1."""
    radial = -1.0 if side == 0 else 1.0            # x points away from the thumb on a left hand
    return skeleton.HAND_AXES[side] @ np.diag([radial, 1.0, 1.0])


def hand_to_skeleton(quats: np.ndarray, side: int) -> np.ndarray:
    """(..., 5, 3, 4) wxyz local rotations in the hand frame convention -> the same in the skeleton's."""
    out = np.empty_like(np.asarray(quats, np.float64))
    axes = hand_axes(side)
    for f in range(_FINGER_COUNT):
        c = R.matrix_to_quat(axes @ THUMB_BASE[side] if f == 0 else axes)
        out[..., f, :, :] = R.quat_multiply(R.quat_multiply(c, quats[..., f, :, :]), R.quat_conjugate(c))
    return out


def _bridge(x: np.ndarray, found: np.ndarray, times_s: np.ndarray, max_gap_s: float) -> tuple[np.ndarray, np.ndarray]:
    """(T, ...) values valid where ``found``: fill gaps of at most ``max_gap_s`` linearly in time (ends: hold).
    Returns (filled copy, keyed (T,) bool)."""
    out, keyed = x.copy(), found.copy()
    n = len(found)
    for a, b in true_runs(~found):
        if a == 0 and b == n:
            break
        if a == 0 or b == n:
            if (times_s[b] - times_s[a] if a == 0 else times_s[b - 1] - times_s[a - 1]) <= max_gap_s + 1e-9:
                out[a:b] = x[b] if a == 0 else x[a - 1]
                keyed[a:b] = True
        elif times_s[b] - times_s[a - 1] <= max_gap_s + 1e-9:
            w = ((times_s[a:b] - times_s[a - 1]) / (times_s[b] - times_s[a - 1])).reshape((-1,) + (1,) * (x.ndim - 1))
            out[a:b] = (1.0 - w) * x[a - 1] + w * x[b]
            keyed[a:b] = True
    return out, keyed


def _dense(x: np.ndarray, keyed: np.ndarray, rest: np.ndarray) -> np.ndarray:
    """(T, ...) values at keyed frames -> every frame: linear between keyed ones, held at the ends, ``rest``
    when nothing is keyed."""
    if not keyed.any():
        return np.broadcast_to(rest, x.shape).copy()
    idx = np.flatnonzero(keyed)
    t = np.arange(len(keyed))
    flat = x.reshape(len(x), -1)
    return np.stack([np.interp(t, idx, flat[idx, c]) for c in range(flat.shape[1])], axis=1).reshape(x.shape)


def solve_fingers(world: np.ndarray, found: np.ndarray, times_s: np.ndarray, fps: float, smoothing: float = 0.5,
                  max_gap_s: float = 0.5) -> FingerMotion:
    """Finger motion (module docstring) from ``world`` (T, 2, 21, 3) hand landmarks, x right, y down, z away from
    the camera, any one unit (angles only; NaN where none: ``hands.HandTracks.image_points`` or ``.world``),
    ``found`` (T, 2) bool, ``times_s`` (T,) s, ``fps`` the clip's rate."""
    world = np.asarray(world, np.float64)
    found = np.asarray(found, bool) & np.all(np.isfinite(world), axis=(-1, -2))
    times_s = np.asarray(times_s, np.float64)
    n = len(times_s)
    if world.shape != (n, 2, skeleton.NUM_HAND_LANDMARKS, 3) or found.shape != (n, 2):
        raise ValueError(f"hand landmarks: expected ({n}, 2, 21, 3) and found ({n}, 2), got {world.shape}, "
                         f"{found.shape}")
    angles = np.full((n, 2, _FINGER_COUNT, 3, 2), np.nan)
    keyed = np.zeros((n, 2), bool)
    rot = np.zeros((n, 2, _FINGER_COUNT, 3, 4))
    sigma = float(smoothing) * MAX_SIGMA_S * float(fps)
    for side in (0, 1):
        a = np.zeros((n, _FINGER_COUNT, 3, 2))
        if found[:, side].any():
            a[found[:, side]] = finger_angles(world[found[:, side], side], side)
        a, keyed[:, side] = _bridge(a, found[:, side], times_s, max_gap_s)
        if sigma >= 1e-3:
            a = gaussian_filter_time(a, sigma, keyed[:, side])
        a = np.clip(a, JOINT_LIMITS[..., 0], JOINT_LIMITS[..., 1])
        a = _dense(a, keyed[:, side], np.zeros((_FINGER_COUNT, 3, 2)))
        angles[keyed[:, side], side] = a[keyed[:, side]]
        rot[:, side] = hand_to_skeleton(angles_to_quats(a, side), side)
    rotations = R.quat_make_continuous(R.quat_normalize(rot.reshape(n, skeleton.NUM_FINGER_JOINTS, 4)), axis=0)
    return FingerMotion(rotations.astype(np.float32), keyed, angles.astype(np.float32))
