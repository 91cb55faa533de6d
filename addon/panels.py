"""Sidebar panels: Sequencer > Uplift (the video side) and 3D View > Uplift (the rig side)."""
import bpy

from ..inference.core import skeleton as S
from . import compat, motion_store, rig_io
from .operators import running_job
from .people_list import draw_people


def _draw_progress(layout, job) -> None:
    layout.progress(factor=job.status.fraction, type="BAR", text=job.status.text)
    layout.label(text="Esc cancels; nothing is written until it finishes", icon="INFO")



def _mapped_text(mapping: dict) -> str:
    """"22/22 joints" (+ ", 30 finger bones" when the rig's fingers are mapped too)."""
    body = sum(j in S.JOINT_INDEX for j in mapping)
    fingers = len(mapping) - body
    return f"{body}/{S.NUM_JOINTS} joints" + (f", {fingers} finger bones" if fingers else "")

class SEQUENCER_PT_uplift(bpy.types.Panel):
    bl_space_type = "SEQUENCE_EDITOR"
    bl_region_type = "UI"
    bl_category = "Uplift"
    bl_label = "Animate from Video"

    def draw(self, context):
        layout = self.layout
        scene = context.scene
        settings = scene.uplift
        strip = compat.active_strip(scene)
        if not compat.is_movie_strip(strip):
            layout.label(text="Select a movie strip", icon="INFO")
        else:
            box = layout.box()
            box.label(text=strip.name, icon="FILE_MOVIE")
            fps = getattr(strip, "fps", 0.0)
            box.label(text=f"Frames {strip.frame_final_start}-{strip.frame_final_end - 1}"
                           + (f", {fps:.4g} fps" if fps else ""))
        layout.use_property_split = True
        layout.use_property_decorate = False
        col = layout.column()
        col.prop(settings, "target")
        if settings.target == "EXISTING":
            col.prop(settings, "armature")
            col.prop(settings, "preset")
            if settings.armature is not None and settings.armature.type == "ARMATURE":
                preset, mapping, conf = rig_io.mapping_for(settings.armature)
                col.label(text=f"{_mapped_text(mapping)} mapped ({preset}, {conf:.0%})",
                          icon="CHECKMARK" if conf >= 0.99 else "QUESTION")
        col = layout.column(heading="Range")
        col.prop(settings, "use_strip_range")
        if not settings.use_strip_range:
            sub = col.column(align=True)
            sub.prop(settings, "frame_start")
            sub.prop(settings, "frame_end")
        col = layout.column()
        col.prop(settings, "smoothing", slider=True)
        col.prop(settings, "in_place")
        sub = col.column()
        sub.active = not settings.in_place
        sub.prop(settings, "plant_feet")
        col.prop(settings, "hands")
        col.prop(settings, "everyone")
        sub = col.column()
        sub.active = not settings.everyone
        sub.prop(settings, "person")
        people = layout.column()
        people.active = not settings.everyone
        draw_people(people, context)
        col = layout.column()
        col.prop(settings, "camera_motion")
        col.prop(settings, "focal_mm")
        job = running_job()
        if job is not None:
            _draw_progress(layout, job)
        else:
            row = layout.row()
            row.scale_y = 1.5
            row.operator("uplift.animate_strip", icon="ARMATURE_DATA")


class VIEW3D_PT_uplift_rig(bpy.types.Panel):
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Uplift"
    bl_label = "Uplift Rig"

    def draw(self, context):
        layout = self.layout
        obj = context.active_object
        if obj is None or obj.type != "ARMATURE":
            layout.label(text="Select an armature", icon="INFO")
            return
        stored = rig_io.load_mapping(obj) is not None
        preset, mapping, conf = rig_io.mapping_for(obj)
        layout.label(text=f"Mapping: {preset}, {_mapped_text(mapping)} "
                          f"({'saved' if stored else f'guessed, {conf:.0%}'})",
                     icon="CHECKMARK" if stored or conf >= 0.99 else "QUESTION")
        row = layout.row(align=True)
        row.operator("uplift.detect_mapping", icon="VIEWZOOM")
        row.operator("uplift.clear_mapping", text="", icon="X")
        header, body = layout.panel("uplift_mapping_editor", default_closed=True)
        header.label(text="Bone Mapping")
        if body is not None:
            grid = body.grid_flow(columns=2, even_columns=True, align=True)
            for joint in S.JOINT_NAMES:
                grid.label(text=joint)
                op = grid.operator("uplift.set_mapping_bone", text=mapping.get(joint, "(not mapped)"),
                                   icon="BONE_DATA")
                op.joint = joint
        col = layout.column(align=True)
        if motion_store.motion_actions():
            col.operator_menu_enum("uplift.reapply_motion", "action", text="Re-apply Motion", icon="ANIM")
        else:
            col.label(text="No Uplift motion in this file yet")
        col.operator("uplift.push_to_nla", icon="NLA_PUSHDOWN")
        col.operator("uplift.export_fbx", icon="EXPORT")
        col.operator("uplift.export_bvh", icon="EXPORT")
        job = running_job()
        if job is not None:
            _draw_progress(layout, job)


registry = [SEQUENCER_PT_uplift, VIEW3D_PT_uplift_rig]
