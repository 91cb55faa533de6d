"""People in one video: following one person frame after frame (``choose_person``, ``PersonChooser``: the
rule ``detect`` keeps by default), and everyone's per-frame poses joined into tracks, one per person.

Each frame's candidates (MediaPipe returns up to ``num_poses`` poses, in no stable order) are matched to the
tracks seen within the last ``reacquire_s`` seconds, cheapest pair first, with the cost of
``choose_person``: mid-hip distance in units of the track's last bounding-box diagonal minus the boxes'
overlap (IoU), and no match beyond ``max_jump`` diagonals. A candidate left over starts a new track. Tracks are
numbered by how long they are on screen (0 = the most present), ties by size. Two readings of one body in
the same frame (MediaPipe sometimes reports a person twice) count once, and a track seen for under half a
second in all is dropped.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..core import skeleton

_HIPS = [skeleton.MP_INDEX["left_hip"], skeleton.MP_INDEX["right_hip"]]


def _bbox(xy: np.ndarray) -> np.ndarray:
    """(..., 33, 2) -> (..., 4) x0, y0, x1, y1."""
    return np.concatenate([xy.min(axis=-2), xy.max(axis=-2)], axis=-1)


def _moved(memory: tuple | None, pose: np.ndarray, time_s: float) -> tuple:
    """A person's memory (last pose (33, 2) iso, time, hip velocity (2,) iso units/s) updated with a new pose."""
    if memory is None or time_s <= memory[1]:
        return pose, time_s, np.zeros(2, np.float32)
    step = (pose[_HIPS].mean(0) - memory[0][_HIPS].mean(0)) / (time_s - memory[1])
    velocity = step if time_s - memory[1] > 0.25 else 0.5 * memory[2] + 0.5 * step      # smoothed when frequent
    return pose, time_s, velocity.astype(np.float32)


def _predicted(memory: tuple, time_s: float) -> np.ndarray:
    """Where a person should be now: the last pose moved on at its hip velocity (people walk on behind others)."""
    return memory[0] + memory[2] * (time_s - memory[1])


def choose_person(candidates: np.ndarray, previous: np.ndarray | None,
                  max_jump: float = 1.0) -> int | None:
    """Index of the candidate to keep, or None.

    ``candidates`` (K, 33, 2) and ``previous`` (33, 2) are landmark positions in isotropic image
    units (x scaled by width/height). Without ``previous``: the largest bounding box. With it: the
    lowest ``hip_distance / previous_diagonal - IoU``, rejected if that distance exceeds ``max_jump``.
    """
    if len(candidates) == 0:
        return None
    if previous is None:
        boxes = _bbox(candidates)
        return int(np.argmax((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])))
    dist, cost = _cost(candidates, previous)
    best = int(np.argmin(cost))
    return best if dist[best] <= max_jump else None


class PersonChooser:
    """The one-person choice of ``detect`` (its module docstring), frame after frame (in time order).

    ``choose(arr (K, 33, 4), worlds (K, 33, 3), time_s, aspect)`` -> ``(landmarks (33, 3), world (33, 3),
    presence, num_people)`` with NaN / 0 when no person is kept; ``aspect`` = width / height.
    """

    def __init__(self, max_jump: float = 1.0, reacquire_s: float = 1.0):
        self.max_jump, self.reacquire_s = max_jump, reacquire_s
        self._ours: tuple | None = None       # the kept person's memory (``_moved``): last pose, time, velocity
        self._others: list[tuple] = []          # the other people seen lately, likewise

    def choose(self, arr: np.ndarray, worlds: np.ndarray, time_s: float, aspect: float):
        nan = np.full((skeleton.NUM_LANDMARKS, 3), np.nan, np.float32)
        lms = nan.copy()
        lms[:, 2] = 0.0
        if not len(arr):
            return lms, nan, 0.0, 0
        iso = arr[..., :2] * np.array([aspect, 1.0], np.float32)
        recent = self._ours is not None and time_s - self._ours[1] <= self.reacquire_s
        self._others = [m for m in self._others if time_s - m[1] <= self.reacquire_s]
        ours = _predicted(self._ours, time_s) if recent else None
        mine = self._not_others(iso, ours, time_s) if recent else np.ones(len(iso), bool)
        k = choose_person(iso[mine], ours, self.max_jump) if mine.any() else None
        k = None if k is None else int(np.flatnonzero(mine)[k])
        self._remember_others(iso, k, time_s)
        if k is None:
            return lms, nan, 0.0, len(arr)
        self._ours = _moved(self._ours if recent else None, iso[k], time_s)
        return arr[k, :, :3].copy(), worlds[k].copy(), max(float(arr[k, :, 3].mean()), 1e-6), len(arr)

    def _not_others(self, iso: np.ndarray, ours: np.ndarray, time_s: float) -> np.ndarray:
        """(K,) bool: candidates that match the followed person (where it should be now) at least as well as every
        other person seen lately (while ours is hidden behind someone, that someone is not taken for ours)."""
        _, mine = _cost(iso, ours)
        ok = np.ones(len(iso), bool)
        for memory in self._others:
            _, theirs = _cost(iso, _predicted(memory, time_s))
            ok &= mine <= theirs
        return ok

    def _remember_others(self, iso: np.ndarray, kept: int | None, time_s: float) -> None:
        """Update the other people's last poses with this frame's candidates that are not ours (nor a second
        reading of ours: they overlap it), each to the nearest remembered one or as someone new."""
        for c in range(len(iso)):
            if c == kept:
                continue
            if kept is not None:
                dist, cost = _cost(iso[c:c + 1], iso[kept])
                if dist[0] <= 0.25 or dist[0] - cost[0] > 0.5:          # the same body read twice
                    continue
            if self._others:
                guesses = [_predicted(m, time_s) for m in self._others]
                costs = [float(_cost(iso[c:c + 1], g)[1][0]) for g in guesses]
                j = int(np.argmin(costs))
                if float(_cost(iso[c:c + 1], guesses[j])[0][0]) <= self.max_jump:
                    self._others[j] = _moved(self._others[j], iso[c], time_s)
                    continue
            self._others.append(_moved(None, iso[c], time_s))


@dataclass
class PersonTrack:
    """One person over T frames: ``seen`` (T,) bool; ``landmarks`` (T, 33, 3) float32 [x, y normalised, visibility],
    ``world`` (T, 33, 3) float32 MediaPipe metres, ``presence`` (T,) float32 (NaN / 0 where not seen)."""
    seen: np.ndarray
    landmarks: np.ndarray
    world: np.ndarray
    presence: np.ndarray

    @property
    def coverage(self) -> float:
        """Fraction of the frames with this person."""
        return float(self.seen.mean()) if len(self.seen) else 0.0

    @property
    def height(self) -> float:
        """Median landmark extent, fraction of the image height, over the frames seen."""
        if not self.seen.any():
            return 0.0
        y = self.landmarks[self.seen, :, 1]
        return float(np.median(np.nanmax(y, axis=1) - np.nanmin(y, axis=1)))

    def first_seen_s(self, times_s: np.ndarray) -> float:
        return float(times_s[np.argmax(self.seen)]) if self.seen.any() else float("nan")


def _cost(cands: np.ndarray, prev: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(K, 33, 2) candidates vs (33, 2) last pose, isotropic units -> (distance / diagonal, distance - IoU)."""
    b, pb = _bbox(cands), _bbox(prev)
    diag = max(float(np.hypot(pb[2] - pb[0], pb[3] - pb[1])), 1e-6)
    dist = np.linalg.norm(cands[:, _HIPS].mean(1) - prev[_HIPS].mean(0), axis=-1) / diag
    iw = np.clip(np.minimum(b[:, 2], pb[2]) - np.maximum(b[:, 0], pb[0]), 0, None)
    ih = np.clip(np.minimum(b[:, 3], pb[3]) - np.maximum(b[:, 1], pb[1]), 0, None)
    inter = iw * ih
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    iou = inter / np.maximum(area + (pb[2] - pb[0]) * (pb[3] - pb[1]) - inter, 1e-12)
    return dist, dist - iou


def _distinct(iso: np.ndarray, presence: np.ndarray, same: float = 0.25) -> list[int]:
    """Indices of the candidates that are not a second reading of a better-present one (MediaPipe can report
    one body twice): greedy by presence, dropping any whose mid-hip lies within ``same`` of a kept one's
    bounding-box diagonal, or whose box overlaps it by more than half (IoU)."""
    keep: list[int] = []
    for c in np.argsort(-presence):
        apart = True
        for k in keep:
            dist, cost = _cost(iso[c:c + 1], iso[k])
            apart = apart and dist[0] > same and dist[0] - cost[0] < 0.5     # dist - cost = IoU
        if apart:
            keep.append(int(c))
    return sorted(keep)


def track_people(poses: list[np.ndarray], worlds: list[np.ndarray], times_s: np.ndarray, aspect: float,
                 max_jump: float = 1.0, reacquire_s: float = 1.0, min_seen_s: float = 0.5) -> list[PersonTrack]:
    """poses[t] (K_t, 33, 4) [x, y, visibility, presence] normalised, worlds[t] (K_t, 33, 3); aspect = width /
    height -> tracks, most present first. Tracks seen for less than ``min_seen_s`` in all (MediaPipe's
    occasional second, stretched reading of a body) are not people."""
    t_len = len(poses)
    last: list[tuple] = []                                   # per track: its memory (``_moved``)
    rows: list[dict[int, int]] = []                          # per track: frame -> candidate index
    for t, cands in enumerate(poses):
        cands = np.asarray(cands, np.float32).reshape(-1, skeleton.NUM_LANDMARKS, 4)
        iso = cands[..., :2] * np.array([aspect, 1.0], np.float32)
        distinct = set(_distinct(iso, cands[..., 3].mean(-1))) if len(cands) else set()
        pairs = []
        for k, memory in enumerate(last):
            if times_s[t] - memory[1] > reacquire_s or not len(cands):
                continue
            dist, cost = _cost(iso, _predicted(memory, float(times_s[t])))
            pairs += [(float(cost[c]), k, c) for c in distinct if dist[c] <= max_jump]
        used_tracks, used_cands = set(), set()
        for _, k, c in sorted(pairs):
            if k in used_tracks or c in used_cands:
                continue
            used_tracks.add(k)
            used_cands.add(c)
            rows[k][t] = c
            last[k] = _moved(last[k], iso[c], float(times_s[t]))
        for c in sorted(distinct):
            if c not in used_cands:
                rows.append({t: c})
                last.append(_moved(None, iso[c], float(times_s[t])))
    tracks = []
    for row in rows:
        lm = np.full((t_len, skeleton.NUM_LANDMARKS, 3), np.nan, np.float32)
        lm[..., 2] = 0.0
        world = np.full((t_len, skeleton.NUM_LANDMARKS, 3), np.nan, np.float32)
        presence = np.zeros(t_len, np.float32)
        seen = np.zeros(t_len, bool)
        for t, c in row.items():
            pose = np.asarray(poses[t], np.float32).reshape(-1, skeleton.NUM_LANDMARKS, 4)[c]
            lm[t] = pose[:, :3]
            world[t] = np.asarray(worlds[t], np.float32).reshape(-1, skeleton.NUM_LANDMARKS, 3)[c]
            presence[t] = max(float(pose[:, 3].mean()), 1e-6)
            seen[t] = True
        tracks.append(PersonTrack(seen, lm, world, presence))
    dt = float(np.median(np.diff(times_s))) if len(times_s) > 1 else 0.0
    tracks = [tr for tr in tracks if tr.seen.sum() * dt >= min_seen_s or tr.seen.sum() == t_len]
    tracks.sort(key=lambda tr: (-int(tr.seen.sum()), -tr.height))
    return tracks


__all__ = ["PersonTrack", "track_people"]
