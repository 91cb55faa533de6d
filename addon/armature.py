"""The canonical armature: one bone per ``inference.core.skeleton`` joint, T-pose rest, clean rolls.

Bones are named ``skeleton.JOINT_NAMES`` (with finger offsets, ``skeleton.FULL_JOINT_NAMES``: the body's and
three per finger; ``skeleton.layout_for`` picks the tables by the number of offsets); bone j runs from joint j
(its head) to its primary child (``PRIMARY_CHILD``) or, for leaves, to joint + ``LEAF_TAILS`` (scaled to the body).
Heads are the rest FK of the offsets, raised so the soles (ankle - ``skeleton.ANKLE_HEIGHT``) sit on Z = 0.

Roll convention: each bone's rest frame (``bone.matrix_local``, armature space) is the shortest-arc
rotation taking +Y (Blender's bone axis) onto the bone's direction (the half turn about X for bones
pointing straight back along -Y, the toes). Spine, head, legs, feet and toes therefore keep X = world
+X (the character's left: bending forward, knees and ankles turn about bone X), and the arms keep
Z = world +Z. Because canonical rest frames are world-aligned, a canonical rest-relative
local rotation L_j maps to ``pose_bone.rotation_quaternion`` by the fixed per-bone change of basis
``q_basis = b_j^-1 * q_L * b_j`` (b_j = the bone's rest rotation; see ``keying.canonical_to_basis``),
and the root's location key is ``b_0^-1 (p - head_0)``.
"""
from __future__ import annotations

import bpy
import numpy as np
from mathutils import Matrix

from ..inference.core import rotations as R
from ..inference.core import skeleton as S
from . import compat

BONE_COLLECTIONS = ("Torso", "Arms", "Legs", "Fingers")


def _offsets(offsets) -> np.ndarray:
    off = S.REST_OFFSETS if offsets is None else np.asarray(offsets, dtype=np.float64)
    if off.ndim != 2 or off.shape[0] not in (S.NUM_JOINTS, S.NUM_FULL_JOINTS) or off.shape[1] != 3 \
            or not np.all(np.isfinite(off)):
        raise ValueError(f"offsets: expected finite ({S.NUM_JOINTS}, 3) or ({S.NUM_FULL_JOINTS}, 3) metres, got shape "
                         f"{np.shape(offsets)}")
    if np.any(S.bone_lengths(off)[1:] <= 1e-6):
        raise ValueError("offsets: every non-root joint needs a non-zero offset from its parent")
    return off


def rest_heads_tails(offsets=None) -> tuple[np.ndarray, np.ndarray]:
    """(J, 3) bone heads and (J, 3) tails, metres, armature space, T-pose standing on Z = 0."""
    off = _offsets(offsets)
    lay = S.layout_for(off.shape[0])
    heads = np.zeros_like(off)
    for j in range(1, lay.size):
        heads[j] = heads[lay.parents[j]] + off[j]
    feet = [S.JOINT_INDEX["foot_l"], S.JOINT_INDEX["foot_r"]]
    heads[:, 2] += S.ANKLE_HEIGHT - heads[feet, 2].min()
    scale = S.bone_lengths(off[:S.NUM_JOINTS]).sum() / S.bone_lengths().sum()
    tails = np.empty_like(heads)
    for j in range(lay.size):
        child = lay.primary_child[j]
        if child >= 0:
            tails[j] = heads[child]
        elif j < S.NUM_JOINTS:
            tails[j] = heads[j] + scale * lay.leaf_tails[j]
        else:                       # a finger's end: its own segment's proportion to the previous one
            tails[j] = heads[j] + lay.leaf_tails[j] * np.linalg.norm(off[j]) / np.linalg.norm(lay.rest_offsets[j])
    return heads, tails


def rest_bone_rotations(offsets=None) -> np.ndarray:
    """(J, 3, 3) rest rotation of each bone (armature space): shortest arc from +Y to head->tail."""
    heads, tails = rest_heads_tails(offsets)
    d = tails - heads
    q = R.rotation_between(np.broadcast_to([0.0, 1.0, 0.0], d.shape), d)
    # bones along -Y (toes): the half turn about X, so X stays the character's left like its neighbours
    backward = d[:, 1] < -(1.0 - 1e-9) * np.linalg.norm(d, axis=-1)
    q[backward] = [0.0, 1.0, 0.0, 0.0]
    return R.quat_to_matrix(q)


def bone_collection_of(j: int) -> str:
    """"Fingers" for finger joints, "Legs" for limbs hanging off the root, "Arms" for other side branches, else
    "Torso"."""
    if j >= S.NUM_JOINTS:
        return "Fingers"
    chain = j
    while S.PARENTS[chain] >= 0:
        parent = S.PARENTS[chain]
        if S.PRIMARY_CHILD[parent] != chain:
            return "Legs" if parent == S.ROOT else "Arms"
        chain = parent
    return "Torso"


def create_canonical_armature(context, name: str = "Uplift Armature", offsets=None, collection=None):
    """Create and return a new armature Object for the canonical skeleton (see module docstring).

    offsets: (J, 3) metres, ``skeleton.REST_OFFSETS`` scaled to the body (default: REST_OFFSETS), or the full
    skeleton's (``skeleton.full_offsets``) for an armature with finger bones.
    collection: where to link it (default ``context.collection``); must be in the view layer.
    Object and Armature names are made unique (``name.001`` ...); nothing existing is replaced.
    The object ends active and selected, in Object mode; all pose bones rotate by quaternion.
    """
    heads, tails = rest_heads_tails(offsets)
    rots = rest_bone_rotations(offsets)
    lay = S.layout_for(len(heads))
    collection = collection or context.collection
    view_layer = context.view_layer
    if context.object is not None and context.object.mode != "OBJECT":
        bpy.ops.object.mode_set(mode="OBJECT")

    data = bpy.data.armatures.new(name)  # Blender appends .001 ... on clashes
    obj = bpy.data.objects.new(name, data)
    try:
        collection.objects.link(obj)
        view_layer.update()  # sync view_layer.objects with the new link
        if obj.name not in view_layer.objects:
            raise ValueError(f"collection {collection.name!r} is not in view layer {view_layer.name!r}")
        for other in view_layer.objects:
            other.select_set(False)
        view_layer.objects.active = obj
        obj.select_set(True)
        obj.show_in_front = True
        used = {bone_collection_of(j) for j in range(lay.size)}
        bcolls = {n: compat.new_bone_collection(data, n) for n in BONE_COLLECTIONS if n in used}

        bpy.ops.object.mode_set(mode="EDIT")
        try:
            edit = []
            for j, joint in enumerate(lay.names):
                eb = data.edit_bones.new(joint)
                eb.head, eb.tail = heads[j].tolist(), tails[j].tolist()
                m = Matrix(rots[j].tolist()).to_4x4()
                m.translation = heads[j].tolist()
                eb.matrix = m  # keeps head and length, sets the roll
                parent = lay.parents[j]
                if parent >= 0:
                    eb.parent = edit[parent]
                    eb.use_connect = bool(lay.primary_child[parent] == j)
                compat.assign_bone_collection(bcolls[bone_collection_of(j)], eb)
                edit.append(eb)
        finally:
            bpy.ops.object.mode_set(mode="OBJECT")
        for pb in obj.pose.bones:
            pb.rotation_mode = "QUATERNION"
    except Exception:
        bpy.data.objects.remove(obj)
        bpy.data.armatures.remove(data)
        raise
    return obj


__all__ = ["BONE_COLLECTIONS", "rest_heads_tails", "rest_bone_rotations", "bone_collection_of",
           "create_canonical_armature"]
