"""The one Blender-version shim (Blender 4.2 LTS ... 5.2 LTS): every API that differs between the
supported versions is reached through this module, branching on capabilities (version numbers only for
known crashes). No other module checks ``bpy.app.version``.

Actions:
    4.2/4.3   ``action.fcurves.new(path, index=i, action_group=...)``, ``action.id_root``; no slots.
    4.4+/5.x  slotted ("layered") actions: ``action.slots.new(id_type, name)``,
              ``action.layers.new(name).strips.new(type='KEYFRAME').channelbag(slot, ensure=True)
              .fcurves.new(path, index=i, group_name=...)``; ``Action.fcurves`` is gone in 5.0.
              An object plays an action through ``animation_data.action`` *and* ``.action_slot``.
Sequencer (VSE):
    4.2       ``scene.sequence_editor.sequences`` / ``sequences_all``, ``MovieSequence``.
    5.x       ``scene.sequence_editor.strips`` / ``strips_all``, ``MovieStrip``.
    Both: ``new_movie(name, filepath, channel, frame_start)``, movie strips have ``type == 'MOVIE'``.
Bone collections: ``armature.collections.new(name)`` / ``bcoll.assign(bone)`` (4.0+, all supported versions).
"""
from __future__ import annotations

import bpy
import numpy as np

# Slotted actions (Blender 4.4+): the only kind 5.x can key.
LAYERED_ACTIONS: bool = "slots" in bpy.types.Action.bl_rna.properties

MOVIE_STRIP_TYPE = "MOVIE"

# Blender 4.2 crashes at exit when a PointerProperty with a poll function was unregistered (seen with
# bpy 4.2.23); there pickers list every object and operators reject the wrong types themselves.
_POINTER_POLL_SAFE: bool = bpy.app.version >= (5, 0, 0)


def pointer_poll(poll) -> dict:
    """Keyword arguments for ``PointerProperty``: ``{"poll": poll}`` where that is safe, else none."""
    return {"poll": poll} if _POINTER_POLL_SAFE else {}


# --- scene ---------------------------------------------------------------------------------------
def scene_fps(scene) -> float:
    """Frames per second of ``scene`` (``render.fps / render.fps_base``, e.g. 29.97)."""
    return float(scene.render.fps) / float(scene.render.fps_base)


# --- actions -------------------------------------------------------------------------------------
def new_object_action(name: str, slot_name: str):
    """A new, empty Action for an Object, ready for ``new_fcurve``.

    Returns ``(action, slot)``; ``slot`` is None on Blender versions without slots. The name is made
    unique by Blender (``name.001`` ...), never replacing an existing Action.
    """
    action = bpy.data.actions.new(name)
    if not LAYERED_ACTIONS:
        action.id_root = "OBJECT"
        return action, None
    try:
        slot = action.slots.new(id_type="OBJECT", name=slot_name)
        layer = action.layers.new("Layer")
        layer.strips.new(type="KEYFRAME").channelbag(slot, ensure=True)
    except Exception:
        bpy.data.actions.remove(action)
        raise
    return action, slot


def _channelbags(action, slot=None, ensure: bool = False) -> list:
    bags = []
    for layer in action.layers:
        for strip in layer.strips:
            if slot is None:
                bags.extend(strip.channelbags)
            else:
                bag = strip.channelbag(slot, ensure=ensure)
                if bag is not None:
                    bags.append(bag)
                    if ensure:
                        return bags
    return bags


def new_fcurve(action, slot, data_path: str, index: int = 0, group: str = ""):
    """Create an F-curve for ``data_path[index]`` in ``action`` (for ``slot`` where slots exist),
    in channel group ``group`` (created when missing; "" = none)."""
    if not LAYERED_ACTIONS:
        return action.fcurves.new(data_path, index=index, action_group=group)
    bags = _channelbags(action, slot, ensure=True)
    if not bags:
        raise RuntimeError(f"action {action.name!r} has no keyframe strip to hold F-curves; "
                           "create it with compat.new_object_action")
    return bags[0].fcurves.new(data_path, index=index, group_name=group)


def action_fcurves(action, slot=None) -> list:
    """F-curves of ``action``: those of ``slot`` where slots exist (all slots when None)."""
    if not LAYERED_ACTIONS:
        return list(action.fcurves)
    return [fc for bag in _channelbags(action, slot) for fc in bag.fcurves]


def assign_action(obj, action, slot=None) -> None:
    """Make ``obj`` play ``action`` (None: no action) through ``slot`` where slots exist (None: Blender's
    pick), creating animation data."""
    ad = obj.animation_data or obj.animation_data_create()
    ad.action = action
    if LAYERED_ACTIONS and action is not None and slot is not None:
        ad.action_slot = slot


def object_action(obj):
    """``(action, slot)`` that ``obj`` plays, ``(None, None)`` without one (slot None before 4.4)."""
    ad = obj.animation_data
    if ad is None or ad.action is None:
        return None, None
    return ad.action, (ad.action_slot if LAYERED_ACTIONS else None)


def object_fcurves(obj) -> list:
    """F-curves of the action ``obj`` plays, restricted to its slot; [] without an action."""
    action, slot = object_action(obj)
    if action is None:
        return []
    if LAYERED_ACTIONS and slot is None:
        return []
    return action_fcurves(action, slot)


def push_down_action(obj, action, slot=None):
    """Put ``action`` (through ``slot`` where slots exist) on a new NLA track of ``obj`` named after it,
    starting at the action's first frame, and clear the active action; returns the NLA strip."""
    ad = obj.animation_data or obj.animation_data_create()
    track = ad.nla_tracks.new()
    track.name = action.name
    strip = track.strips.new(action.name, int(round(action.frame_range[0])), action)
    if LAYERED_ACTIONS and slot is not None:
        strip.action_slot = slot
    ad.action = None
    return strip


def set_keyframe_interpolation(keyframe_points, values) -> None:
    """Bulk-set ``Keyframe.interpolation`` from enum values (CONSTANT 0, LINEAR 1, BEZIER 2 ...).
    uint8 matches Blender's storage (a char) and is ~15x faster on 5.0; int32 is the fallback."""
    try:
        keyframe_points.foreach_set("interpolation", np.asarray(values, dtype=np.uint8))
    except (TypeError, ValueError):
        keyframe_points.foreach_set("interpolation", np.asarray(values, dtype=np.int32))


# --- sequencer (VSE) -----------------------------------------------------------------------------
def sequence_editor(scene, create: bool = True):
    """The scene's sequence editor (created when ``create``), or None."""
    if scene.sequence_editor is None and create:
        scene.sequence_editor_create()
    return scene.sequence_editor


def vse_strips(scene, recursive: bool = False) -> list:
    """Top-level strips of the scene's sequencer (inside meta strips too with ``recursive``)."""
    ed = scene.sequence_editor
    if ed is None:
        return []
    if hasattr(ed, "strips"):
        return list(ed.strips_all if recursive else ed.strips)
    return list(ed.sequences_all if recursive else ed.sequences)


def new_movie_strip(scene, name: str, filepath: str, channel: int = 1, frame_start: int = 1):
    """Add a movie strip showing ``filepath`` from ``frame_start`` (video frame 0) on ``channel``.

    Note: the sequencer shows video frame k at scene frame ``frame_start + k`` whatever the scene's
    frame rate (checked on 5.0.1), so video and scene agree in time only when their fps match."""
    ed = sequence_editor(scene)
    coll = ed.strips if hasattr(ed, "strips") else ed.sequences
    return coll.new_movie(name, filepath, channel, frame_start)


def is_movie_strip(strip) -> bool:
    return strip is not None and strip.type == MOVIE_STRIP_TYPE


def active_strip(scene):
    """The sequencer's active strip, or None."""
    ed = scene.sequence_editor
    return None if ed is None else ed.active_strip


# --- armatures -----------------------------------------------------------------------------------
def new_bone_collection(armature, name: str):
    """A new bone collection on ``armature`` (an Armature datablock); Blender makes the name unique."""
    return armature.collections.new(name)


def assign_bone_collection(bone_collection, bone) -> None:
    """Put ``bone`` (Bone or EditBone) into ``bone_collection``."""
    bone_collection.assign(bone)


__all__ = ["LAYERED_ACTIONS", "MOVIE_STRIP_TYPE", "scene_fps", "new_object_action", "new_fcurve", "action_fcurves",
           "assign_action", "object_action", "object_fcurves", "push_down_action", "set_keyframe_interpolation", "sequence_editor",
           "vse_strips", "new_movie_strip", "is_movie_strip", "active_strip", "new_bone_collection",
           "assign_bone_collection"]
