"""Random finger motion for rendered footage: curls and spreads that vary smoothly over time (numpy only).

    random_finger_angles(frames, fps, seed) -> (T, 2, 5, 3, 2) radians [flexion, spread]

Angles follow ``inference.pipeline.fingers`` (hand frame, anatomical signs: flexion > 0 curls towards the palm,
spread > 0 towards the thumb) within its ``JOINT_LIMITS``. Each finger of each hand has its own curl, a smoothed
random walk between open (0) and a fist (1) that opens and closes every second or two; the three joints of a
finger bend together (proximal joints less than the middle one, as real fingers do), the knuckles spread a little.
"""
from __future__ import annotations

import numpy as np

from ...inference.pipeline.fingers import JOINT_LIMITS

# flexion (degrees) of each joint of a finger at a full curl: knuckle, middle, end; the thumb's CMC, MCP, IP
_FIST_DEG = np.array([[25.0, 45.0, 60.0]] + [[75.0, 95.0, 65.0]] * 4)
_SPREAD_DEG = np.array([20.0, 12.0, 6.0, 8.0, 14.0])       # knuckle spread amplitude per finger


def _smooth_noise(rng: np.random.Generator, n: int, fps: float, period_s: float, shape=()) -> np.ndarray:
    """(n, *shape) values in [0, 1]: Gaussian-smoothed noise with features about ``period_s`` apart."""
    sigma = max(1.0, 0.25 * period_s * fps)
    pad = int(3 * sigma) + 1
    x = rng.normal(size=(n + 2 * pad,) + tuple(shape))
    k = np.exp(-0.5 * (np.arange(-pad, pad + 1) / sigma) ** 2)
    k /= k.sum()
    y = np.apply_along_axis(lambda v: np.convolve(v, k, mode="valid"), 0, x)[:n]
    y = (y - y.mean(axis=0)) / (y.std(axis=0) + 1e-9)
    return 1.0 / (1.0 + np.exp(-1.8 * y))                 # squashed to (0, 1), mostly between 0.1 and 0.9


def random_finger_angles(frames: int, fps: float, seed: int = 0) -> np.ndarray:
    """(T, 2, 5, 3, 2) float64 radians (module docstring)."""
    rng = np.random.default_rng(seed)
    curl = _smooth_noise(rng, frames, fps, 1.5, (2, 5))                       # (T, 2, 5)
    spread = 2.0 * _smooth_noise(rng, frames, fps, 2.0, (2, 5)) - 1.0
    out = np.zeros((frames, 2, 5, 3, 2))
    out[..., 0] = np.deg2rad(curl[..., None] * _FIST_DEG)
    out[..., 0, 1] = np.deg2rad(spread * _SPREAD_DEG)
    return np.clip(out, JOINT_LIMITS[..., 0], JOINT_LIMITS[..., 1])
