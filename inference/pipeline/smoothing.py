"""Temporal smoothing of joint rotations and positions, and the jitter measures reported before/after.

Both smoothers are a zero-phase Gaussian along time (axis 0) whose width grows with ``strength``:
``sigma = strength * MAX_SIGMA_S`` seconds (0 = identity, 1 = strongest). Sequence ends are padded by
odd reflection (``2 x0 - x[k]``; for rotations ``q0 conj(q[k]) q0``), so a constant velocity passes
through unchanged and ends are not pulled towards the inside. Rotations are made hemisphere-continuous
first (``rotations.quat_make_continuous``), filtered component-wise and renormalised. An optional
``keyed`` (T,) bool mask smooths each run of keyed frames on its own and leaves unkeyed frames as they
are, so poses held inside long detection gaps do not bleed into the keyed motion. numpy only.
"""
from __future__ import annotations

import numpy as np

from ..core import rotations as R

MAX_SIGMA_S = 0.1   # Gaussian sigma (seconds) at strength 1
_REF_FPS = 30.0     # rotation_jitter_deg is reported per frame^2 at this rate


def _check_strength(strength: float, fps: float) -> float:
    if not np.isfinite(strength) or not 0.0 <= strength <= 1.0:
        raise ValueError(f"smoothing strength must be in [0, 1], got {strength}")
    if not np.isfinite(fps) or fps <= 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    return float(strength) * MAX_SIGMA_S * float(fps)   # sigma in frames


def true_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(T,) bool -> [start, stop) index ranges of consecutive True values, in order."""
    m = np.asarray(mask, dtype=bool).astype(np.int8)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], m, [0]])))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2])]


def _runs(keyed: np.ndarray | None, n: int) -> list[tuple[int, int]]:
    """[start, stop) index ranges of consecutive keyed frames (all frames when keyed is None)."""
    if keyed is None:
        return [(0, n)] if n else []
    keyed = np.asarray(keyed, dtype=bool)
    if keyed.shape != (n,):
        raise ValueError(f"keyed: expected shape ({n},), got {keyed.shape}")
    return true_runs(keyed)


def _kernel(sigma: float, n: int) -> np.ndarray:
    radius = int(min(np.ceil(3.0 * sigma), n - 1))
    k = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    return k / k.sum()


def _convolve_time(padded: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Valid convolution along axis 0 of (T + 2r, ...) -> (T, ...)."""
    r = len(kernel) // 2
    n = padded.shape[0] - 2 * r
    out = np.zeros((n,) + padded.shape[1:], dtype=np.float64)
    for i, w in enumerate(kernel):
        out += w * padded[i:i + n]
    return out


def _reflect_odd(x: np.ndarray, r: int) -> np.ndarray:
    """(n, ...) -> (n + 2r, ...) padded by 2 x[0] - x[k] / 2 x[-1] - x[-1-k] (r <= n - 1)."""
    head = 2.0 * x[0] - x[r:0:-1]
    tail = 2.0 * x[-1] - x[-2:-r - 2:-1]
    return np.concatenate([head, x, tail], axis=0)


def _reflect_quat(q: np.ndarray, r: int) -> np.ndarray:
    """Rotation-space odd reflection: q0 conj(q_k) q0 before the start, likewise after the end."""
    def mirror(q0, qs):
        return R.quat_multiply(R.quat_multiply(q0, R.quat_conjugate(qs)), q0)
    head = mirror(q[:1], q[r:0:-1])
    tail = mirror(q[-1:], q[-2:-r - 2:-1])
    return R.quat_make_continuous(np.concatenate([head, q, tail], axis=0), axis=0)


def gaussian_filter_time(x: np.ndarray, sigma_frames: float, keyed: np.ndarray | None = None) -> np.ndarray:
    """(T, ...) -> (T, ...) float64: zero-phase Gaussian along axis 0 with odd-reflected ends;
    sigma in frames (< 1e-3: a copy). keyed (T,) bool: filter keyed runs separately, others unchanged."""
    out = np.array(x, dtype=np.float64)
    if not np.isfinite(sigma_frames) or sigma_frames < 0:
        raise ValueError(f"gaussian_filter_time: sigma must be >= 0, got {sigma_frames}")
    if sigma_frames < 1e-3:
        return out
    for a, b in _runs(keyed, len(out)):
        if b - a < 3:
            continue
        k = _kernel(sigma_frames, b - a)
        out[a:b] = _convolve_time(_reflect_odd(out[a:b], len(k) // 2), k)
    return out


def smooth_positions(x: np.ndarray, strength: float, fps: float, keyed: np.ndarray | None = None) -> np.ndarray:
    """(T, ..., 3) positions (any unit) -> same shape and dtype, zero-phase Gaussian along time.

    strength 0..1 (sigma = strength * MAX_SIGMA_S s); keyed (T,) bool: smooth keyed runs separately,
    leave unkeyed frames unchanged.
    """
    x = np.asarray(x)
    if x.ndim < 2 or x.shape[-1] != 3:
        raise ValueError(f"smooth_positions: expected (T, ..., 3), got {x.shape}")
    sigma = _check_strength(strength, fps)
    if sigma < 1e-3:
        return x.copy()
    out = gaussian_filter_time(x, sigma, keyed)
    return out.astype(x.dtype if np.issubdtype(x.dtype, np.floating) else np.float64)


def smooth_rotations(q: np.ndarray, strength: float, fps: float, keyed: np.ndarray | None = None) -> np.ndarray:
    """(T, J, 4) wxyz (any leading-time shape (T, ..., 4)) -> same shape and dtype, unit quaternions.

    Hemisphere-continuous along time, zero-phase Gaussian per component (sigma = strength *
    MAX_SIGMA_S s), renormalised. strength 0 returns the input unchanged. keyed as in smooth_positions.
    """
    q = np.asarray(q)
    if q.ndim < 2 or q.shape[-1] != 4:
        raise ValueError(f"smooth_rotations: expected (T, ..., 4), got {q.shape}")
    sigma = _check_strength(strength, fps)
    if sigma < 1e-3:
        return q.copy()
    out = R.quat_normalize(q.astype(np.float64))
    for a, b in _runs(keyed, len(q)):
        if b - a < 3:
            continue
        k = _kernel(sigma, b - a)
        run = R.quat_make_continuous(out[a:b], axis=0)
        sm = R.quat_normalize(_convolve_time(_reflect_quat(run, len(k) // 2), k))
        # keep each frame's sign as given (the caller may rely on w >= 0 or on its own continuity)
        out[a:b] = np.where(np.sum(sm * out[a:b], axis=-1, keepdims=True) < 0, -sm, sm)
    return out.astype(q.dtype if np.issubdtype(q.dtype, np.floating) else np.float64)


def _triples(keyed: np.ndarray | None, n: int) -> np.ndarray:
    """(n - 2,) bool: second differences whose three frames are all keyed."""
    if keyed is None:
        return np.ones(max(n - 2, 0), dtype=bool)
    keyed = np.asarray(keyed, dtype=bool)
    if keyed.shape != (n,):
        raise ValueError(f"keyed: expected shape ({n},), got {keyed.shape}")
    return keyed[2:] & keyed[1:-1] & keyed[:-2]


def position_jitter_mm(x: np.ndarray, keyed: np.ndarray | None = None) -> float:
    """Mean acceleration magnitude of (T, ..., 3) positions in metres, mm/frame^2
    (|x[t+1] - 2 x[t] + x[t-1]| averaged over frames and points; 0 when T < 3)."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim < 2 or x.shape[-1] != 3:
        raise ValueError(f"position_jitter_mm: expected (T, ..., 3), got {x.shape}")
    use = _triples(keyed, len(x))
    if not use.any():
        return 0.0
    acc = np.linalg.norm(x[2:] - 2.0 * x[1:-1] + x[:-2], axis=-1)[use]
    return 1000.0 * float(acc.mean())


def rotation_jitter_deg(q: np.ndarray, fps: float, keyed: np.ndarray | None = None) -> float:
    """Mean angular acceleration of (T, ..., 4) wxyz rotations, degrees per frame^2 at 30 fps.

    The angle between consecutive frame-to-frame steps (q[t]^-1 q[t+1]) is averaged over frames and
    joints and scaled by (30 / fps)^2 so smooth motion reads the same at any frame rate. Sign flips
    (q vs -q) do not count. 0 when T < 3.
    """
    q = np.asarray(q, dtype=np.float64)
    if q.ndim < 2 or q.shape[-1] != 4:
        raise ValueError(f"rotation_jitter_deg: expected (T, ..., 4), got {q.shape}")
    if not np.isfinite(fps) or fps <= 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    use = _triples(keyed, len(q))
    if not use.any():
        return 0.0
    q = R.quat_normalize(q)
    step = R.quat_multiply(R.quat_conjugate(q[:-1]), q[1:])        # (T-1, ..., 4) local angular steps
    ang = R.quat_angle(step[1:], step[:-1])[use]
    return float(np.degrees(ang).mean()) * (_REF_FPS / float(fps)) ** 2


__all__ = ["MAX_SIGMA_S", "true_runs", "gaussian_filter_time", "smooth_positions", "smooth_rotations", "position_jitter_mm",
           "rotation_jitter_deg"]
