"""Retarget canonical motion onto any humanoid armature without IK (numpy only, no bpy).

The target is described by its rest pose (``TargetRig``: Blender ``bone.matrix_local`` per bone,
armature space) and a mapping canonical joint name -> target bone name (``retarget.presets``).
Each mapped bone is turned so its WORLD direction (head -> tail) equals the canonical bone's world
direction (joint -> ``skeleton.PRIMARY_CHILD``, or ``skeleton.LEAF_TAILS`` for leaves), and its twist
follows the canonical joint's rotation:

    W_b(t) = G_j(t) @ A_b,   A_b = S_b @ Rest_b,   S_b = shortest arc from the target's rest
                                                         bone direction to the canonical one

(G_j: canonical world rotation; Rest_b: the bone's rest rotation in the world). A_b absorbs every
rest difference: A- vs T-pose, bone rolls, the rig's axis conventions and the object's rotation.
Unmapped bones keep their rest pose relative to their parent. Pose values follow Blender's pose-bone
convention (what goes into ``pose_bone.rotation_quaternion``): rotation relative to the bone's rest,
in the bone's own rest frame, W_b = W_parent @ Rest_parent^T @ Rest_b @ Q_b. Root motion moves the
bone mapped to the pelvis, scaled by the hip-height ratio (target / canonical).
Limits: constraints, drivers and bones that do not inherit rotation are not modelled.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..core import skeleton as sk
from ..core.rotations import (forward_kinematics, matrix_to_quat, quat_make_continuous, quat_to_matrix, rotation_between)

_Y = np.array([0.0, 1.0, 0.0])


@dataclass
class TargetRig:
    """A target armature's rest pose.

    names: (B,) bone names, parents before children; parents: (B,) int64, -1 for roots;
    rest: (B, 4, 4) float64 ``bone.matrix_local`` (armature space; columns X, Y = head -> tail, Z, head);
    lengths: (B,) float64 bone lengths (armature units); object_matrix: (4, 4) the armature object's
    world matrix (rotation, translation and uniform scale).
    """
    names: tuple[str, ...]
    parents: np.ndarray
    rest: np.ndarray
    lengths: np.ndarray
    object_matrix: np.ndarray = field(default_factory=lambda: np.eye(4))

    def __post_init__(self):
        b = len(self.names)
        self.parents = np.asarray(self.parents, dtype=np.int64)
        self.rest = np.asarray(self.rest, dtype=np.float64)
        self.lengths = np.asarray(self.lengths, dtype=np.float64)
        self.object_matrix = np.asarray(self.object_matrix, dtype=np.float64)
        if self.parents.shape != (b,) or self.rest.shape != (b, 4, 4) or self.lengths.shape != (b,):
            raise ValueError(f"TargetRig: {b} names need parents (B,), rest (B, 4, 4), lengths (B,); got "
                             f"{self.parents.shape}, {self.rest.shape}, {self.lengths.shape}")
        if self.object_matrix.shape != (4, 4):
            raise ValueError(f"TargetRig: object_matrix must be (4, 4), got {self.object_matrix.shape}")
        bad = [self.names[i] for i, p in enumerate(self.parents) if p >= i]
        if bad:
            raise ValueError(f"TargetRig: bones must come after their parents; out of order: {bad[:5]}")

    @property
    def index(self) -> dict[str, int]:
        return {n: i for i, n in enumerate(self.names)}

    def world_rest(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """World rest pose: rotations (B, 3, 3), heads (B, 3), tails (B, 3) (object matrix applied)."""
        lin = self.object_matrix[:3, :3]
        u, _, vt = np.linalg.svd(lin)                       # rotation part of the object matrix
        rot = np.einsum("ab,nbc->nac", u @ vt, self.rest[:, :3, :3])
        heads = self.rest[:, :3, 3] @ lin.T + self.object_matrix[:3, 3]
        tails = (self.rest[:, :3, 3] + self.rest[:, :3, 1] * self.lengths[:, None]) @ lin.T + self.object_matrix[:3, 3]
        return rot, heads, tails


def bone_matrix_from_roll(head, tail, roll) -> np.ndarray:
    """(B, 3), (B, 3), (B,) -> (B, 3, 3) Blender's bone rest rotation: shortest arc +Y -> head->tail,
    then ``roll`` radians about the bone (as ``EditBone.roll``)."""
    d = np.asarray(tail, dtype=np.float64) - np.asarray(head, dtype=np.float64)
    swing = quat_to_matrix(rotation_between(np.broadcast_to(_Y, d.shape), d))
    roll = np.asarray(roll, dtype=np.float64)
    c, s = np.cos(roll), np.sin(roll)
    z, o = np.zeros_like(roll), np.ones_like(roll)
    ry = np.stack([c, z, s, z, o, z, -s, z, c], axis=-1).reshape(roll.shape + (3, 3))
    return swing @ ry


def rig_from_heads_tails(names, parents, heads, tails, rolls, object_matrix=None) -> TargetRig:
    """TargetRig from edit-bone data (heads, tails (B, 3) armature space, rolls (B,) radians)."""
    heads = np.asarray(heads, dtype=np.float64)
    tails = np.asarray(tails, dtype=np.float64)
    rest = np.tile(np.eye(4), (len(names), 1, 1))
    rest[:, :3, :3] = bone_matrix_from_roll(heads, tails, rolls)
    rest[:, :3, 3] = heads
    return TargetRig(tuple(names), np.asarray(parents), rest, np.linalg.norm(tails - heads, axis=-1),
                     np.eye(4) if object_matrix is None else object_matrix)


def canonical_bone_vectors(offsets) -> np.ndarray:
    """(J, 3) rest vector of each canonical joint's bone: offset of its primary child, or its leaf tail.
    J: the body skeleton's joints or the full skeleton's (``skeleton.layout_for``)."""
    offsets = np.asarray(offsets, dtype=np.float64)
    if offsets.ndim != 2 or offsets.shape[1] != 3:
        raise ValueError(f"offsets: expected ({sk.NUM_JOINTS}, 3), got {offsets.shape}")
    lay = sk.layout_for(offsets.shape[0])
    child = lay.primary_child
    leaf = np.array([lay.leaf_tails.get(j, np.zeros(3)) for j in range(lay.size)])
    return np.where((child >= 0)[:, None], offsets[np.maximum(child, 0)], leaf)


def canonical_world_dirs(local_rot, offsets) -> np.ndarray:
    """(T, J, 4) rest-relative local rotations -> (T, J, 3) unit world direction of every canonical bone."""
    parents = sk.layout_for(np.shape(offsets)[0]).parents
    glob = forward_kinematics(np.asarray(local_rot, dtype=np.float64), np.zeros(3), offsets, parents)[1]
    d = np.einsum("tjab,jb->tja", glob, canonical_bone_vectors(offsets))
    return d / np.linalg.norm(d, axis=-1, keepdims=True)


@dataclass
class RetargetResult:
    """Pose values for a target rig.

    names: (B,) all target bones; rotations: (T, B, 4) float64 wxyz ``pose_bone.rotation_quaternion``
    (identity for unmapped bones); mapped: (B,) bool; root_bone: the bone carrying root motion (mapped
    to the pelvis) or None; root_location: (T, 3) its ``pose_bone.location`` (bone rest frame, armature
    units); scale: target / canonical hip height; joints: (B,) the canonical joint (full-skeleton index) driving
    each bone, -1 when unmapped.
    """
    names: tuple[str, ...]
    rotations: np.ndarray
    mapped: np.ndarray
    root_bone: str | None
    root_location: np.ndarray
    scale: float
    joints: np.ndarray | None = None      # (B,) int64 canonical joint driving each bone, -1 unmapped

    def keyed_bones(self) -> list[str]:
        """Mapped bones to key, the root bone first (the order ``keying.write_bone_keys`` expects)."""
        out = [n for n, m in zip(self.names, self.mapped) if m and n != self.root_bone]
        return ([self.root_bone] if self.root_bone else []) + out


def mapped_joints(rig: TargetRig, mapping: dict[str, str], num_joints: int = sk.NUM_FULL_JOINTS) -> np.ndarray:
    """(B,) canonical joint index driving each target bone, -1 if unmapped; ValueError on bad mapping.
    Finger joints (``skeleton.FULL_JOINT_NAMES``) beyond ``num_joints`` (motion without fingers) drive nothing."""
    index = rig.index
    out = np.full(len(rig.names), -1, dtype=np.int64)
    for joint, bone in mapping.items():
        if joint not in sk.FULL_JOINT_INDEX:
            raise ValueError(f"mapping: {joint!r} is not a canonical joint ({', '.join(sk.JOINT_NAMES)}, or a finger "
                             f"joint such as {sk.FINGER_JOINT_NAMES[0]})")
        if bone not in index:
            raise ValueError(f"mapping: target bone {bone!r} (for {joint}) is not in the armature")
        if out[index[bone]] >= 0:
            raise ValueError(f"mapping: bone {bone!r} is mapped twice")
        if sk.FULL_JOINT_INDEX[joint] < num_joints:
            out[index[bone]] = sk.FULL_JOINT_INDEX[joint]
    return out


def _low_points(heads: np.ndarray, tails: np.ndarray) -> float:
    """Lowest Z of the given bones' heads and tails (the feet), same measure on both skeletons."""
    return float(min(heads[:, 2].min(), tails[:, 2].min()))


def _root_motion(rig: TargetRig, mapping: dict[str, str], joint_of: np.ndarray, world_rot: np.ndarray,
                 pos: np.ndarray, offsets) -> tuple[str | None, np.ndarray, float]:
    """Root bone, its (T, 3) pose location and the hip-height scale.

    The anchor is the mid-point of the hip joints (thigh heads; the root bone's head when the thighs
    are not both mapped). The target anchor moves by scale x the canonical anchor's displacement from
    the canonical rest pose standing at the origin (soles on Z = 0), so the target stands at its own
    rest place when the performer stands at the origin. scale = target / canonical hip height above
    the lowest foot point.
    """
    t = world_rot.shape[0]
    roots = np.flatnonzero(joint_of == sk.ROOT)
    if not len(roots):
        return None, np.zeros((t, 3)), 1.0
    r = int(roots[0])
    rest_rot, heads, tails = rig.world_rest()
    thighs = [sk.JOINT_INDEX["thigh_l"], sk.JOINT_INDEX["thigh_r"]]
    feet = [sk.JOINT_INDEX[n] for n in ("foot_l", "foot_r", "toe_l", "toe_r")]
    rest_pos = sk.rest_positions(offsets)
    tail_vec = canonical_bone_vectors(offsets)
    standing = sk.ANKLE_HEIGHT - rest_pos[feet[:2], 2].min()    # pelvis height with soles on Z = 0
    tgt_thighs = [rig.index[mapping[sk.JOINT_NAMES[j]]] for j in thighs if sk.JOINT_NAMES[j] in mapping]
    feet_mapped = [j for j in feet if sk.JOINT_NAMES[j] in mapping]
    tgt_feet = [rig.index[mapping[sk.JOINT_NAMES[j]]] for j in feet_mapped]
    if len(tgt_thighs) == 2:
        src_anchor, src_rest = pos[:, thighs].mean(1), rest_pos[thighs].mean(0)
        tgt_rest = heads[tgt_thighs].mean(0)
    else:
        src_anchor, src_rest, tgt_rest = pos[:, sk.ROOT], np.zeros(3), heads[r]
    scale = 1.0
    if tgt_feet and len(tgt_thighs) == 2:
        src_low = _low_points(rest_pos[feet_mapped], rest_pos[feet_mapped] + tail_vec[feet_mapped])
        scale = (tgt_rest[2] - _low_points(heads[tgt_feet], tails[tgt_feet])) / (src_rest[2] - src_low)
    anchor = tgt_rest + scale * (src_anchor - (src_rest + [0.0, 0.0, standing]))
    delta = world_rot[:, r] @ rest_rot[r].T                      # (T, 3, 3) root rotation from rest
    head = anchor - np.einsum("tab,b->ta", delta, tgt_rest - heads[r])
    disp = np.linalg.solve(rig.object_matrix[:3, :3], (head - heads[r]).T).T    # armature space
    return rig.names[r], disp @ rig.rest[r, :3, :3], float(scale)     # rows: Rest_r^T @ disp


def retarget(rig: TargetRig, mapping: dict[str, str], local_rot, root_translation, offsets,
             root_motion: bool = True, followers: dict[str, str] | None = None) -> RetargetResult:
    """Canonical motion -> pose values for ``rig``.

    local_rot: (T, J, 4) wxyz rest-relative local rotations (skeleton.py convention; J the body's joints or
    the full skeleton's, ``skeleton.layout_for``); root_translation: (T, 3) metres, pelvis world position
    (floor at Z = 0); offsets: (J, 3) metres, the clip's rest offsets. Finger joints the rig lacks are skipped.
    followers: {canonical joint: bone} of bones that the rig itself moves with that joint (constraints, e.g. a
    generated Rigify rig's deform hand copies the FK hand control); they are not keyed, but the bones below them
    are posed relative to where they will be.
    """
    local_rot = np.asarray(local_rot, dtype=np.float64)
    if local_rot.ndim != 3 or local_rot.shape[2] != 4 or local_rot.shape[1] not in (sk.NUM_JOINTS, sk.NUM_FULL_JOINTS):
        raise ValueError(f"local_rot: expected (T, {sk.NUM_JOINTS} or {sk.NUM_FULL_JOINTS}, 4), got {local_rot.shape}")
    lay = sk.layout_for(local_rot.shape[1])
    root_translation = np.asarray(root_translation, dtype=np.float64)
    if root_translation.shape != (local_rot.shape[0], 3):
        raise ValueError(f"root_translation: expected ({local_rot.shape[0]}, 3), got {root_translation.shape}")
    joint_of = mapped_joints(rig, mapping, lay.size)
    follows = np.full(len(rig.names), -1, dtype=np.int64)
    for joint, bone in (followers or {}).items():
        if bone in rig.index and joint in mapping and sk.FULL_JOINT_INDEX[joint] < lay.size:
            follows[rig.index[bone]] = sk.FULL_JOINT_INDEX[joint]
    pos, glob = forward_kinematics(local_rot, root_translation, offsets, lay.parents)
    src_vec = canonical_bone_vectors(offsets)
    rest_rot, heads, tails = rig.world_rest()
    t, nb = local_rot.shape[0], len(rig.names)
    world = np.empty((t, nb, 3, 3))
    local = np.empty((t, nb, 3, 3))
    for b in range(nb):
        p, j = rig.parents[b], joint_of[b]
        # pose-free world rotation: the parent's current world rotation carries the rest offset
        free = rest_rot[b] if p < 0 else world[:, p] @ (rest_rot[p].T @ rest_rot[b])
        if j >= 0:
            align = quat_to_matrix(rotation_between(tails[b] - heads[b], src_vec[j])) @ rest_rot[b]
            world[:, b] = glob[:, j] @ align
            local[:, b] = np.swapaxes(free, -1, -2) @ world[:, b]    # = Rest_b^T Rest_p W_p^T W_b
        elif follows[b] >= 0:                        # moved by the rig's own constraints, not keyed
            align = quat_to_matrix(rotation_between(tails[b] - heads[b], src_vec[follows[b]])) @ rest_rot[b]
            world[:, b] = glob[:, follows[b]] @ align
            local[:, b] = np.eye(3)
        else:
            world[:, b] = free
            local[:, b] = np.eye(3)
    quats = np.empty((t, nb, 4))
    for b in range(nb):
        quats[:, b] = matrix_to_quat(local[:, b])
    quats = quat_make_continuous(quats, axis=0)
    if root_motion:
        root_bone, root_loc, scale = _root_motion(rig, mapping, joint_of, world, pos, offsets)
    else:
        roots = np.flatnonzero(joint_of == sk.ROOT)
        root_bone, root_loc, scale = (rig.names[roots[0]] if len(roots) else None), np.zeros((t, 3)), 1.0
    return RetargetResult(rig.names, quats, joint_of >= 0, root_bone, root_loc, scale, joint_of)


def pose_world(rig: TargetRig, rotations, root_bone: str | None = None, root_location=None):
    """Blender's pose FK in numpy: (T, B, 4) pose-bone quaternions (+ the root bone's (T, 3) location)
    -> world rotations (T, B, 3, 3) and world heads (T, B, 3) of every bone (object matrix applied)."""
    q = quat_to_matrix(np.asarray(rotations, dtype=np.float64))
    rest_rot, rest_heads, _ = rig.world_rest()
    t = q.shape[0]
    world = np.empty_like(q)
    heads = np.empty((t, len(rig.names), 3))
    r = rig.index[root_bone] if root_bone is not None else -1
    lin = rig.object_matrix[:3, :3]
    for b, p in enumerate(rig.parents):
        delta = np.broadcast_to(np.eye(3), (t, 3, 3)) if p < 0 else world[:, p] @ rest_rot[p].T
        heads[:, b] = rest_heads[b] if p < 0 else \
            heads[:, p] + np.einsum("tab,b->ta", delta, rest_heads[b] - rest_heads[p])
        if b == r and root_location is not None:   # location is in the bone's rest frame, armature units
            step = np.asarray(root_location, dtype=np.float64) @ (lin @ rig.rest[b, :3, :3]).T
            heads[:, b] += np.einsum("tab,tb->ta", delta, step)
        world[:, b] = delta @ rest_rot[b] @ q[:, b]
    return world, heads


def direction_errors_deg(target_dirs, joints, local_rot, offsets) -> np.ndarray:
    """(T, K) angle in degrees between target bone world directions (T, K, 3) and the canonical bones
    ``joints`` (K canonical names) of the motion (local_rot (T, J, 4), offsets (J, 3))."""
    target_dirs = np.asarray(target_dirs, dtype=np.float64)
    src = canonical_world_dirs(local_rot, offsets)[:, [sk.FULL_JOINT_INDEX[j] for j in joints]]
    if target_dirs.shape != src.shape:
        raise ValueError(f"target_dirs: expected {src.shape}, got {target_dirs.shape}")
    tgt = target_dirs / np.maximum(np.linalg.norm(target_dirs, axis=-1, keepdims=True), 1e-12)
    return np.degrees(np.arccos(np.clip(np.sum(tgt * src, axis=-1), -1.0, 1.0)))
