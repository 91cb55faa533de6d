"""Network input normalisation of MediaPipe-style 2D landmarks, shared by training and run time.

``normalize_landmarks`` turns (T, 33, 3) ``[x_norm, y_norm, visibility]`` (MediaPipe layout and
normalised image coordinates, y down) into (T, 33, 3) float32 ``[u, v, visibility]``:

1. aspect-correct pixels, y up: ``a = x*W - W/2``, ``b = -(y*H - H/2)``, both / ``max(W, H)/2``;
2. centre: subtract the per-frame mid-hip (mean of left_hip and right_hip);
3. scale: divide by ONE scale for the whole sequence = median over frames of the RMS distance of
   the 12 limb landmarks (shoulders, elbows, wrists, hips, knees, ankles) from the mid-hip, over
   frames with all 12 visible (> 0.5), else over all frames; 1 when no usable scale exists;
4. landmarks with visibility < 0.1 (or NaN coordinates) get ``u = v = 0``; a frame whose mid-hip
   is not finite is all zeros (visibility included). NaN visibility counts as 0.

Bump ``NORMALISATION_ID`` (stored in the model metadata) whenever this function changes.
numpy only.
"""
from __future__ import annotations

import numpy as np

from . import skeleton as sk

NORMALISATION_ID = "midhip-rms12-v1"
VIS_THRESHOLD = 0.1        # below: coordinates zeroed
SCALE_VIS_THRESHOLD = 0.5  # frames used for the scale need all limb landmarks above this

_HIPS = np.array([sk.MP_INDEX["left_hip"], sk.MP_INDEX["right_hip"]])
LIMB_LANDMARKS: np.ndarray = np.array([sk.MP_INDEX[f"{side}_{part}"] for part in
                                       ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")
                                       for side in ("left", "right")])


def _nanmedian_last(x: np.ndarray) -> np.ndarray:
    """Median over the last axis ignoring NaN; NaN where a row is all NaN (no warning)."""
    s = np.sort(x, axis=-1)                         # NaN sorts last
    n = np.sum(~np.isnan(x), axis=-1)
    lo = np.take_along_axis(s, np.maximum((n - 1) // 2, 0)[..., None], axis=-1)[..., 0]
    hi = np.take_along_axis(s, np.maximum(n // 2, 0)[..., None], axis=-1)[..., 0]
    return np.where(n > 0, 0.5 * (lo + hi), np.nan)


def normalize_landmarks(landmarks: np.ndarray, width: float | np.ndarray,
                        height: float | np.ndarray) -> np.ndarray:
    """(..., T, 33, 3) [x_norm, y_norm, vis] -> (..., T, 33, 3) float32 [u, v, vis] (see module doc).

    width, height: image size in pixels, scalars or arrays broadcastable to the leading batch
    dims ``...`` (one size per sequence). The scale is computed per sequence (over T).
    """
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.ndim < 3 or lm.shape[-2:] != (sk.NUM_LANDMARKS, 3):
        raise ValueError(f"normalize_landmarks: expected (..., T, {sk.NUM_LANDMARKS}, 3), got {lm.shape}")
    w = np.asarray(width, dtype=np.float64)[..., None, None]
    h = np.asarray(height, dtype=np.float64)[..., None, None]
    half = np.maximum(w, h) / 2.0
    vis = np.nan_to_num(np.clip(lm[..., 2], 0.0, 1.0), nan=0.0)
    a = (lm[..., 0] * w - w / 2.0) / half
    b = -(lm[..., 1] * h - h / 2.0) / half
    xy = np.stack([a, b], axis=-1)                                   # (..., T, 33, 2)
    mid = xy[..., _HIPS, :].mean(axis=-2, keepdims=True)             # (..., T, 1, 2)
    frame_ok = np.all(np.isfinite(mid), axis=(-2, -1))               # (..., T)
    xy = xy - mid
    limbs = xy[..., LIMB_LANDMARKS, :]
    rms = np.sqrt(np.mean(np.sum(limbs ** 2, axis=-1), axis=-1))     # (..., T), NaN if any NaN
    good = np.all(vis[..., LIMB_LANDMARKS] > SCALE_VIS_THRESHOLD, axis=-1) & np.isfinite(rms)
    scale = _nanmedian_last(np.where(good, rms, np.nan))
    fallback = _nanmedian_last(np.where(np.isfinite(rms), rms, np.nan))
    scale = np.where(np.isfinite(scale), scale, fallback)
    scale = np.where(np.isfinite(scale) & (scale > 1e-6), scale, 1.0)
    uv = xy / scale[..., None, None, None]
    keep = (vis >= VIS_THRESHOLD) & np.all(np.isfinite(uv), axis=-1) & frame_ok[..., None]
    uv = np.where(keep[..., None], uv, 0.0)
    vis = np.where(frame_ok[..., None], vis, 0.0)
    return np.concatenate([uv, vis[..., None]], axis=-1).astype(np.float32)


__all__ = ["NORMALISATION_ID", "LIMB_LANDMARKS", "normalize_landmarks"]
