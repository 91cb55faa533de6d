"""Export buttons of the 3D View panel: FBX (Blender's exporter, the rig and its Action) and BVH (the Uplift
skeleton's own motion, stored on the Action, through the runtime's BVH writer, in metres or centimetres)."""
from __future__ import annotations

import bpy

from ..inference.pipeline.motion_clip import clip_from_motion, write_atomically, write_clip_bvh
from ..inference.pipeline.run import PipelineError
from . import batch, compat, motion_store
from .operators import _SaysWhy, action_problem


class UPLIFT_OT_export_fbx(_SaysWhy, bpy.types.Operator):
    """Export the active armature and the Action it plays as FBX (Blender's exporter, baked, for game engines)"""
    bl_idname = "uplift.export_fbx"
    bl_label = "Export FBX"
    bl_options = {"REGISTER"}

    filepath: bpy.props.StringProperty(subtype="FILE_PATH")
    filter_glob: bpy.props.StringProperty(default="*.fbx", options={"HIDDEN"})
    target: bpy.props.EnumProperty(
        name="For", default="blender",
        items=[(k, k.title(), text) for k, text in batch.FBX_TARGET_HELP.items()])
    with_mesh: bpy.props.BoolProperty(name="With Meshes", default=True,
                                      description="Also export the meshes the armature deforms (its children)")

    @staticmethod
    def problem(context):
        return action_problem(context)

    def invoke(self, context, _event):
        if not self.filepath:
            self.filepath = bpy.path.ensure_ext(bpy.path.clean_name(context.active_object.name), ".fbx")
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context):
        path = bpy.path.ensure_ext(bpy.path.abspath(self.filepath), ".fbx")
        try:
            batch.export_fbx(context.active_object, path, self.target, self.with_mesh)
        except PipelineError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, f"Exported {context.active_object.name} to {path}")
        return {"FINISHED"}


def stored_motion_problem(context) -> str | None:
    """Why the BVH export is unavailable here (None: the active armature plays an Action Uplift made)."""
    why = action_problem(context)
    if why is not None:
        return why
    action = compat.object_action(context.active_object)[0]
    try:
        if motion_store.load_motion(action) is None:
            return f"Action {action.name!r} was not made by Uplift (it carries no stored motion)"
    except ValueError as exc:
        return str(exc)
    return None


class UPLIFT_OT_export_bvh(_SaysWhy, bpy.types.Operator):
    """Export the motion behind the active armature's Action as BVH, on the Uplift skeleton (any rig it drives)"""
    bl_idname = "uplift.export_bvh"
    bl_label = "Export BVH"
    bl_options = {"REGISTER"}

    filepath: bpy.props.StringProperty(subtype="FILE_PATH")
    filter_glob: bpy.props.StringProperty(default="*.bvh", options={"HIDDEN"})
    units: bpy.props.EnumProperty(
        name="Units", default="m", description="Offsets and root motion in metres or centimetres",
        items=[("m", "Metres", "Blender's own unit"), ("cm", "Centimetres", "What many game and mocap tools expect")])

    @staticmethod
    def problem(context):
        return stored_motion_problem(context)

    def invoke(self, context, _event):
        if not self.filepath:
            action = compat.object_action(context.active_object)[0]
            self.filepath = bpy.path.ensure_ext(bpy.path.clean_name(action.name), ".bvh")
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context):
        path = bpy.path.ensure_ext(bpy.path.abspath(self.filepath), ".bvh")
        action = compat.object_action(context.active_object)[0]
        m = motion_store.load_motion(action)
        clip = clip_from_motion(m.local_rot, m.root_translation, m.offsets, m.fps, m.source)
        clip.fingers, clip.finger_keyed = m.fingers, m.finger_keyed
        clip.keyed = m.keyed
        try:
            write_atomically(path, lambda tmp: write_clip_bvh(clip, tmp, units=self.units))
        except (OSError, PipelineError, ValueError) as exc:
            self.report({"ERROR"}, f"cannot write {path}: {exc}")
            return {"CANCELLED"}
        self.report({"INFO"}, f"Exported {action.name} ({len(m.frames)} frames, {self.units}) to {path}")
        return {"FINISHED"}


registry = [UPLIFT_OT_export_fbx, UPLIFT_OT_export_bvh]
