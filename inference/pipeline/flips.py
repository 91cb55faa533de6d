"""Left/right label swaps in MediaPipe's 2D landmarks: find them and undo them before lifting.

MediaPipe sometimes reads a person's front as their back (or the reverse) for a few frames, and then
labels the left shoulder, arm, hip and leg as the right ones: in the image the "left" landmarks jump to
where the right ones were a frame earlier. Such a jump is far larger than a body moves between two video
frames, so the labelling that keeps every landmark on a continuous path is found by dynamic programming
(a two-state Viterbi pass over the frames) for the upper body (face, shoulders, arms, hands) and the lower
body (hips, legs, feet) separately, as MediaPipe also swaps only the legs or only the arms at times.

Costs, in body sizes (the median landmark extent of the clip):
- transition from frame t-1 to t, per part: mean distance of the part's sided landmarks between the two
  frames, as labelled in each state (keeping or swapping relative to t-1), each pair weighted by its
  least visible landmark (a hidden limb's position is a guess);
- a fixed cost per change of labelling (more into a state where only one part is swapped), so that noise
  alone never relabels, and a tiny one per relabelled frame, so that without evidence MediaPipe's labels
  stand (a clip swapped from its first frame to its last cannot be told from continuity, and is left).
Frames without the person break the chain (the next one starts fresh, measured against the last seen).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core import skeleton as sk

_NAMES = sk.MP_LANDMARK_NAMES
_LOWER_WORDS = ("hip", "knee", "ankle", "heel", "foot")


def _sided(part_lower: bool) -> np.ndarray:
    """Indices of the left-side landmarks of the upper (False) or lower (True) body."""
    return np.array([i for i, n in enumerate(_NAMES) if n.startswith("left")
                     and any(w in n for w in _LOWER_WORDS) == part_lower])


_PARTS = {"upper": _sided(False), "lower": _sided(True)}


@dataclass
class SwapRepair:
    """landmarks (T, 33, 3) as given, relabelled where swapped; swapped (T, 2) bool per frame for
    the upper and the lower body (columns in ``PARTS`` order)."""
    landmarks: np.ndarray
    swapped: np.ndarray

    PARTS = tuple(_PARTS)

    @property
    def swapped_frames(self) -> np.ndarray:
        """(T,) bool: frames with any part relabelled."""
        return self.swapped.any(axis=1)


# Joint states of (upper, lower): 0 none, 1 upper only, 2 lower only, 3 both swapped.
_STATES = np.array([[False, False], [True, False], [False, True], [True, True]])


def _viterbi(keep: np.ndarray, flip: np.ndarray, unary: np.ndarray, switch: np.ndarray) -> np.ndarray:
    """keep / flip (T, P): cost of part p in frame t keeping / changing its state of frame t-1 (row 0
    unused); unary (S,) cost of each joint state per frame; switch (S_prev, S) cost of each change of
    state. Returns (T, P) bool: the cheapest labelling."""
    t_len = len(keep)
    n = len(_STATES)
    change = _STATES[:, None, :] != _STATES[None, :, :]                      # (S_prev, S, P)
    cost = unary.copy()
    back = np.zeros((t_len, n), np.int64)
    for t in range(1, t_len):
        step = np.where(change, flip[t], keep[t]).sum(-1) + switch           # (S_prev, S)
        total = cost[:, None] + step
        back[t] = np.argmin(total, axis=0)
        cost = total[back[t], np.arange(n)] + unary
    states = np.zeros(t_len, np.int64)
    states[-1] = int(np.argmin(cost))
    for t in range(t_len - 1, 0, -1):
        states[t - 1] = back[t, states[t]]
    return _STATES[states]


def repair_swaps(landmarks: np.ndarray, detected: np.ndarray, width: int, height: int,
                 switch_cost: float = 0.02, partial_cost: float = 0.03, swap_cost: float = 0.005) -> SwapRepair:
    """landmarks (T, 33, 3) float [x, y normalised to the image, visibility] (NaN where missing),
    detected (T,) bool, image size in pixels -> ``SwapRepair`` with the continuous labelling.
    Costs in body sizes: ``switch_cost`` per change of labelling, ``partial_cost`` more for a change into
    a state where only the upper or the lower body is relabelled, ``swap_cost`` per frame relabelled."""
    lm = np.array(landmarks, dtype=np.float32, copy=True)
    t_len = len(lm)
    swapped = np.zeros((t_len, len(_PARTS)), bool)
    frames = np.flatnonzero(np.asarray(detected, bool) & np.isfinite(lm[..., :2]).all(-1).any(-1))
    if len(frames) < 2:
        return SwapRepair(lm, swapped)
    px = lm[frames, :, :2].astype(np.float64) * np.array([width, height], np.float64)
    vis = np.nan_to_num(lm[frames, :, 2].astype(np.float64), nan=0.0)
    extent = np.nanmax(px, axis=1) - np.nanmin(px, axis=1)
    scale = max(float(np.nanmedian(np.linalg.norm(extent, axis=-1))), 1.0)
    keep = np.zeros((len(frames), len(_PARTS)))
    flip = np.zeros((len(frames), len(_PARTS)))
    for k, left in enumerate(_PARTS.values()):
        right = sk.MP_MIRROR[left]
        a, b = px[:, left], px[:, right]                      # (N, n, 2) as labelled
        same = np.linalg.norm(a[1:] - a[:-1], axis=-1) + np.linalg.norm(b[1:] - b[:-1], axis=-1)
        cross = np.linalg.norm(b[1:] - a[:-1], axis=-1) + np.linalg.norm(a[1:] - b[:-1], axis=-1)
        # a pair counts as much as its least visible landmark in either frame: hidden limbs are guesses
        w = np.minimum(np.minimum(vis[1:, left], vis[:-1, left]), np.minimum(vis[1:, right], vis[:-1, right]))
        w = np.where(np.isfinite(same) & np.isfinite(cross), w, 0.0)
        total = np.maximum(w.sum(-1), 1e-6)
        keep[1:, k] = (np.nan_to_num(same) * w).sum(-1) / total / (2 * scale)
        flip[1:, k] = (np.nan_to_num(cross) * w).sum(-1) / total / (2 * scale)
    unary = swap_cost * _STATES.any(-1)
    partial = _STATES[:, 0] != _STATES[:, 1]
    differs = np.any(_STATES[:, None] != _STATES[None], axis=-1)                # (S_prev, S)
    switch = differs * (switch_cost + partial_cost * partial[None, :])
    states = _viterbi(keep, flip, unary, switch)
    swapped[frames] = states
    for k, left in enumerate(_PARTS.values()):
        rows = frames[states[:, k]]
        if len(rows):
            idx = np.arange(sk.NUM_LANDMARKS)
            idx[left], idx[sk.MP_MIRROR[left]] = sk.MP_MIRROR[left], left
            lm[rows] = lm[rows][:, idx]
    return SwapRepair(lm, swapped)


__all__ = ["SwapRepair", "repair_swaps"]
