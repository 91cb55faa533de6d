"""The performer's rest offsets from the uplifter's output: bone lengths plus where the branches attach.

The canonical skeleton (``skeleton.py``) fixes every rest direction. Along a limb or the spine that
is a convention the rotations absorb; but where several bones leave one joint (the pelvis: spine and
both hips; the chest: neck and both clavicles) the directions *are* proportions: how wide the hips
are, how far back the spine starts, how high the shoulders sit. A real body (or the rendered
MakeHuman body) differs from the canonical one there by 5-15 deg, and forcing the canonical
directions moves every joint above the pelvis by centimetres.

``measured_offsets`` keeps the canonical directions for single-child bones (lengths from the bone
length head) and measures each *branch* offset from the network's own joints in its parent's rest
frame, ``median_t G_parent(t)^T (J_child(t) - J_parent(t))`` over detected frames, made left/right
symmetric: the convention of the training mocap (``mocap.convert``: hip and shoulder offsets keep
the performer's geometry), which the bone-length head alone cannot express. The hip offsets also
absorb a steady pelvis-tilt bias of the network's root rotation, so the skeleton's joints follow
its joint head (on rendered validation footage: 81.8 -> 72.3 mm root-aligned MPJPE). A measured
branch offset that is implausible (more than ``max_angle_deg`` from the canonical direction, or
outside half..twice the canonical length) falls back to the canonical one.
Closed form, no optimisation; numpy only.
"""
from __future__ import annotations

import numpy as np

from ..core import skeleton as sk
from ..core.rotations import forward_kinematics

# Joints whose parent has more than one child: their offsets set the body's proportions.
BRANCH_JOINTS: tuple[int, ...] = tuple(c for c in range(1, sk.NUM_JOINTS) if len(sk.CHILDREN[sk.PARENTS[c]]) > 1)


def measured_offsets(joints: np.ndarray, local_rot: np.ndarray, bone_lengths: np.ndarray,
                     valid: np.ndarray | None = None, max_angle_deg: float = 45.0) -> np.ndarray:
    """Rest offsets (J, 3) float64 metres, canonical rest frame, of the body in a lifted clip.

    joints: (T, J, 3) m, any frame (e.g. the uplifter's camera frame, root-relative);
    local_rot: (T, J, 4) wxyz rest-relative local rotations whose root is expressed in that same
    frame; bone_lengths: (T, J) or (J,) m; valid: (T,) bool, the frames to measure on (default all).
    """
    joints = np.asarray(joints, np.float64)
    local_rot = np.asarray(local_rot, np.float64)
    t = joints.shape[0]
    if joints.shape != (t, sk.NUM_JOINTS, 3) or local_rot.shape != (t, sk.NUM_JOINTS, 4):
        raise ValueError(f"joints (T, {sk.NUM_JOINTS}, 3) and local_rot (T, {sk.NUM_JOINTS}, 4) expected, "
                         f"got {joints.shape} and {local_rot.shape}")
    valid = np.ones(t, bool) if valid is None else np.asarray(valid, bool)
    lengths = np.asarray(bone_lengths, np.float64)
    if lengths.ndim == 2:
        lengths = np.median(lengths[valid] if valid.any() else lengths, axis=0)
    offsets = sk.offsets_from_lengths(lengths)
    if not valid.any():
        return offsets
    p = sk.PARENTS
    branch = np.array(BRANCH_JOINTS)
    glob = forward_kinematics(local_rot[valid], np.zeros((int(valid.sum()), 3)), offsets, p)[1]
    j = joints[valid]
    local = np.einsum("tki,tk->ti", glob[:, p[branch]].reshape(-1, 3, 3),
                      (j[:, branch] - j[:, p[branch]]).reshape(-1, 3)).reshape(-1, len(branch), 3)
    fitted = np.median(local, axis=0)                                   # (B, 3)
    twin = {int(c): k for k, c in enumerate(branch)}
    fitted = (fitted + fitted[[twin[int(sk.MIRROR[c])] for c in branch]] * sk.MIRROR_SIGN) / 2.0
    canon = offsets[branch]
    norm_c, norm_f = np.linalg.norm(canon, axis=-1), np.linalg.norm(fitted, axis=-1)
    cos = np.sum(canon * fitted, axis=-1) / np.maximum(norm_c * norm_f, 1e-12)
    ok = (cos >= np.cos(np.radians(max_angle_deg))) & (norm_f >= 0.5 * norm_c) & (norm_f <= 2.0 * norm_c)
    offsets[branch[ok]] = fitted[ok]
    return offsets


__all__ = ["BRANCH_JOINTS", "measured_offsets"]
