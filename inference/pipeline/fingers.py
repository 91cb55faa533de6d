"""Finger joint angles and rotations from MediaPipe's 21 hand landmarks, without IK.

Hand frame (per frame, from the landmarks, ``hand_frame``): origin the wrist; ``y`` distal (wrist -> middle
knuckle); ``x`` across the knuckles, made perpendicular to ``y`` -- towards the thumb for a right hand and
away from it for a left hand, so that ``p = x × y`` points out of the palm for both and (x, y, p) is a
right-handed basis (a left hand is the mirror image of a right one: mirrored hands give the same numbers).

Each finger is a chain of three joints (``FINGER_CHAINS``: knuckle, middle, end; the thumb's are CMC, MCP,
IP), each turning the segment that starts at it. A joint's rotation, in its parent's frame (the hand frame
for the first joint of a finger, turned by ``THUMB_BASE`` for the thumb's), is ``R_p(a) R_x(f)``:
flexion ``f`` about x (turning y towards the palm, p) then spread ``a`` about p. Angles are reported
anatomically: ``flexion`` > 0 curls towards the palm, ``spread`` > 0 towards the thumb side (both hands).
``JOINT_LIMITS`` keep them plausible (fingers do not bend backwards; middle and end joints are hinges).

``finger_angles(world, side)``: (..., 21, 3) landmarks (any metric frame, e.g. MediaPipe's hand world
landmarks) -> (..., 5, 3, 2) radians [flexion, spread] per finger (``FINGERS`` order) and joint.
``angles_to_quats(angles, side)``: -> (..., 5, 3, 4) float64 wxyz local rotations (rest = straight, flat
hand: every segment along its parent's y), in the frame convention above.
``hand_points(angles, side, lengths)``: the inverse, landmarks of a hand frame posed by ``angles`` (tests,
ground truth).
"""
from __future__ import annotations

import numpy as np

from ..core import rotations as R
from ..core import skeleton

FINGERS = ("thumb", "index", "middle", "ring", "pinky")
_H = {n: i for i, n in enumerate(skeleton.MP_HAND_LANDMARK_NAMES)}
# (base landmark, joint 1, joint 2, joint 3, tip): segment k runs from chain[k + 1] to chain[k + 2]; joint k
# sits at chain[k + 1]. The thumb starts at the wrist (its CMC joint is landmark 1).
FINGER_CHAINS = np.array([
    [_H["wrist"], _H["thumb_cmc"], _H["thumb_mcp"], _H["thumb_ip"], _H["thumb_tip"]],
    [_H["wrist"], _H["index_finger_mcp"], _H["index_finger_pip"], _H["index_finger_dip"], _H["index_finger_tip"]],
    [_H["wrist"], _H["middle_finger_mcp"], _H["middle_finger_pip"], _H["middle_finger_dip"],
     _H["middle_finger_tip"]],
    [_H["wrist"], _H["ring_finger_mcp"], _H["ring_finger_pip"], _H["ring_finger_dip"], _H["ring_finger_tip"]],
    [_H["wrist"], _H["pinky_mcp"], _H["pinky_pip"], _H["pinky_dip"], _H["pinky_tip"]],
])
# degrees [[flexion min, max], [spread min, max]] per finger and joint
JOINT_LIMITS = np.deg2rad(np.array([
    [[[-30, 70], [-45, 60]], [[-15, 80], [0, 0]], [[-20, 90], [0, 0]]],      # thumb CMC, MCP, IP
    [[[-20, 100], [-25, 25]], [[0, 115], [0, 0]], [[-5, 90], [0, 0]]],       # index MCP, PIP, DIP
    [[[-20, 100], [-25, 25]], [[0, 115], [0, 0]], [[-5, 90], [0, 0]]],
    [[[-20, 100], [-25, 25]], [[0, 115], [0, 0]], [[-5, 90], [0, 0]]],
    [[[-20, 100], [-30, 30]], [[0, 115], [0, 0]], [[-5, 90], [0, 0]]],
], dtype=np.float64))
# The thumb's rest frame: the hand frame turned 40 degrees towards the thumb about p, then 30 degrees towards
# the palm about x (a relaxed thumb lies forwards and in front of the palm, not along the fingers).
_THUMB_SPREAD, _THUMB_FLEX = np.deg2rad(40.0), np.deg2rad(30.0)


def _rx(a):
    c, s = np.cos(a), np.sin(a)
    z, o = np.zeros_like(a), np.ones_like(a)
    return np.stack([np.stack([o, z, z], -1), np.stack([z, c, -s], -1), np.stack([z, s, c], -1)], -2)


def _rp(a):
    c, s = np.cos(a), np.sin(a)
    z, o = np.zeros_like(a), np.ones_like(a)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1), np.stack([z, z, o], -1)], -2)


def _side_sign(side: int) -> float:
    """+1 for a right hand (side 1), -1 for a left hand (side 0)."""
    if side not in (0, 1):
        raise ValueError(f"side must be 0 (left hand) or 1 (right hand), got {side}")
    return 1.0 if side == 1 else -1.0


def _spread_matrix(spread_anat, side):
    """R_p for an anatomical spread (towards the thumb > 0): R_p(a) moves y towards -x, x points radially for a
    right hand, so a = -spread there and +spread for a left hand."""
    return _rp(-_side_sign(side) * spread_anat)


THUMB_BASE = {s: _spread_matrix(np.float64(_THUMB_SPREAD), s) @ _rx(np.float64(_THUMB_FLEX)) for s in (0, 1)}


def hand_frame(world: np.ndarray, side: int) -> np.ndarray:
    """(..., 21, 3) -> (..., 3, 3) basis with columns x, y, p (module docstring)."""
    w = np.asarray(world, np.float64)
    y = w[..., _H["middle_finger_mcp"], :] - w[..., _H["wrist"], :]
    y /= np.maximum(np.linalg.norm(y, axis=-1, keepdims=True), 1e-12)
    radial = w[..., _H["index_finger_mcp"], :] - w[..., _H["pinky_mcp"], :]
    x = _side_sign(side) * radial
    x = x - np.sum(x * y, axis=-1, keepdims=True) * y
    x /= np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)
    return np.stack([x, y, np.cross(x, y)], axis=-1)


def finger_angles(world: np.ndarray, side: int, limits: bool = True) -> np.ndarray:
    """(..., 21, 3) landmarks -> (..., 5, 3, 2) radians [flexion, spread] (module docstring); NaN in, NaN out."""
    w = np.asarray(world, np.float64)
    frame = hand_frame(w, side)
    out = np.zeros(w.shape[:-2] + (5, 3, 2))
    for f in range(5):
        parent = frame @ THUMB_BASE[side] if f == 0 else frame
        for k in range(3):
            d = w[..., FINGER_CHAINS[f, k + 2], :] - w[..., FINGER_CHAINS[f, k + 1], :]
            d = np.einsum("...ji,...j->...i", parent, d)                   # in the parent's (x, y, p)
            d /= np.maximum(np.linalg.norm(d, axis=-1, keepdims=True), 1e-12)
            flex = np.arctan2(d[..., 2], np.hypot(d[..., 0], d[..., 1]))
            a = np.arctan2(-d[..., 0], d[..., 1])
            over = np.abs(a) > np.pi / 2                  # curled past 90 degrees: the same d as (a -/+ pi, pi - f)
            a = np.where(over, a - np.pi * np.sign(a), a)
            flex = np.where(over, np.sign(flex) * np.pi - flex, flex)
            spread = -_side_sign(side) * a
            if limits:
                flex = np.clip(flex, *JOINT_LIMITS[f, k, 0])
                spread = np.clip(spread, *JOINT_LIMITS[f, k, 1])
            out[..., f, k, 0], out[..., f, k, 1] = flex, spread
            parent = parent @ _spread_matrix(spread, side) @ _rx(flex)
    return out


def angles_to_matrices(angles: np.ndarray, side: int) -> np.ndarray:
    """(..., 5, 3, 2) radians -> (..., 5, 3, 3, 3) local rotation matrices R_p(a) R_x(f) (module docstring)."""
    a = np.asarray(angles, np.float64)
    return _spread_matrix(a[..., 1], side) @ _rx(a[..., 0])


def angles_to_quats(angles: np.ndarray, side: int) -> np.ndarray:
    """(..., 5, 3, 2) radians -> (..., 5, 3, 4) float64 wxyz local rotations (rest: a straight, flat hand)."""
    return R.matrix_to_quat(angles_to_matrices(angles, side))


def hand_points(angles: np.ndarray, side: int, lengths: np.ndarray, knuckles: np.ndarray) -> np.ndarray:
    """A hand posed by ``angles`` (5, 3, 2) in its own frame (x, y, p as columns of the identity): (21, 3) points.
    ``lengths`` (5, 3) segment lengths (m); ``knuckles`` (5, 3) the first joint of each finger (the thumb's CMC)."""
    pts = np.zeros((skeleton.NUM_HAND_LANDMARKS, 3))
    rot = angles_to_matrices(angles, side)
    for f in range(5):
        pts[FINGER_CHAINS[f, 1]] = knuckles[f]
        parent = THUMB_BASE[side] if f == 0 else np.eye(3)
        for k in range(3):
            parent = parent @ rot[f, k]
            pts[FINGER_CHAINS[f, k + 2]] = pts[FINGER_CHAINS[f, k + 1]] + lengths[f, k] * parent[:, 1]
    return pts
