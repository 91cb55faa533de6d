"""The synchronous core of "Animate from Strip": strip -> pipeline options, and a converted clip ->
keys on an armature. The modal operator (worker thread), the operator's execute path and headless
batch all end here, on Blender's main thread.

Time: the sequencer shows video frame k at scene frame ``strip.frame_start + k`` (whatever the scene's
rate), so a range of scene frames on the strip is the video time ``(frame - strip.frame_start) /
video_fps``. Keys go where the strip starts and play in real time at the scene's rate:
``frame = strip.frame_start + t * scene_fps`` (t = the sample's video timestamp, so variable frame rate
keeps its timing). When scene and video rates agree the keys sit exactly on the strip's frames.

Nothing is half-written: the armature "create ours" makes and the new Action are removed again when
keying fails; the user's existing Actions are never changed (a replaced one gets a fake user, so saving
the file does not drop it).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import bpy

from ..inference.pipeline.motion_clip import full_motion
from ..inference.pipeline.run import ConvertOptions, PipelineError
from ..inference.retarget.presets import preset_mapping
from . import armature as arm
from . import compat, keying, motion_store, rig_io

AUTO_MAPPING = "AUTO"


@dataclass
class StripSource:
    """What to convert from a movie strip: the absolute video path, its name, the scene frame of video
    frame 0 (``strip.frame_start``), the video's fps and the chosen range as video seconds."""
    path: Path
    name: str
    frame_start: float
    video_fps: float
    start_s: float
    end_s: float | None


@dataclass
class AnimateResult:
    """What keying made: the armature (``created`` when it is new), the new Action, the mapping used
    (preset name, confidence 0..1; "ours" for our own armature) and the keyed scene-frame range."""
    obj: object
    action: object
    created: bool
    preset: str
    confidence: float
    frame_range: tuple[float, float]
    warnings: list[str] = field(default_factory=list)


def strip_source(strip, scene, frame_range: tuple[int, int] | None = None) -> StripSource:
    """StripSource of a movie strip; ``frame_range`` = (first, last) scene frames inclusive (default the
    strip's visible part, ``frame_final_start`` .. ``frame_final_end - 1``). PipelineError with a
    one-line reason for a non-movie strip, a missing file or a range outside the strip."""
    if not compat.is_movie_strip(strip):
        raise PipelineError(f"strip {getattr(strip, 'name', strip)!r} is not a movie strip")
    path = Path(bpy.path.abspath(strip.filepath))
    if not path.is_file():
        raise PipelineError(f"video of strip {strip.name!r} not found: {path}")
    fps = float(getattr(strip, "fps", 0.0) or 0.0) or compat.scene_fps(scene)
    lo, hi = strip.frame_final_start, strip.frame_final_end - 1
    first, last = (lo, hi) if frame_range is None else (int(frame_range[0]), int(frame_range[1]))
    first, last = max(first, lo), min(last, hi)
    if last < first:
        raise PipelineError(f"frame range {frame_range[0]}-{frame_range[1]} does not overlap strip "
                            f"{strip.name!r} (frames {lo}-{hi})")
    start_s = max(0.0, (first - strip.frame_start) / fps)
    end_s = (last + 1 - strip.frame_start) / fps
    return StripSource(path, strip.name, float(strip.frame_start), fps, start_s, end_s)


def convert_options(source: StripSource, smoothing: float = 0.5, in_place: bool = False,
                    focal_mm: float | None = None, provider: str | None = None,
                    plant_feet: bool = True, workers: int | None = None,
                    detect_device: str = "cpu", camera_motion: str = "AUTO", person: int = -1,
                    hands: bool = True) -> ConvertOptions:
    """Pipeline options for a strip; focal_mm None or 0: the pipeline's default; workers None: automatic."""
    return ConvertOptions(start_s=source.start_s, end_s=source.end_s, smoothing=float(smoothing),
                          in_place=bool(in_place), focal_mm=focal_mm or None, provider=provider,
                          plant_feet=bool(plant_feet), workers=workers, detect_device=detect_device,
                          camera_motion=camera_motion.lower(), person=None if person < 0 else int(person),
                          hands=bool(hands))


def resolve_mapping(obj, preset: str = AUTO_MAPPING) -> tuple[str, dict[str, str], float]:
    """(preset, mapping, confidence) for a target rig: AUTO = the mapping saved on the armature, else
    auto-detected from bone names; a preset name = that preset on this rig's bones."""
    if preset == AUTO_MAPPING:
        return rig_io.mapping_for(obj)
    mapping, conf = preset_mapping(preset, *rig_io.bone_parents(obj))
    return preset, mapping, conf


def _keep_previous_action(obj) -> None:
    """Give the Action ``obj`` plays now a fake user when it has no other, so replacing it with a new
    one never loses it on save."""
    action, _ = compat.object_action(obj)
    if action is not None and action.users <= 1 and not action.use_fake_user:
        action.use_fake_user = True


def apply_clip(context, clip, name: str, frame_start: float, target=None, preset: str = AUTO_MAPPING,
               mapping: dict[str, str] | None = None, scene=None, video_fps: float | None = None) -> AnimateResult:
    """Key ``clip`` (MotionClip) as a new Action named ``name`` (``name.001`` when taken).

    target None: a new canonical armature sized to the clip's body ("create ours"); else an armature
    object, driven through the mapping (``mapping`` if given, else ``resolve_mapping(target, preset)``).
    Frames: ``frame_start + times_s * scene_fps`` (video time 0 at ``frame_start``); ``video_fps``
    (the strip's) only adds a warning when it differs from the scene's rate.
    """
    scene = scene or context.scene
    fps = compat.scene_fps(scene)
    frames = keying.times_to_frames(clip.times_s, frame_start, fps, time_origin_s=0.0)
    warnings = []
    if video_fps and abs(video_fps - fps) > 1e-3:
        warnings.append(f"scene runs at {fps:.4g} fps, the video at {video_fps:.4g} fps: keys play in real time, "
                        f"while the sequencer shows the video frame by frame")
    motion = full_motion(clip)                     # body, and fingers when the clip has them
    if target is None:
        obj = arm.create_canonical_armature(context, f"{name} Armature", motion.offsets)
        try:
            action = keying.key_motion_clip(obj, clip, name, scene=scene, frame_start=frame_start,
                                            time_origin_s=0.0)
        except Exception:
            data = obj.data
            bpy.data.objects.remove(obj)
            bpy.data.armatures.remove(data)
            raise
        preset, confidence, created = "ours", 1.0, True
    else:
        if getattr(target, "type", None) != "ARMATURE":
            raise PipelineError(f"target {getattr(target, 'name', target)!r} is not an armature")
        obj, created = target, False
        if mapping is None:
            preset, mapping, confidence = resolve_mapping(obj, preset)
        else:
            confidence = 1.0
        if "pelvis" not in mapping:
            raise PipelineError(f"armature {obj.name!r}: no bone mapped to the pelvis "
                                f"(map it in the 3D View sidebar, Uplift tab)")
        result = rig_io.retarget_onto(obj, motion.local_rot, motion.root_translation, motion.offsets, mapping,
                                      preset=preset)
        _keep_previous_action(obj)
        action = rig_io.key_result(obj, result, name, frames=frames, keyed=motion.keyed,
                                   constants=rig_io.preset_constants(obj, preset))
        if confidence < 1.0:
            warnings.append(f"bone mapping {preset!r} guessed with confidence {confidence:.0%}: check it in the "
                            f"3D View sidebar (Uplift tab)")
    motion_store.store_motion(action, clip, frames)
    keyed = frames[clip.keyed] if clip.keyed is not None and clip.keyed.any() else frames
    return AnimateResult(obj, action, created, preset, confidence, (float(keyed[0]), float(keyed[-1])), warnings)


def reapply_motion(context, action, target, preset: str = AUTO_MAPPING, name: str | None = None) -> AnimateResult:
    """Key the motion stored on ``action`` (made by Uplift) onto another armature ``target`` as a new
    Action (default name: the source Action's); the source Action is not changed."""
    stored = motion_store.load_motion(action)
    if stored is None:
        raise PipelineError(f"Action {action.name!r} has no Uplift motion to re-apply")

    fps = compat.scene_fps(context.scene)
    clip = SimpleNamespace(local_rot=stored.local_rot, root_translation=stored.root_translation,
                           offsets=stored.offsets, keyed=stored.keyed, fps=stored.fps, source=stored.source,
                           fingers=stored.fingers, finger_keyed=stored.finger_keyed,
                           times_s=(stored.frames - stored.frames[0]) / fps)   # keeps the stored frames
    return apply_clip(context, clip, name or action.name, float(stored.frames[0]), target, preset,
                      scene=context.scene)


def push_to_nla(obj) -> object:
    """Move the Action ``obj`` plays onto a new NLA track (named after it) and clear the active Action,
    like the Action editor's "Push Down"; returns the NLA strip. ValueError without an Action."""
    action, slot = compat.object_action(obj)
    if action is None:
        raise ValueError(f"{obj.name!r} plays no Action to push to the NLA")
    return compat.push_down_action(obj, action, slot)


__all__ = ["AUTO_MAPPING", "StripSource", "AnimateResult", "strip_source", "convert_options", "resolve_mapping",
           "apply_clip", "reapply_motion", "push_to_nla"]
