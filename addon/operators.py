"""Operators: "Animate from Strip" (modal, worker thread) and the rig-side tools (bone mapping,
re-apply to another rig, push to NLA). Disabled operators say why through ``poll_message_set``."""
from __future__ import annotations

import bpy

from ..inference.core import skeleton as S
from ..inference.pipeline.everyone import convert_everyone
from ..inference.pipeline.run import PipelineError, convert_video
from ..inference.retarget.presets import auto_detect
from . import animate, compat, jobs, motion_store, rig_io
from .preferences import get_preferences

# The one conversion that may run at a time (the panels read its status).
RUNNING: dict[str, jobs.ConvertJob | None] = {"job": None}


def running_job() -> jobs.ConvertJob | None:
    job = RUNNING["job"]
    return job if job is not None and job.outcome is None else None


def strip_problem(context) -> str | None:
    """Why "Animate from Strip" cannot run now (one line), or None when it can."""
    scene = context.scene
    strip = compat.active_strip(scene) if scene is not None else None
    if strip is None:
        return "Select a movie strip in the Sequencer"
    if not compat.is_movie_strip(strip):
        return f"The active strip {strip.name!r} is not a movie strip"
    settings = scene.uplift
    existing = settings.target == "EXISTING" and not settings.everyone   # everyone: new armatures
    if existing and settings.armature is None:
        return "Pick the armature to animate, or choose New Armature"
    if existing and settings.armature.type != "ARMATURE":
        return f"{settings.armature.name!r} is not an armature"
    if running_job() is not None:
        return "A conversion is already running (Esc cancels it)"
    return None


def armature_problem(context) -> str | None:
    obj = context.active_object
    if obj is None or obj.type != "ARMATURE":
        return "Make an armature the active object"
    return None


def action_problem(context) -> str | None:
    """Why there is no armature with an Action to work on (one line), or None."""
    why = armature_problem(context)
    if why is None and compat.object_action(context.active_object)[0] is None:
        why = "The active armature plays no Action"
    return why


def _provider(context) -> str | None:
    prefs = get_preferences(context)
    return "cpu" if prefs is not None and prefs.onnx_provider == "CPU" else None


def _detect_device(context) -> str:
    """"gpu" when the preferences ask for MediaPipe's GPU delegate, else "cpu"."""
    prefs = get_preferences(context)
    return "gpu" if prefs is not None and getattr(prefs, "detect_device", "CPU") == "GPU" else "cpu"


def _workers(context) -> int | None:
    """Detection processes from the preferences (None: automatic)."""
    prefs = get_preferences(context)
    n = int(getattr(prefs, "detect_workers", 0) or 0) if prefs is not None else 0
    return n or None


def _redraw_editors(context) -> None:
    for window in context.window_manager.windows:
        for area in window.screen.areas:
            if area.type in {"SEQUENCE_EDITOR", "VIEW_3D"}:
                area.tag_redraw()


class _SaysWhy:
    """poll() from ``problem(context) -> str | None``; a disabled button shows the reason."""

    @staticmethod
    def problem(context) -> str | None:
        return None

    @classmethod
    def poll(cls, context):
        why = cls.problem(context)
        if why:
            cls.poll_message_set(why)
        return why is None


class _RunsJob(_SaysWhy):
    """An operator whose long work runs in a ``jobs.ConvertJob`` worker thread (synchronous in background mode or
    from ``execute``): the main thread polls it on a timer, shows progress, and Esc cancels it.

    Subclasses give ``_prepare(context) -> (source, options)`` (raises PipelineError on bad input, before any
    work), ``_work() -> function`` (a plain function of a ConvertJob work's shape, so the thread never touches
    the operator) and ``_finish(context, result) -> set``; ``doing`` names the work in the status bar."""
    doing = "working"
    cancelled_text = "Cancelled"

    def execute(self, context):
        """Synchronous (scripts, background mode): prepare, work, finish."""
        try:
            source, options = self._prepare(context)
            result = self._work()(source.path, options)
        except PipelineError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        return self._finish(context, result)

    def invoke(self, context, event):
        if bpy.app.background:
            return self.execute(context)
        try:
            source, options = self._prepare(context)
        except PipelineError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self._job = RUNNING["job"] = jobs.ConvertJob(source.path, options, work=self._work()).start()
        wm = context.window_manager
        self._timer = wm.event_timer_add(0.1, window=context.window)
        wm.modal_handler_add(self)
        wm.progress_begin(0, 100)
        return {"RUNNING_MODAL"}

    def _end(self, context) -> None:
        wm = context.window_manager
        wm.event_timer_remove(self._timer)
        wm.progress_end()
        context.workspace.status_text_set(None)
        RUNNING["job"] = None
        _redraw_editors(context)

    def modal(self, context, event):
        job = self._job
        if event.type == "ESC" and event.value == "PRESS":
            job.cancel()
            self._end(context)
            self.report({"INFO"}, self.cancelled_text)
            return {"CANCELLED"}
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        outcome = job.poll()
        if outcome is None:
            context.window_manager.progress_update(int(100 * job.status.fraction))
            context.workspace.status_text_set(f"Uplift: {self.doing}, {job.status.text}  (Esc to cancel)")
            _redraw_editors(context)
            return {"PASS_THROUGH"}
        self._end(context)
        kind, payload = outcome
        if kind == "done":
            return self._finish(context, payload)
        if kind == "error":
            self.report({"ERROR"}, str(payload))
        return {"CANCELLED"}


class UPLIFT_OT_animate_strip(_RunsJob, bpy.types.Operator):
    """Detect the person in the active movie strip and key their motion onto an armature"""
    bl_idname = "uplift.animate_strip"
    bl_label = "Animate from Strip"
    bl_options = {"REGISTER", "UNDO"}
    problem = staticmethod(strip_problem)
    doing = "converting"
    cancelled_text = "Cancelled: nothing was written"

    def _prepare(self, context):
        scene, settings = context.scene, context.scene.uplift
        strip = compat.active_strip(scene)
        frame_range = None if settings.use_strip_range else (settings.frame_start, settings.frame_end)
        source = animate.strip_source(strip, scene, frame_range)
        options = animate.convert_options(source, settings.smoothing, settings.in_place, settings.focal_mm,
                                          _provider(context), settings.plant_feet, _workers(context),
                                          _detect_device(context), settings.camera_motion, settings.person,
                                          settings.hands)
        options.validate()
        self._source = source
        self._everyone = bool(settings.everyone)
        self._target_name = settings.armature.name if settings.target == "EXISTING" and not self._everyone else None
        self._preset = settings.preset
        return source, options

    def _finish(self, context, clip):
        if isinstance(clip, list):                       # everyone: a new armature and Action per person
            results = [self._finish_one(context, c, f"{self._source.name} person {c.info.get('person', k)}")
                       for k, c in enumerate(clip)]
            return {"FINISHED"} if all(r == {"FINISHED"} for r in results) else {"CANCELLED"}
        return self._finish_one(context, clip, self._source.name)

    def _finish_one(self, context, clip, name: str):
        target = None
        if self._target_name is not None:
            target = bpy.data.objects.get(self._target_name)
            if target is None:
                self.report({"ERROR"}, f"Armature {self._target_name!r} was removed during the conversion")
                return {"CANCELLED"}
        try:
            res = animate.apply_clip(context, clip, name, self._source.frame_start, target,
                                     self._preset, video_fps=self._source.video_fps)
        except (PipelineError, ValueError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        for warning in [*res.warnings, *clip.info.get("warnings", [])]:
            self.report({"WARNING"}, warning)
        for note in clip.info.get("notes", []):
            self.report({"INFO"}, note)
        info = clip.info
        self.report({"INFO"}, f"{res.action.name}: {clip.num_frames} frames on {res.obj.name} "
                              f"(frames {res.frame_range[0]:.0f}-{res.frame_range[1]:.0f}), person in "
                              f"{100 * info.get('detected_fraction', 0.0):.0f}% of frames; "
                              + ", ".join(f"{k} on {v}" for k, v in info.get("devices", {}).items()))
        return {"FINISHED"}

    def _work(self):
        return convert_everyone if self._everyone else convert_video


class _ArmatureOperator(_SaysWhy):
    problem = staticmethod(armature_problem)


class UPLIFT_OT_detect_mapping(_ArmatureOperator, bpy.types.Operator):
    """Guess the bone mapping of the active armature from its bone names and save it on the armature"""
    bl_idname = "uplift.detect_mapping"
    bl_label = "Detect Mapping"
    bl_options = {"REGISTER", "UNDO"}

    preset: bpy.props.StringProperty(name="Preset", default=animate.AUTO_MAPPING,
                                     description="AUTO: guess from the bone names; else a preset name")

    def execute(self, context):
        obj = context.active_object
        try:
            if self.preset == animate.AUTO_MAPPING:
                preset, mapping, conf = auto_detect(*rig_io.bone_parents(obj))
            else:
                preset, mapping, conf = animate.resolve_mapping(obj, self.preset)
            if not mapping:
                raise ValueError(f"no bone of {obj.name!r} matches the Uplift joints; map them by hand")
            rig_io.save_mapping(obj, mapping, preset)
        except (KeyError, ValueError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, f"{obj.name}: {len(mapping)} of {S.NUM_JOINTS} joints mapped ({preset}, "
                              f"confidence {conf:.0%})")
        return {"FINISHED"}


_BONE_ITEMS: list = []  # keeps dynamic EnumProperty strings alive (Blender requirement)


def _bone_items(_self, context):
    obj = context.active_object if context is not None else None
    _BONE_ITEMS[:] = [("__NONE__", "(not mapped)", "Leave this joint undriven")]
    if obj is not None and obj.type == "ARMATURE":
        _BONE_ITEMS.extend((b.name, b.name, "") for b in obj.data.bones)
    return _BONE_ITEMS


class UPLIFT_OT_set_mapping_bone(_ArmatureOperator, bpy.types.Operator):
    """Choose the bone that follows this Uplift joint (saved on the armature)"""
    bl_idname = "uplift.set_mapping_bone"
    bl_label = "Set Mapped Bone"
    bl_options = {"REGISTER", "UNDO"}
    bl_property = "bone"

    joint: bpy.props.StringProperty(name="Joint")
    bone: bpy.props.EnumProperty(name="Bone", items=_bone_items)

    def invoke(self, context, event):
        context.window_manager.invoke_search_popup(self)
        return {"RUNNING_MODAL"}

    def execute(self, context):
        obj = context.active_object
        if self.joint not in S.JOINT_NAMES:
            self.report({"ERROR"}, f"unknown Uplift joint {self.joint!r}")
            return {"CANCELLED"}
        mapping = dict(rig_io.mapping_for(obj)[1])
        if self.bone == "__NONE__":
            mapping.pop(self.joint, None)
        else:
            mapping[self.joint] = self.bone
        try:
            rig_io.save_mapping(obj, mapping, "custom")
        except ValueError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        return {"FINISHED"}


class UPLIFT_OT_clear_mapping(_ArmatureOperator, bpy.types.Operator):
    """Forget the bone mapping saved on the active armature (it is guessed from bone names again)"""
    bl_idname = "uplift.clear_mapping"
    bl_label = "Clear Saved Mapping"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        data = context.active_object.data
        if rig_io.UPLIFT_MAPPING_KEY in data:
            del data[rig_io.UPLIFT_MAPPING_KEY]
        return {"FINISHED"}


_ACTION_ITEMS: list = []


def _motion_action_items(_self, _context):
    _ACTION_ITEMS[:] = [(a.name, a.name, f"Motion from {motion_store.load_motion(a).source or 'video'}")
                        for a in motion_store.motion_actions()] or [("", "(none)", "No Uplift motion in this file")]
    return _ACTION_ITEMS


class UPLIFT_OT_reapply_motion(_SaysWhy, bpy.types.Operator):
    """Key the motion of an Uplift Action onto the active armature as a new Action (the source is kept)"""
    bl_idname = "uplift.reapply_motion"
    bl_label = "Re-apply Motion"
    bl_options = {"REGISTER", "UNDO"}

    action: bpy.props.EnumProperty(name="Motion", items=_motion_action_items,
                                   description="An Action made by Uplift")

    @staticmethod
    def problem(context):
        return armature_problem(context) or (None if motion_store.motion_actions() else
                                             "No Action made by Uplift in this file")

    def execute(self, context):
        action = bpy.data.actions.get(self.action)
        if action is None:
            self.report({"ERROR"}, f"no Action {self.action!r}")
            return {"CANCELLED"}
        try:
            res = animate.reapply_motion(context, action, context.active_object)
        except (PipelineError, ValueError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        for warning in res.warnings:
            self.report({"WARNING"}, warning)
        self.report({"INFO"}, f"{res.action.name} on {res.obj.name} ({res.preset}, {res.confidence:.0%})")
        return {"FINISHED"}


class UPLIFT_OT_push_to_nla(_SaysWhy, bpy.types.Operator):
    """Push the active armature's Action onto a new NLA track, so another take can be keyed on top"""
    bl_idname = "uplift.push_to_nla"
    bl_label = "Push to NLA"
    bl_options = {"REGISTER", "UNDO"}

    @staticmethod
    def problem(context):
        return action_problem(context)

    def execute(self, context):
        strip = animate.push_to_nla(context.active_object)
        self.report({"INFO"}, f"{strip.action.name} pushed to a new NLA track")
        return {"FINISHED"}


@bpy.app.handlers.persistent
def _cancel_on_load(*_args) -> None:
    """A file is being loaded: the modal operator of the old file is gone, so stop its worker."""
    job, RUNNING["job"] = RUNNING["job"], None
    if job is not None and job.outcome is None:
        job.cancel()


def register():
    bpy.app.handlers.load_pre.append(_cancel_on_load)


def unregister():
    if _cancel_on_load in bpy.app.handlers.load_pre:
        bpy.app.handlers.load_pre.remove(_cancel_on_load)
    _cancel_on_load()


registry = [UPLIFT_OT_animate_strip, UPLIFT_OT_detect_mapping, UPLIFT_OT_set_mapping_bone, UPLIFT_OT_clear_mapping,
            UPLIFT_OT_reapply_motion, UPLIFT_OT_push_to_nla]
