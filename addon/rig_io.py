"""Armatures <-> the numpy retargeting (``inference.retarget``): read rest data, store the bone mapping,
pose or key the retargeted motion.

The mapping (canonical joint -> bone name) is kept on the armature data as a JSON string custom
property ``UPLIFT_MAPPING_KEY`` ({"version": 1, "preset": ..., "mapping": {...}}), so a mapping the
user edited once is reused by later (batch) conversions onto the same rig.
"""
from __future__ import annotations

import json

import numpy as np

from ..inference.core import skeleton as S
from ..inference.retarget import presets
from ..inference.retarget import transfer as rt

UPLIFT_MAPPING_KEY = "uplift_mapping"
_MAPPING_VERSION = 1


def _check_armature(obj) -> None:
    if obj is None or getattr(obj, "type", None) != "ARMATURE":
        raise ValueError(f"expected an armature object, got {getattr(obj, 'name', obj)!r} "
                         f"({getattr(obj, 'type', type(obj).__name__)})")


def _follows(obj, pose_bone):
    """The bone ``pose_bone`` copies whole (an enabled Copy Transforms constraint on this armature, world
    to world, full influence, no driver; e.g. Rigify's ORG bones follow their controls), else None."""
    driven = {d.data_path for d in (obj.animation_data.drivers if obj.animation_data else ())}
    for i, c in enumerate(pose_bone.constraints):
        if (c.type == "COPY_TRANSFORMS" and c.enabled and c.influence == 1.0 and c.target == obj
                and c.subtarget in obj.data.bones and c.owner_space == "WORLD" and c.target_space == "WORLD"
                and not any(p.startswith(f'pose.bones["{pose_bone.name}"].constraints') for p in driven)):
            return obj.data.bones[c.subtarget]
    return None


def read_rig(obj) -> rt.TargetRig:
    """Rest data of an armature object: bone names (parents first), parents, ``matrix_local``,
    lengths, and the object's world matrix. A bone that copies another's world transform whole
    (``_follows``) counts as that bone's child, as it moves with it."""
    _check_armature(obj)
    bones = list(obj.data.bones)
    parent = {b.name: b.parent for b in bones}
    for b in bones:
        leader = _follows(obj, obj.pose.bones[b.name])
        if leader is not None:
            up, cycle = leader, False
            while up is not None:                            # never make a bone its own ancestor
                cycle = cycle or up.name == b.name
                up = parent[up.name]
            if not cycle:
                parent[b.name] = leader
    pos = {b.name: i for i, b in enumerate(bones)}
    order, seen = [], set()
    for b in bones:                                          # parents before children
        chain = []
        while b is not None and b.name not in seen:
            chain.append(b)
            b = parent[b.name]
        for c in reversed(chain):
            seen.add(c.name)
            order.append(pos[c.name])
    bones = [bones[i] for i in order]
    index = {b.name: i for i, b in enumerate(bones)}
    return rt.TargetRig(
        names=tuple(b.name for b in bones),
        parents=np.array([index[parent[b.name].name] if parent[b.name] else -1 for b in bones], dtype=np.int64),
        rest=np.array([np.array(b.matrix_local) for b in bones], dtype=np.float64),
        lengths=np.array([b.length for b in bones], dtype=np.float64),
        object_matrix=np.array(obj.matrix_world, dtype=np.float64),
    )


def bone_parents(obj) -> tuple[list[str], list[str | None]]:
    """Bone names and each bone's parent name (None for roots), for ``auto_detect``."""
    _check_armature(obj)
    return [b.name for b in obj.data.bones], [b.parent.name if b.parent else None for b in obj.data.bones]


def save_mapping(obj, mapping: dict[str, str], preset: str = "custom") -> None:
    """Store a mapping on the armature data (JSON custom property); ValueError for unknown names."""
    _check_armature(obj)
    rt.mapped_joints(read_rig(obj), mapping)               # validates joints and bone names
    obj.data[UPLIFT_MAPPING_KEY] = json.dumps(
        {"version": _MAPPING_VERSION, "preset": preset, "mapping": dict(mapping)}, sort_keys=True)


def load_mapping(obj) -> tuple[str, dict[str, str]] | None:
    """(preset, mapping) stored on the armature, or None. Entries whose bone no longer exists are dropped."""
    _check_armature(obj)
    raw = obj.data.get(UPLIFT_MAPPING_KEY)
    if not raw:
        return None
    try:
        data = json.loads(raw)
        mapping = {str(k): str(v) for k, v in data["mapping"].items()}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{obj.name}: property {UPLIFT_MAPPING_KEY!r} is not a valid mapping ({exc})") from exc
    bones = obj.data.bones
    return str(data.get("preset", "custom")), {j: b for j, b in mapping.items() if b in bones}


def mapping_for(obj) -> tuple[str, dict[str, str], float]:
    """The stored mapping (confidence 1.0, the user's choice), else ``auto_detect`` on the bone names. A mapping
    stored before fingers existed (no finger joint in it) gets the finger bones ``auto_detect`` finds, where those
    bones are free."""
    stored = load_mapping(obj)
    if stored is None:
        return presets.auto_detect(*bone_parents(obj))
    preset, mapping = stored[0], dict(stored[1])
    if not any(j in S.FINGER_JOINT_NAMES for j in mapping):
        used = set(mapping.values())
        found = presets.auto_detect(*bone_parents(obj))[1]
        mapping.update({j: b for j, b in found.items() if j in S.FINGER_JOINT_NAMES and b not in used})
    return preset, mapping, 1.0


def retarget_onto(obj, local_rot, root_translation, offsets, mapping: dict[str, str] | None = None,
                  root_motion: bool = True, preset: str | None = None) -> rt.RetargetResult:
    """Retarget canonical motion (local_rot (T, J, 4) wxyz, root_translation (T, 3) m, offsets (J, 3) m)
    onto ``obj`` with ``mapping`` (default: ``mapping_for(obj)``); ``preset``: the rig's preset, for the bones its
    constraints move (``presets.PRESET_FOLLOWERS``)."""
    if mapping is None:
        preset, mapping, _ = mapping_for(obj)
    return rt.retarget(read_rig(obj), mapping, local_rot, root_translation, offsets, root_motion=root_motion,
                       followers=presets.PRESET_FOLLOWERS.get(preset or ""))


def preset_constants(obj, preset: str) -> dict[tuple[str, str], float]:
    """The rig settings ``preset`` needs while its keys play (``presets.PRESET_POSE_PROPERTIES``), for the
    bones of ``obj`` that have those properties: {(bone, property): value}."""
    wanted = presets.PRESET_POSE_PROPERTIES.get(preset, {})
    pose = obj.pose.bones
    return {(bone, prop): float(v) for bone, props in wanted.items() if bone in pose
            for prop, v in props.items() if prop in pose[bone].keys()}


def key_result(obj, result: rt.RetargetResult, action_name: str, frames=None, frame_start: float = 1.0,
               keyed=None, interpolation: str = "LINEAR", constants: dict | None = None):
    """Key ``result`` on ``obj`` as a new Action (through ``keying.write_bone_keys``); returns the Action.

    frames: (T,) scene frames (default frame_start, frame_start + 1, ...); keyed: (T,) bool, or (T, J) per
    canonical joint (``motion_clip.full_motion``: fingers keyed only where their hand was seen), or None;
    constants: {(bone, custom property): value} held in the Action (``preset_constants``).
    """
    from . import keying

    t = result.rotations.shape[0]
    frames = frame_start + np.arange(t, dtype=np.float64) if frames is None else np.asarray(frames, np.float64)
    bones = result.keyed_bones()
    index = {n: i for i, n in enumerate(result.names)}
    quats = result.rotations[:, [index[n] for n in bones]]
    if keyed is not None and np.ndim(keyed) == 2:
        keyed = np.asarray(keyed, bool)[:, [max(int(result.joints[index[n]]), 0) for n in bones]]
    root_loc = result.root_location if result.root_bone else None
    return keying.write_bone_keys(obj, action_name, bones, frames, quats, root_loc, keyed=keyed,
                                  interpolation=interpolation, constants=constants)
