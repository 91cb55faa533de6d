"""Real mocap (any known BVH family) -> canonical motion: local rotations + root translation.

Frames: source BVH files are Y-up; they are turned into Blender's Z-up frame with
``BLENDER_FROM_BVH`` (x, y, z) -> (x, -z, y), the same axes Blender's BVH importer uses by default.

Method, per file:
1. Source FK gives world positions/rotations of every source joint; each canonical joint's
   position is a source joint or a point between two (see ``mocap.families``).
2. Rest alignment: in the source's own rest pose (all channels zero) a constant rotation R_j is
   found per canonical joint, top-down, so that the canonical T-pose bone direction maps onto the
   source rest bone direction with the smallest swing from the parent's alignment (this carries
   the source's bone twist through, whatever its bone rolls or rest pose).
3. Per frame: G_j = G_source(j) @ R_j, then a minimal swing so the bone points exactly at its
   child's source position (the root uses a least-squares fit to all its children).
4. Bone roll (twist about the bone, which positions do not fix and which the families disagree
   on: their rest poses carry different pre-rotations) is settled per clip, top-down, so the local
   rotations are on average closest to the rest pose (a hinge knee then bends about +X whatever the
   source). Leaves with no End Site get a whole constant rotation by the same rule.
5. Local rotations L_j = G_parent^T G_j; per-clip offsets from the source joint positions.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core import skeleton as sk
from ..core.frames import BLENDER_FROM_BVH
from .bvh import BVH, read_bvh
from .families import Family, detect_family, strip_namespace
from ..core.rotations import forward_kinematics, kabsch, matrix_to_quat, quat_apply, quat_to_matrix, rotation_between

SETTLE_SECONDS = 0.1  # cgspeed files ramp out of their added T-pose over a few frames


@dataclass
class CanonicalMotion:
    """Canonical-skeleton motion in Blender's frame.

    local_rot: (T, J, 4) float32 wxyz, rest-relative local rotations (skeleton.py convention)
    root_translation: (T, 3) float32 metres, pelvis position in the world (Z up, source floor)
    offsets: (J, 3) float32 metres, this performer's rest offsets in the canonical T-pose frame
        (bones along a parent's primary axis follow skeleton.REST_OFFSETS directions exactly;
        hip and shoulder offsets keep the performer's own geometry)
    """
    local_rot: np.ndarray
    root_translation: np.ndarray
    offsets: np.ndarray
    fps: float
    source: str = ""
    family: str = ""
    info: dict = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        return int(self.local_rot.shape[0])

    def joints(self) -> np.ndarray:
        """(T, J, 3) world joint positions, metres, by canonical FK."""
        return forward_kinematics(self.local_rot.astype(np.float64), self.root_translation.astype(np.float64),
                                  self.offsets.astype(np.float64), sk.PARENTS)[0]


@dataclass
class SourcePoints:
    """Where the canonical joints are in a source file, Blender axes, metres."""
    pos: np.ndarray          # (T, J, 3) canonical joint positions
    rot: np.ndarray          # (T, J, 3, 3) world rotation of each joint's driving source joint
    tail: np.ndarray         # (T, J, 3) point each bone points at (primary child or leaf tail)
    has_tail: np.ndarray     # (J,) bool, False for leaves without a usable tail
    rest_pos: np.ndarray     # (J, 3) canonical joint positions in the source rest pose
    rest_tail: np.ndarray    # (J, 3)


def _source_points(bvh: BVH, fam: Family) -> SourcePoints:
    c = BLENDER_FROM_BVH
    pos_f, rot_f = bvh.forward_kinematics()
    pos = pos_f @ c.T
    rot = c @ rot_f @ c.T
    rest = bvh.rest_positions() @ c.T
    idx = {strip_namespace(n): i for i, n in enumerate(bvh.names)}
    t_len, n = bvh.num_frames, sk.NUM_JOINTS
    out_pos, out_rot = np.zeros((t_len, n, 3)), np.zeros((t_len, n, 3, 3))
    rest_pos = np.zeros((n, 3))
    def point(ref: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(T, 3) and rest (3,) position of a source joint, or of its End Site for "X>"."""
        src = idx.get(ref.rstrip(">"))
        if src is None:
            return None
        if not ref.endswith(">"):
            return pos[:, src], rest[src]
        site = bvh.joints[src].end_site
        if site is None or np.linalg.norm(site) < 1e-6:
            return None
        site_b = c @ site
        return pos[:, src] + np.einsum("tij,j->ti", rot[:, src], site_b), rest[src] + site_b

    for j, name in enumerate(sk.JOINT_NAMES):
        spec = fam.joints[name]
        got = point(spec.at)
        if got is None:
            raise ValueError(f"{bvh.source}: {fam.name} joint {spec.at!r} for {name} has no position")
        out_pos[:, j], rest_pos[j] = got
        out_rot[:, j] = rot[:, idx[spec.at.rstrip(">")]]
        if spec.to:
            b = idx[spec.to]
            out_pos[:, j] = out_pos[:, j] + spec.t * (pos[:, b] - out_pos[:, j])
            rest_pos[j] = rest_pos[j] + spec.t * (rest[b] - rest_pos[j])
    tail, rest_tail = np.zeros_like(out_pos), np.zeros_like(rest_pos)
    has_tail = np.zeros(n, dtype=bool)
    for j, name in enumerate(sk.JOINT_NAMES):
        child = sk.PRIMARY_CHILD[j]
        if child >= 0:
            tail[:, j], rest_tail[j], has_tail[j] = out_pos[:, child], rest_pos[child], True
            continue
        ref = fam.joints[name].tail
        got = point(ref) if ref else None
        if got is not None:
            tail[:, j], rest_tail[j] = got
            has_tail[j] = np.linalg.norm(rest_tail[j] - rest_pos[j]) > 1e-6
    return SourcePoints(out_pos, out_rot, tail, has_tail, rest_pos, rest_tail)


def _bone_dirs() -> np.ndarray:
    """(J, 3) canonical rest direction of each joint's own bone (to primary child or leaf tail)."""
    d = np.zeros((sk.NUM_JOINTS, 3))
    for j in range(sk.NUM_JOINTS):
        c = sk.PRIMARY_CHILD[j]
        d[j] = sk.REST_OFFSETS[c] if c >= 0 else sk.LEAF_TAILS[j]
    return d / np.linalg.norm(d, axis=1, keepdims=True)


def _root_fit(children: list[int], src_dirs: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation taking the canonical rest directions of the root's children onto
    src_dirs (..., K, 3)."""
    v = sk.REST_OFFSETS[children]
    v = v / np.linalg.norm(v, axis=1, keepdims=True)
    d = src_dirs / np.maximum(np.linalg.norm(src_dirs, axis=-1, keepdims=True), 1e-9)
    return kabsch(v, d)


def _rest_alignment(sp: SourcePoints) -> np.ndarray:
    """(J, 3, 3) constant R_j with canonical G_j = G_source(j) @ R_j (source rest has G = I)."""
    dirs = _bone_dirs()
    kids = list(sk.CHILDREN[sk.ROOT])
    align = np.zeros((sk.NUM_JOINTS, 3, 3))
    align[0] = _root_fit(kids, sp.rest_pos[kids] - sp.rest_pos[0])
    for j in range(1, sk.NUM_JOINTS):
        parent_r = align[sk.PARENTS[j]]
        if not sp.has_tail[j]:
            align[j] = parent_r
            continue
        swing = quat_to_matrix(rotation_between(parent_r @ dirs[j], sp.rest_tail[j] - sp.rest_pos[j]))
        align[j] = swing @ parent_r
    return align


def _twist_fix(rel: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """(3, 3) twist about ``axis`` that brings local rotations rel (T, 3, 3) closest to the rest
    pose on average (max sum of traces, closed form). A twist about the bone axis never changes
    where the bone points, so positions are untouched; it only settles the bone roll."""
    skew = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    tr = np.trace(rel, axis1=-2, axis2=-1)
    vav = np.einsum("i,tij,j->t", axis, rel, axis)
    phi = np.arctan2(np.einsum("tij,ji->", rel, skew), np.sum(tr - vav))
    return np.cos(phi) * np.eye(3) + np.sin(phi) * skew + (1 - np.cos(phi)) * np.outer(axis, axis)


def _mean_fix(rel: np.ndarray) -> np.ndarray:
    """(3, 3) constant rotation making the mean of rel (T, 3, 3) closest to identity: for leaf
    joints whose direction the source does not give (no End Site), the average pose is the rest."""
    u, _, vt = np.linalg.svd(rel.sum(axis=0))
    r = u @ vt
    if np.linalg.det(r) < 0:
        u[:, 2] *= -1
        r = u @ vt
    return r.T


def convert_bvh(bvh: BVH, family: Family | None = None) -> CanonicalMotion:
    """Convert a parsed BVH (any known family) to canonical motion."""
    fam = family or detect_family(bvh.names)
    if bvh.dropped_tpose:
        settle = int(round(SETTLE_SECONDS * bvh.fps))
        if bvh.num_frames > 2 * settle:
            bvh = BVH(bvh.joints, bvh.frame_time, bvh.motion[settle:], bvh.scale, True, bvh.source)
    sp = _source_points(bvh, fam)
    dirs = _bone_dirs()
    align = _rest_alignment(sp)
    kids = list(sk.CHILDREN[sk.ROOT])
    glob = np.einsum("tjab,jbc->tjac", sp.rot, align)
    glob[:, 0] = _root_fit(kids, sp.pos[:, kids] - sp.pos[:, :1])
    for j in range(1, sk.NUM_JOINTS):
        if sp.has_tail[j]:
            cur = np.einsum("tab,b->ta", glob[:, j], dirs[j])
            swing = quat_to_matrix(rotation_between(cur, sp.tail[:, j] - sp.pos[:, j]))
            glob[:, j] = swing @ glob[:, j]
    for j in range(1, sk.NUM_JOINTS if fam.settle_roll else 1):
        rel = np.swapaxes(glob[:, sk.PARENTS[j]], -1, -2) @ glob[:, j]
        glob[:, j] = glob[:, j] @ (_twist_fix(rel, dirs[j]) if sp.has_tail[j] else _mean_fix(rel))
    local = glob.copy()
    par = sk.PARENTS[1:]
    local[:, 1:] = np.swapaxes(glob[:, par], -1, -2) @ glob[:, 1:]
    # This performer's offsets: each bone in its parent's canonical frame (median over frames).
    rel = np.einsum("tjba,tjb->tja", glob[:, par], sp.pos[:, 1:] - sp.pos[:, par])
    offsets = np.concatenate([np.zeros((1, 3)), np.median(rel, axis=0)])
    return CanonicalMotion(
        local_rot=matrix_to_quat(local).astype(np.float32),
        root_translation=sp.pos[:, 0].astype(np.float32),
        offsets=offsets.astype(np.float32),
        fps=bvh.fps, source=bvh.source, family=fam.name,
        info={"source_joints": sp.pos},
    )


def bone_direction_errors(motion: CanonicalMotion, source_joints: np.ndarray) -> np.ndarray:
    """(T, B) angle in degrees between each canonical bone (skeleton.BONES) after FK and the same
    bone in the source's own FK (source_joints (T, J, 3), canonical joints located in the source)."""
    fk = motion.joints()
    p, c = np.array(sk.BONES).T
    a = fk[:, c] - fk[:, p]
    b = source_joints[:, c] - source_joints[:, p]
    cos = np.sum(a * b, -1) / np.maximum(np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1), 1e-12)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def load_canonical(path: str | Path) -> CanonicalMotion:
    """Read a mocap BVH file (.bvh or .bvh.gz) and convert it to canonical motion."""
    return convert_bvh(read_bvh(path))


__all__ = ["BLENDER_FROM_BVH", "CanonicalMotion", "convert_bvh", "load_canonical", "bone_direction_errors",
           "quat_apply"]
