"""Write canonical-skeleton motion as a standard Y-up BVH file.

Axes: the canonical Blender frame (Z up, facing -Y, left = +X) maps to BVH's Y-up frame by
Blender (x, y, z) -> BVH (x, z, -y), i.e. ``b = BVH_FROM_BLENDER @ v``; rotations are conjugated,
``R_bvh = BVH_FROM_BLENDER @ R @ BVH_FROM_BLENDER.T``. Blender's own importer with its defaults (forward -Z, up Y,
scale 1, rotation NATIVE, frame start 1) undoes this exactly, so file frame ``i`` lands on
Blender frame ``1 + i`` with the joints where ``rotations.forward_kinematics`` puts them.

Layout: every joint's bone rest frame is world-aligned, so a joint's Euler channels are its
rest-relative local rotation in the (axis-changed) parent frame. The root has 6 channels
(X/Y/Z position, then rotation), every other joint 3 rotation channels; the root OFFSET is
zero and its position channels hold the root translation. Joints are written depth-first,
which is the stored order for the canonical skeleton.
"""
from __future__ import annotations

import gzip
from pathlib import Path
from typing import IO

import numpy as np

from ..core import skeleton
from ..core.frames import BVH_FROM_BLENDER
from ..core.rotations import matrix_to_euler, quat_to_matrix

# Blender (x, y, z) -> BVH (x, z, -y); BVH -> Blender is BVH_FROM_BLENDER.T.
_UNIT_SCALE = {"m": 1.0, "cm": 100.0}
_EULER_ORDERS = ("XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX")


def _depth_first(parents: np.ndarray) -> list[int]:
    kids: list[list[int]] = [[] for _ in parents]
    for j, p in enumerate(parents):
        if p >= 0:
            kids[p].append(j)
    order, stack = [], [0]
    while stack:
        j = stack.pop()
        order.append(j)
        stack.extend(reversed(kids[j]))
    return order


def _known_tails(parents: np.ndarray) -> tuple[dict[int, np.ndarray], np.ndarray] | None:
    """(leaf tails, rest offsets) of the canonical body or full (body + fingers) skeleton, else None."""
    for par, tails, rest in ((skeleton.PARENTS, skeleton.LEAF_TAILS, skeleton.REST_OFFSETS),
                             (skeleton.FULL_PARENTS, skeleton.FULL_LEAF_TAILS, skeleton.FULL_REST_OFFSETS)):
        if len(parents) == len(par) and np.array_equal(parents, par):
            return tails, rest
    return None


def _end_site(j: int, offsets: np.ndarray, known) -> np.ndarray:
    """Leaf tail (3,) metres, Blender frame: the skeleton's leaf tail scaled with the bone, else half the bone."""
    length = float(np.linalg.norm(offsets[j]))
    if known is not None and j in known[0]:
        rest = float(np.linalg.norm(known[1][j]))
        return known[0][j] * (length / rest if rest > 0 else 1.0)
    return 0.5 * offsets[j] if length > 0 else np.array([0.0, 0.0, 0.1])


def _fmt(v: np.ndarray) -> str:
    return " ".join(f"{x:.6f}" for x in np.where(np.abs(v) < 5e-7, 0.0, v))   # no "-0.000000"


def _check_inputs(local_rot, root_translation, fps, offsets, names, parents, units, euler_order):
    local_rot = np.asarray(local_rot, dtype=np.float64)
    root_translation = np.asarray(root_translation, dtype=np.float64)
    parents = skeleton.PARENTS if parents is None else np.asarray(parents, dtype=np.int64)
    n = len(parents)
    if parents.ndim != 1 or n == 0 or parents[0] != -1 or np.any(parents[1:] < 0) \
            or np.any(parents[1:] >= np.arange(1, n)):
        raise ValueError(f"write_bvh: parents must be (J,) with parents[0] = -1 and 0 <= parents[j] < j, "
                         f"got {parents.tolist()}")
    if local_rot.ndim == 3 and local_rot.shape[1:] == (n, 4):
        local_rot = quat_to_matrix(local_rot)
    elif not (local_rot.ndim == 4 and local_rot.shape[1:] == (n, 3, 3)):
        raise ValueError(f"write_bvh: local_rot must be (T, {n}, 4) wxyz or (T, {n}, 3, 3), got {local_rot.shape}")
    t = local_rot.shape[0]
    if t == 0:
        raise ValueError("write_bvh: no frames (local_rot has T = 0)")
    if root_translation.shape != (t, 3):
        raise ValueError(f"write_bvh: root_translation must be ({t}, 3), got {root_translation.shape}")
    offsets = skeleton.REST_OFFSETS if offsets is None else np.asarray(offsets, dtype=np.float64)
    if offsets.shape != (n, 3):
        raise ValueError(f"write_bvh: offsets must be ({n}, 3) metres, got {offsets.shape}")
    if names is None:
        if n != skeleton.NUM_JOINTS:
            raise ValueError(f"write_bvh: names are required for a {n}-joint skeleton")
        names = skeleton.JOINT_NAMES
    names = [str(s) for s in names]
    if len(names) != n:
        raise ValueError(f"write_bvh: {len(names)} names for {n} joints")
    if len(set(names)) != n or any(not s or any(c.isspace() for c in s) or s in "{}" for s in names):
        raise ValueError(f"write_bvh: joint names must be unique, non-empty, without whitespace: {names}")
    if units not in _UNIT_SCALE:
        raise ValueError(f"write_bvh: units must be one of {sorted(_UNIT_SCALE)}, got {units!r}")
    if str(euler_order).upper() not in _EULER_ORDERS:
        raise ValueError(f"write_bvh: euler_order must be a permutation of XYZ, got {euler_order!r}")
    if not (np.isfinite(fps) and fps > 0):
        raise ValueError(f"write_bvh: fps must be positive, got {fps}")
    for what, arr in (("local_rot", local_rot), ("root_translation", root_translation), ("offsets", offsets)):
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"write_bvh: {what} has non-finite values")
    return local_rot, root_translation, float(fps), offsets, names, parents, str(euler_order).upper()


def bvh_text(local_rot: np.ndarray, root_translation: np.ndarray, fps: float,
             offsets: np.ndarray | None = None, names=None, parents=None,
             units: str = "m", euler_order: str = "ZXY") -> str:
    """The BVH file contents as a string; arguments as for write_bvh."""
    local_rot, root_t, fps, offsets, names, parents, order = _check_inputs(
        local_rot, root_translation, fps, offsets, names, parents, units, euler_order)
    scale = _UNIT_SCALE[units]
    known = _known_tails(parents)
    rot_chans = " ".join(f"{a}rotation" for a in order)
    kids = {j: [c for c in range(len(parents)) if parents[c] == j] for j in range(len(parents))}
    order_j = _depth_first(parents)

    out = ["HIERARCHY"]

    def emit(j: int, depth: int) -> None:
        ind = "\t" * depth
        if j == 0:
            out.extend([f"ROOT {names[j]}", "{", "\tOFFSET 0.000000 0.000000 0.000000",
                        f"\tCHANNELS 6 Xposition Yposition Zposition {rot_chans}"])
        else:
            out.extend([f"{ind}JOINT {names[j]}", f"{ind}{{",
                        f"{ind}\tOFFSET {_fmt(BVH_FROM_BLENDER @ offsets[j] * scale)}",
                        f"{ind}\tCHANNELS 3 {rot_chans}"])
        for c in kids[j]:
            emit(c, depth + 1)
        if not kids[j]:
            tail = BVH_FROM_BLENDER @ _end_site(j, offsets, known) * scale
            out.extend([f"{ind}\tEnd Site", f"{ind}\t{{", f"{ind}\t\tOFFSET {_fmt(tail)}", f"{ind}\t}}"])
        out.append(f"{ind}}}")

    emit(0, 0)
    t = local_rot.shape[0]
    out += ["MOTION", f"Frames: {t}", f"Frame Time: {1.0 / fps:.9g}"]

    # (T, J, 3, 3) Blender-frame local rotations -> BVH axes -> Euler degrees, unwrapped in time
    # so that interpolating tools do not spin through 360 degrees.
    r_bvh = BVH_FROM_BLENDER @ local_rot[:, order_j] @ BVH_FROM_BLENDER.T
    euler = np.degrees(np.unwrap(matrix_to_euler(r_bvh, order), axis=0))
    motion = np.concatenate([(root_t @ BVH_FROM_BLENDER.T) * scale, euler.reshape(t, -1)], axis=1)
    motion[np.abs(motion) < 5e-7] = 0.0   # no "-0.000000"
    row = " ".join(["%.6f"] * motion.shape[1]) + "\n"
    return "\n".join(out) + "\n" + (row * t) % tuple(motion.ravel().tolist())


def write_bvh(path: str | Path | IO[str], local_rot: np.ndarray, root_translation: np.ndarray,
              fps: float, offsets: np.ndarray | None = None, names=None, parents=None,
              units: str = "m", euler_order: str = "ZXY") -> None:
    """Write canonical motion as BVH (Y up, see module docstring).

    path: file path (``.gz`` suffix: gzip) or an open text stream.
    local_rot: (T, J, 4) wxyz (or (T, J, 3, 3)), rest-relative local, Blender frame.
    root_translation: (T, 3) metres, Blender frame. fps: frames per second.
    offsets: (J, 3) metres, Blender frame (default skeleton.REST_OFFSETS; row 0 ignored).
    names / parents: default the canonical skeleton (parents[j] < j).
    units: "m" (right size in Blender) or "cm" (lengths x 100, e.g. for MotionBuilder).
    euler_order: rotation channel order, default "ZXY"; angles in degrees.
    """
    text = bvh_text(local_rot, root_translation, fps, offsets, names, parents, units, euler_order)
    if hasattr(path, "write"):
        path.write(text)
        return
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
