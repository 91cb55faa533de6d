"""Detection gaps in a landmark sequence: interpolate the short ones, leave the long ones unkeyed.

A gap is a maximal run of samples without a detection. Its length is measured in time from the
timestamps (so variable-frame-rate video works): for an interior gap, from the last detected sample
before it to the first detected sample after it (the span the interpolation bridges); for a leading or
trailing gap, from the first/last sample of the video to the nearest detected sample.

* gap duration <= ``max_gap_s``: interior gaps are interpolated linearly in time per landmark
  (x, y in normalised image coordinates and visibility); leading/trailing gaps hold the nearest
  detected pose. These samples stay keyed (``Gap.filled = True``).
* longer gaps: the samples hold the nearest detected pose (by time) with visibility 0 and are not
  keyed (``Gap.filled = False``); the caller leaves them without keys.

Landmarks with low visibility inside detected frames are left as they are: ``normalize_landmarks``
down-weights them; nothing is invented for them here. numpy only.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..core import skeleton as sk
from .smoothing import true_runs

DEFAULT_MAX_GAP_S = 0.5


@dataclass
class Gap:
    """Samples [start, stop) had no detection; ``filled``: interpolated/held and keyed (short gap)
    rather than left unkeyed (long gap); ``duration_s``: the time span measured as in the module doc."""
    start: int
    stop: int
    filled: bool
    duration_s: float = 0.0

    @property
    def num_frames(self) -> int:
        return self.stop - self.start


@dataclass
class GapFill:
    """landmarks (T, 33, 3) float32 [x_norm, y_norm, vis] with short gaps filled and long gaps holding
    the nearest pose at visibility 0; keyed (T,) bool; gaps in time order."""
    landmarks: np.ndarray
    keyed: np.ndarray
    gaps: list[Gap] = field(default_factory=list)

    @property
    def unkeyed_gaps(self) -> list[Gap]:
        return [g for g in self.gaps if not g.filled]


def _check(landmarks: np.ndarray, detected: np.ndarray, times_s: np.ndarray, max_gap_s: float):
    lm = np.asarray(landmarks, dtype=np.float32)
    if lm.ndim != 3 or lm.shape[1:] != (sk.NUM_LANDMARKS, 3):
        raise ValueError(f"fill_gaps: landmarks must be (T, {sk.NUM_LANDMARKS}, 3), got {lm.shape}")
    det = np.asarray(detected)
    if det.shape != (len(lm),):
        raise ValueError(f"fill_gaps: detected must be ({len(lm)},) bool, got {det.shape}")
    t = np.asarray(times_s, dtype=np.float64)
    if t.shape != (len(lm),):
        raise ValueError(f"fill_gaps: times_s must be ({len(lm)},), got {t.shape}")
    if not np.all(np.isfinite(t)) or np.any(np.diff(t) <= 0):
        raise ValueError("fill_gaps: times_s must be finite and strictly increasing")
    if not np.isfinite(max_gap_s) or max_gap_s < 0:
        raise ValueError(f"fill_gaps: max_gap_s must be >= 0, got {max_gap_s}")
    return lm, det.astype(bool), t


def find_gaps(detected: np.ndarray) -> list[tuple[int, int]]:
    """(T,) bool -> [start, stop) ranges of consecutive undetected samples."""
    return true_runs(~np.asarray(detected, dtype=bool))


def _interpolate(lm: np.ndarray, t: np.ndarray, a: int, b: int) -> None:
    """Fill lm[a:b] in place linearly in time between the detected samples a-1 and b."""
    lo, hi = lm[a - 1].astype(np.float64), lm[b].astype(np.float64)
    w = ((t[a:b] - t[a - 1]) / (t[b] - t[a - 1]))[:, None, None]
    filled = (1.0 - w) * lo + w * hi
    bad = ~np.all(np.isfinite(filled[..., :2]), axis=-1)       # a landmark missing at either end
    filled[..., 2] = np.where(bad, 0.0, filled[..., 2])
    lm[a:b] = filled


def fill_gaps(landmarks: np.ndarray, detected: np.ndarray, times_s: np.ndarray,
              max_gap_s: float = DEFAULT_MAX_GAP_S) -> GapFill:
    """Fill detection gaps (see the module doc).

    landmarks: (T, 33, 3) [x_norm, y_norm, vis] (coordinates of undetected samples may be NaN);
    detected: (T,) bool; times_s: (T,) strictly increasing presentation times (s); max_gap_s: the
    longest gap that is interpolated. Returns GapFill(landmarks (T, 33, 3) float32, keyed (T,), gaps).
    With no detection at all every sample is unkeyed and the landmarks are returned unchanged with
    visibility 0.
    """
    lm, det, t = _check(landmarks, detected, times_s, max_gap_s)
    lm = lm.copy()
    n = len(lm)
    keyed = det.copy()
    gaps: list[Gap] = []
    if n and not det.any():
        lm[..., 2] = 0.0
        return GapFill(lm, keyed, [Gap(0, n, False, float(t[-1] - t[0]))])
    for a, b in find_gaps(det):
        lead, trail = a == 0, b == n
        duration = float(t[b] - t[a] if lead else (t[b - 1] - t[a - 1] if trail else t[b] - t[a - 1]))
        filled = duration <= max_gap_s + 1e-9
        if lead or trail:
            lm[a:b] = lm[b] if lead else lm[a - 1]      # hold the nearest detected pose
        elif filled:
            _interpolate(lm, t, a, b)
        else:
            mid = 0.5 * (t[a - 1] + t[b])
            lm[a:b] = np.where((t[a:b] < mid)[:, None, None], lm[a - 1], lm[b])
        if not filled:
            lm[a:b, :, 2] = 0.0
        keyed[a:b] = filled
        gaps.append(Gap(a, b, filled, duration))
    return GapFill(lm, keyed, gaps)


__all__ = ["DEFAULT_MAX_GAP_S", "Gap", "GapFill", "find_gaps", "fill_gaps"]
