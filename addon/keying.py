"""Write motion onto armatures as a new Action, in bulk (``keyframe_points.add`` + ``foreach_set``).

Two levels:
- ``write_bone_keys``: generic, for any rig: pose-space quaternions per bone (the values of
  ``pose_bone.rotation_quaternion``) and an optional root-bone location at given scene frames.
- ``key_motion_clip``: a canonical ``MotionClip`` onto an armature made by
  ``armature.create_canonical_armature`` (bones named ``skeleton.JOINT_NAMES``). The clip's world frame
  is the armature's object frame: with the object at the origin, unrotated and unscaled (as created),
  the pose matches the clip in the world; moving the object moves the whole performance.

Frame placement: scene frame = ``frame_start + (time_s - time_origin_s) * fps`` with fps the scene's
(``render.fps / fps_base``), so clips play in real time at any scene rate and variable-frame-rate video
keeps its timestamps; keys may land on fractional frames. Unkeyed samples get no keys.
Nothing is assigned until every F-curve is written; on any error the new Action is removed.
"""
from __future__ import annotations

import time

import bpy
import numpy as np

from ..inference.core import rotations as R
from ..inference.core import skeleton as S
from ..inference.pipeline.motion_clip import full_motion
from . import compat

INTERPOLATIONS = {"CONSTANT": 0, "LINEAR": 1, "BEZIER": 2}  # Keyframe.interpolation enum values


# --- pure numpy -----------------------------------------------------------------------------------
def times_to_frames(times_s, frame_start: float, fps: float, time_origin_s: float | None = None) -> np.ndarray:
    """(T,) seconds -> (T,) float64 scene frames: ``frame_start + (t - time_origin_s) * fps``.
    ``time_origin_s`` (the source time shown at ``frame_start``) defaults to ``times_s[0]``."""
    t = np.asarray(times_s, dtype=np.float64)
    if t.ndim != 1 or not t.size or not np.all(np.isfinite(t)):
        raise ValueError(f"times_s: expected a non-empty finite (T,) array, got shape {t.shape}")
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    origin = t[0] if time_origin_s is None else float(time_origin_s)
    return float(frame_start) + (t - origin) * float(fps)


def canonical_to_basis(local_rot, rest_rot) -> np.ndarray:
    """Canonical rest-relative local rotations -> pose-bone basis quaternions.

    local_rot: (T, J, 4) wxyz, rest-relative local (world-aligned rest frames, root = world rotation);
    rest_rot: (J, 3, 3) bone rest rotations in armature space (``bone.matrix_local``).
    Returns (T, J, 4) float64 wxyz ``b_j^-1 * q_j * b_j`` (a 4D isometry: hemisphere continuity
    of the input is kept).
    """
    q = np.asarray(local_rot, dtype=np.float64)
    b = R.matrix_to_quat(np.asarray(rest_rot, dtype=np.float64))
    if q.ndim != 3 or q.shape[1:] != (b.shape[0], 4):
        raise ValueError(f"local_rot: expected (T, {b.shape[0]}, 4), got {q.shape}")
    return R.quat_multiply(R.quat_conjugate(b), R.quat_multiply(R.quat_normalize(q), b))


def root_to_location(root_translation, rest_matrix) -> np.ndarray:
    """(T, 3) root joint positions (armature space) -> (T, 3) root pose-bone ``location``
    ``b_0^-1 (p - head_0)``; rest_matrix: (4, 4) the root bone's ``matrix_local``."""
    p = np.asarray(root_translation, dtype=np.float64)
    m = np.asarray(rest_matrix, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 3 or m.shape != (4, 4):
        raise ValueError(f"root_translation (T, 3) and rest_matrix (4, 4) expected, got {p.shape}, {m.shape}")
    return (p - m[:3, 3]) @ m[:3, :3]  # row form of R^T (p - h)


# --- bpy ------------------------------------------------------------------------------------------
def _check_keys(obj, bone_names, frames, quats, root_loc, keyed):
    if obj is None or obj.type != "ARMATURE":
        raise ValueError(f"expected an armature object, got {getattr(obj, 'type', obj)!r}")
    names = list(bone_names)
    missing = [n for n in names if n not in obj.pose.bones]
    if missing:
        raise ValueError(f"armature {obj.name!r} has no bones {missing}")
    if len(set(names)) != len(names):
        raise ValueError("bone_names has duplicates")
    frames = np.asarray(frames, dtype=np.float64)
    quats = np.asarray(quats, dtype=np.float64)
    if frames.ndim != 1 or not frames.size:
        raise ValueError(f"times_frames: expected a non-empty (T,) array, got shape {frames.shape}")
    t = frames.shape[0]
    if quats.shape != (t, len(names), 4):
        raise ValueError(f"quats: expected ({t}, {len(names)}, 4), got {quats.shape}")
    keyed = np.ones(t, bool) if keyed is None else np.asarray(keyed, dtype=bool)
    if keyed.shape == (t,):
        keyed = np.repeat(keyed[:, None], len(names), axis=1)
    elif keyed.shape != (t, len(names)):
        raise ValueError(f"keyed: expected ({t},) or ({t}, {len(names)}) bool, got {keyed.shape}")
    rows = keyed.any(axis=1)
    if root_loc is not None:
        root_loc = np.asarray(root_loc, dtype=np.float64)
        if root_loc.shape != (t, 3):
            raise ValueError(f"root_loc: expected ({t}, 3), got {root_loc.shape}")
        root_loc = root_loc[rows]
    frames, quats, keyed = frames[rows], quats[rows], keyed[rows]
    if not frames.size:
        raise ValueError("no keyed samples to write")
    if np.any(np.diff(frames) <= 0):
        raise ValueError("times_frames must increase strictly over the keyed samples")
    for label, arr in (("times_frames", frames), ("quats", quats[keyed]), ("root_loc", root_loc)):
        if arr is not None and not np.all(np.isfinite(arr)):
            raise ValueError(f"{label} has NaN or infinite values at keyed samples")
    if np.any(np.linalg.norm(quats[keyed], axis=-1) < 1e-6):
        raise ValueError("quats has zero-length quaternions at keyed samples")
    return names, frames, quats, root_loc, keyed


def _bone_path(name: str) -> str:
    return f'pose.bones["{bpy.utils.escape_identifier(name)}"]'


def _fill(fcurve, co: np.ndarray, ipo: int) -> None:
    points = fcurve.keyframe_points
    n = co.shape[0]
    points.add(n)
    points.foreach_set("co", co.ravel())
    compat.set_keyframe_interpolation(points, np.full(n, ipo, dtype=np.uint8))
    fcurve.update()


def write_bone_keys(obj, action_name: str, bone_names, times_frames, quats, root_loc=None, *,
                    root_bone: str | None = None, keyed=None, interpolation: str = "LINEAR",
                    constants: dict[tuple[str, str], float] | None = None):
    """Key pose bones of ``obj`` into a NEW Action and assign it; returns the Action.

    bone_names: (B,) pose bones to key; times_frames: (T,) scene frames (may be fractional), strictly
    increasing over keyed samples; quats: (T, B, 4) wxyz ``pose_bone.rotation_quaternion`` values
    (normalised and made hemisphere-continuous here); root_loc: (T, 3) ``location`` (bone rest space,
    metres) of ``root_bone`` (default bone_names[0]) or None; keyed: (T,) bool, False samples get no
    keys (default all), or (T, B) per bone (a bone without keyed samples gets one rest-pose key at the first keyed
    frame, so it does not keep whatever pose it had; the root location is keyed where any bone is); interpolation: "LINEAR" (default), "CONSTANT" or "BEZIER" (auto-clamped);
    constants: {(bone, custom property): value} held over the keyed range (e.g. Rigify's IK_FK switch),
    keyed in the Action so that the rig's own property values stay as they are.
    The Action is named ``action_name`` (Blender adds ``.001`` ... when taken; existing Actions are
    untouched). Keyed bones get rotation_mode QUATERNION. On error nothing is left behind.
    """
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"interpolation must be one of {sorted(INTERPOLATIONS)}, got {interpolation!r}")
    names, frames, quats, root_loc, keyed = _check_keys(obj, bone_names, times_frames, quats, root_loc, keyed)
    root_bone = names[0] if root_bone is None else root_bone
    if root_loc is not None and root_bone not in obj.pose.bones:
        raise ValueError(f"armature {obj.name!r} has no root bone {root_bone!r}")
    ipo = INTERPOLATIONS[interpolation]
    co = np.empty((frames.shape[0], 2), dtype=np.float32)
    co[:, 0] = frames

    action, slot = compat.new_object_action(action_name, obj.name)
    try:
        for b, name in enumerate(names):
            rows = keyed[:, b]
            if rows.any():
                q = R.quat_make_continuous(R.quat_normalize(quats[rows, b]), axis=0)
                bone_co = co[rows]
            else:                       # never keyed (a hand never seen): one rest key, not the last clip's pose
                q, bone_co = np.array([[1.0, 0.0, 0.0, 0.0]]), co[:1].copy()
            for i in range(4):
                bone_co[:, 1] = q[:, i]
                _fill(compat.new_fcurve(action, slot, f"{_bone_path(name)}.rotation_quaternion", i, name), bone_co,
                      ipo)
        if root_loc is not None:
            for i in range(3):
                co[:, 1] = root_loc[:, i]
                _fill(compat.new_fcurve(action, slot, f"{_bone_path(root_bone)}.location", i, root_bone), co, ipo)
        for (bone, prop), value in (constants or {}).items():
            ends = np.array([[frames[0], value], [frames[-1], value]], dtype=np.float32)
            path = f'{_bone_path(bone)}["{prop}"]'
            _fill(compat.new_fcurve(action, slot, path, 0, bone), ends, INTERPOLATIONS["CONSTANT"])
        previous = compat.object_action(obj)
        try:
            compat.assign_action(obj, action, slot)
        except Exception:
            compat.assign_action(obj, *previous)
            raise
    except Exception:
        bpy.data.actions.remove(action)
        raise
    for name in names:
        obj.pose.bones[name].rotation_mode = "QUATERNION"
    return action


def key_motion_clip(obj, clip, action_name: str, *, scene=None, frame_start: float | None = None,
                    time_origin_s: float | None = None, fps: float | None = None,
                    interpolation: str = "LINEAR"):
    """Key a canonical clip onto a canonical armature as a new Action; returns the Action.

    clip: a ``MotionClip`` or anything with ``local_rot`` (T, J, 4) wxyz rest-relative local (root =
    world rotation), ``root_translation`` (T, 3) m pelvis position, ``times_s`` (T,) s and optionally
    ``keyed`` (T,) bool, for ``skeleton.JOINT_NAMES``; its fingers (``fingers``, ``finger_keyed``) go onto the
    armature's finger bones when it has them (``motion_clip.full_motion``). Frames: ``frame_start`` (default the scene's
    start) + (times_s - time_origin_s (default times_s[0])) * fps (default the scene's fps); to line
    up with a movie strip of the source video pass its ``frame_start`` and ``time_origin_s=0``.
    """
    scene = scene or bpy.context.scene
    names = tuple(getattr(clip, "joint_names", S.JOINT_NAMES))
    if names != S.JOINT_NAMES:
        raise ValueError("clip joints differ from skeleton.JOINT_NAMES; retarget it instead")
    local_rot = np.asarray(clip.local_rot)
    if local_rot.ndim != 3 or local_rot.shape[1:] != (S.NUM_JOINTS, 4):
        raise ValueError(f"clip.local_rot: expected (T, {S.NUM_JOINTS}, 4), got {local_rot.shape}")
    missing = [n for n in names if n not in obj.data.bones] if obj.type == "ARMATURE" else list(names)
    if missing:
        raise ValueError(f"{obj.name!r} is not a canonical armature: missing bones {missing}")
    motion = full_motion(clip)
    if motion.local_rot.shape[1] > S.NUM_JOINTS and not all(n in obj.data.bones for n in S.FINGER_JOINT_NAMES):
        motion = full_motion(clip, fingers=False)                # an armature without finger bones: body only
    bones = [obj.data.bones[n] for n in motion.names]
    rest = np.array([np.array(b.matrix_local) for b in bones])  # (J, 4, 4) armature space
    quats = canonical_to_basis(motion.local_rot, rest[:, :3, :3])
    loc = root_to_location(clip.root_translation, rest[S.ROOT])
    frames = times_to_frames(clip.times_s, scene.frame_start if frame_start is None else frame_start,
                             compat.scene_fps(scene) if fps is None else fps, time_origin_s)
    return write_bone_keys(obj, action_name, motion.names, frames, quats, loc,
                           keyed=motion.keyed, interpolation=interpolation)


# --- benchmark ------------------------------------------------------------------------------------
def bench_keying(bones: int = 22, frames: int = 10000, repeats: int = 1, seed: int = 0) -> float:
    """Seconds ``write_bone_keys`` takes for ``bones`` bones x ``frames`` frames (quaternions on
    every bone, location on the first; the fastest of ``repeats`` runs) on a throwaway chain
    armature; removes what it made."""
    data = bpy.data.armatures.new("bench_keying")
    obj = bpy.data.objects.new("bench_keying", data)
    scene = bpy.context.scene
    scene.collection.objects.link(obj)
    action = None
    try:
        bpy.context.view_layer.objects.active = obj
        bpy.ops.object.mode_set(mode="EDIT")
        parent = None
        for b in range(bones):
            eb = data.edit_bones.new(f"b{b:03d}")
            eb.head, eb.tail = (0.0, 0.0, 0.1 * b), (0.0, 0.0, 0.1 * (b + 1))
            eb.parent = parent
            parent = eb
        bpy.ops.object.mode_set(mode="OBJECT")
        rng = np.random.default_rng(seed)
        quats = R.quat_normalize(rng.normal(size=(frames, bones, 4)))
        loc = rng.normal(size=(frames, 3))
        names = [f"b{b:03d}" for b in range(bones)]
        frame_numbers = np.arange(frames, dtype=np.float64) + 1.0
        best = float("inf")
        for _ in range(max(1, int(repeats))):
            t0 = time.perf_counter()
            action = write_bone_keys(obj, "bench_keying", names, frame_numbers, quats, loc)
            best = min(best, time.perf_counter() - t0)
            bpy.data.actions.remove(action)
            action = None
        return best
    finally:
        if action is not None:
            bpy.data.actions.remove(action)
        bpy.data.objects.remove(obj)
        bpy.data.armatures.remove(data)


__all__ = ["INTERPOLATIONS", "times_to_frames", "canonical_to_basis", "root_to_location", "write_bone_keys",
           "key_motion_clip", "bench_keying"]
