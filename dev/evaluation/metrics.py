"""Pose accuracy metrics (numpy): MPJPE, N-MPJPE, PA-MPJPE, MPJAE and acceleration error.

Conventions: positions are metres in any common frame (the camera frame for the uplifter) and are
reported in millimetres; rotations are w-first unit quaternions (``inference/core/rotations.py``),
local rest-relative, index 0 = the root; angles are reported in degrees. Every function takes
batched arrays with matching shapes, e.g. (T, J, 3) or (B, T, J, 3), and returns the mean over
everything as a Python float.
"""
from __future__ import annotations

import numpy as np

from ...inference.core import skeleton as sk
from ...inference.core.rotations import quat_angle

METRIC_KEYS = ("mpjpe_mm", "n_mpjpe_mm", "pa_mpjpe_mm", "mpjae_deg", "accel_mm")


def _pair(pred: np.ndarray, gt: np.ndarray, tail: int, name: str) -> tuple[np.ndarray, np.ndarray]:
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    if pred.shape != gt.shape or pred.ndim < 2 or pred.shape[-1] != tail:
        raise ValueError(f"{name}: expected two arrays of one shape (..., J, {tail}), got {pred.shape} and {gt.shape}")
    return pred, gt


def _root_relative(x: np.ndarray, root: int | None) -> np.ndarray:
    return x if root is None else x - x[..., root:root + 1, :]


def mpjpe(pred: np.ndarray, gt: np.ndarray, root: int | None = sk.ROOT) -> float:
    """Mean per-joint position error, mm. pred, gt: (..., J, 3) metres. Both are made relative to
    joint ``root`` first (None: compared as given)."""
    pred, gt = _pair(pred, gt, 3, "mpjpe")
    err = np.linalg.norm(_root_relative(pred, root) - _root_relative(gt, root), axis=-1)
    return 1000.0 * float(err.mean())


def n_mpjpe(pred: np.ndarray, gt: np.ndarray, root: int | None = sk.ROOT) -> float:
    """Scale-normalised MPJPE, mm (Rhodin et al. 2018): each root-relative pose (..., J, 3) metres
    is scaled by the one factor that best fits it to gt (least squares) first. It leaves out the
    body size, which a monocular 2D input cannot tell apart from distance; no rotation alignment."""
    pred, gt = _pair(pred, gt, 3, "n_mpjpe")
    p, g = _root_relative(pred, root), _root_relative(gt, root)
    num = np.sum(p * g, axis=(-2, -1), keepdims=True)
    scale = num / np.maximum(np.sum(p * p, axis=(-2, -1), keepdims=True), 1e-30)
    return 1000.0 * float(np.linalg.norm(scale * p - g, axis=-1).mean())


def procrustes_align(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """(..., J, 3), (..., J, 3) -> (..., J, 3): pred after the similarity transform (rotation,
    uniform scale, translation; no reflection) that best fits it to gt per pose (Umeyama 1991)."""
    pred, gt = _pair(pred, gt, 3, "procrustes_align")
    mu_p = pred.mean(axis=-2, keepdims=True)
    mu_g = gt.mean(axis=-2, keepdims=True)
    p, g = pred - mu_p, gt - mu_g
    cov = np.swapaxes(g, -1, -2) @ p                         # (..., 3, 3) = sum_i g_i p_i^T
    u, s, vt = np.linalg.svd(cov)
    d = np.sign(np.linalg.det(u @ vt))
    d = np.where(d == 0, 1.0, d)
    flip = np.ones(s.shape)
    flip[..., 2] = d
    rot = (u * flip[..., None, :]) @ vt                       # U diag(1, 1, d) V^T
    var_p = np.sum(p * p, axis=(-2, -1))
    scale = np.sum(s * flip, axis=-1) / np.maximum(var_p, 1e-30)
    return scale[..., None, None] * (p @ np.swapaxes(rot, -1, -2)) + mu_g


def pa_mpjpe(pred: np.ndarray, gt: np.ndarray) -> float:
    """Procrustes-aligned MPJPE, mm: each pose (..., J, 3) metres aligned to gt by rotation, scale
    and translation first."""
    pred, gt = _pair(pred, gt, 3, "pa_mpjpe")
    return 1000.0 * float(np.linalg.norm(procrustes_align(pred, gt) - gt, axis=-1).mean())


def joint_angle_errors(pred_rot: np.ndarray, gt_rot: np.ndarray) -> np.ndarray:
    """(..., J, 4), (..., J, 4) wxyz -> (..., J) geodesic angle between the rotations, degrees."""
    pred_rot, gt_rot = _pair(pred_rot, gt_rot, 4, "joint_angle_errors")
    return np.degrees(quat_angle(pred_rot, gt_rot))


def mpjae(pred_rot: np.ndarray, gt_rot: np.ndarray, include_root: bool = True) -> float:
    """Mean per-joint angle error, degrees: geodesic angle of the local rotations (..., J, 4) wxyz.
    ``include_root=False`` leaves out joint 0 (the root orientation)."""
    err = joint_angle_errors(pred_rot, gt_rot)
    if not include_root:
        err = err[..., 1:]
    return float(err.mean())


def accel_error(pred: np.ndarray, gt: np.ndarray, root: int | None = sk.ROOT) -> float:
    """Mean acceleration error, mm/frame^2: |second difference in time of pred - that of gt|,
    averaged over joints and frames. pred, gt: (..., T, J, 3) metres with T >= 3 on axis -3, made
    relative to joint ``root`` first (None: as given)."""
    pred, gt = _pair(pred, gt, 3, "accel_error")
    if pred.ndim < 3 or pred.shape[-3] < 3:
        raise ValueError(f"accel_error: need (..., T >= 3, J, 3), got {pred.shape}")
    diff = _root_relative(pred, root) - _root_relative(gt, root)
    acc = diff[..., 2:, :, :] - 2.0 * diff[..., 1:-1, :, :] + diff[..., :-2, :, :]
    return 1000.0 * float(np.linalg.norm(acc, axis=-1).mean())


def pose_metrics(pred_joints: np.ndarray, gt_joints: np.ndarray, pred_rot: np.ndarray, gt_rot: np.ndarray,
                 include_root: bool = True) -> dict[str, float]:
    """All metrics, keyed as ``METRIC_KEYS``: {"mpjpe_mm", "n_mpjpe_mm", "pa_mpjpe_mm", "mpjae_deg",
    "accel_mm"}.

    joints: (..., T, J, 3) metres (time on axis -3, T >= 3 for the acceleration error);
    rotations: (..., T, J, 4) wxyz local. ``include_root`` as in ``mpjae``.
    """
    return {
        "mpjpe_mm": mpjpe(pred_joints, gt_joints),
        "n_mpjpe_mm": n_mpjpe(pred_joints, gt_joints),
        "pa_mpjpe_mm": pa_mpjpe(pred_joints, gt_joints),
        "mpjae_deg": mpjae(pred_rot, gt_rot, include_root=include_root),
        "accel_mm": accel_error(pred_joints, gt_joints),
    }


__all__ = ["METRIC_KEYS", "mpjpe", "n_mpjpe", "pa_mpjpe", "procrustes_align", "joint_angle_errors", "mpjae",
           "accel_error", "pose_metrics"]
