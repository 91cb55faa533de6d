"""Headless batch: the ``blend`` and ``fbx`` output formats and ``blender --background --command uplift_mocap ...``.

``write_blend(clip, path, rig=None, mapping=None)`` keys a clip in a scene of its own and writes just
that scene (with its armature, Action and, with ``rig``, the rig's objects) to ``path`` through
``bpy.data.libraries.write``; everything it made is removed from the open file again, so a batch
leaves the session as it found it. Synchronous: no timers, no modal operators.

``blender --background --command uplift_mocap convert VIDEO... -o OUTDIR --format blend,bvh
[--rig RIG.blend[:ARMATURE]] [--mapping PRESET]`` runs the same ``uplift`` command line as the venv
(``cli.commands.main``), registered with ``bpy.utils.register_cli_command``.
"""
from __future__ import annotations

import contextlib
from pathlib import Path

import bpy

from ..cli.commands import FBX_TARGETS as _FBX_TARGET_NAMES
from ..cli.convert import parse_rig_spec
from ..inference.pipeline.run import PipelineError
from . import animate

CLI_COMMAND = "uplift_mocap"
_ID_COLLECTIONS = ("objects", "armatures", "actions", "meshes", "materials", "collections", "scenes", "images",
                   "node_groups", "textures", "worlds", "cameras", "lights")
_handles: list = []


def _snapshot() -> dict[str, set]:
    return {name: set(getattr(bpy.data, name)) for name in _ID_COLLECTIONS}


def _remove_new(before: dict[str, set]) -> None:
    new = [idb for name, old in before.items() for idb in getattr(bpy.data, name) if idb not in old]
    if new:
        bpy.data.batch_remove(new)


def _free_names(path: Path) -> dict[str, str]:
    """Rename the session's objects that share a name with an object of the rig file (for as long as
    the batch writes, so the written file keeps the rig's own names); returns {temporary: original}."""
    if not path.is_file():
        return {}
    try:
        with bpy.data.libraries.load(str(path), link=False) as (src, _dst):
            names = list(src.objects)
    except OSError:
        return {}
    renamed = {}
    for name in names:
        obj = bpy.data.objects.get(name)
        if obj is not None and obj.library is None:
            obj.name = f"{name}.uplift-batch"
            renamed[obj.name] = name
    return renamed


def append_rig(path: Path, armature: str | None = None):
    """Append every object of ``path``; returns (armature object, appended objects). PipelineError
    when the file cannot be read or has no (such) armature."""
    if not path.is_file():
        raise PipelineError(f"rig file not found: {path}")
    try:
        with bpy.data.libraries.load(str(path), link=False) as (src, dst):
            names = list(src.objects)
            dst.objects = list(names)
    except OSError as exc:
        raise PipelineError(f"cannot read rig file {path}: {exc}") from exc
    for name, obj in zip(names, dst.objects):  # the rig's own names win over the session's (see _free_names)
        if obj is not None and obj.name != name and name not in bpy.data.objects:
            obj.name = name
    objs = dict(zip(names, dst.objects))
    arms = {n: o for n, o in objs.items() if o is not None and o.type == "ARMATURE"}
    if armature is not None:
        if armature not in arms:
            raise PipelineError(f"{path} has no armature {armature!r} (armatures: {', '.join(arms) or 'none'})")
        return arms[armature], [o for o in objs.values() if o is not None]
    if len(arms) != 1:
        raise PipelineError(f"{path} has {len(arms)} armatures ({', '.join(arms) or 'none'}): name one, "
                            f"e.g. --rig {path}:{next(iter(arms), 'Armature')}")
    return next(iter(arms.values())), [o for o in objs.values() if o is not None]


def check_rig(rig: str | None = None, mapping: str | None = None, **_options) -> None:
    """Before any video is processed: ValueError when ``rig`` (``RIG.blend[:ARMATURE]``) cannot be read or
    does not name exactly one armature (``mapping`` is checked by the command line)."""
    if not rig:
        return
    path, armature = parse_rig_spec(rig)
    if not path.is_file():
        raise ValueError(f"--rig: no such file: {path}")
    try:
        with bpy.data.libraries.load(str(path), link=False) as (src, _dst):
            names = list(src.objects)
    except OSError as exc:
        raise ValueError(f"--rig: cannot read {path}: {exc}") from None
    # object types are only known once appended; list the candidates by name in the message
    if armature is not None and armature not in names:
        raise ValueError(f"--rig: {path} has no object {armature!r} (objects: {', '.join(names) or 'none'})")


@contextlib.contextmanager
def _keyed_scene(clip, name: str, rig: str | None, mapping: str | None):
    """A new scene holding ``clip`` keyed onto our armature (or onto ``rig`` through ``mapping``), shown in
    the window while the block runs; yields (scene, AnimateResult). Everything made is removed afterwards."""
    before = _snapshot()
    renamed = _free_names(parse_rig_spec(rig)[0]) if rig else {}
    try:
        scene = bpy.data.scenes.new(name)
        num, base = _fps_fraction(clip.fps)
        scene.render.fps, scene.render.fps_base = num, base
        target = None
        if rig:
            target, objects = append_rig(*parse_rig_spec(rig))
            for obj in objects:
                scene.collection.objects.link(obj)
        scene.view_layers[0].objects.active = target
        with _window_scene(scene):
            res = animate.apply_clip(bpy.context, clip, name, 1.0, target, mapping or animate.AUTO_MAPPING,
                                     scene=scene)
            scene.frame_start = int(res.frame_range[0])
            scene.frame_end = max(int(round(res.frame_range[1])), scene.frame_start)
            yield scene, res
    finally:
        _remove_new(before)
        for tmp, original in renamed.items():
            bpy.data.objects[tmp].name = original


def write_blend(clip, path, rig: str | None = None, mapping: str | None = None) -> None:
    """Write ``clip`` keyed onto our armature (or onto ``rig``, through ``mapping``: a preset name or
    None for the saved / auto-detected mapping) as a .blend at ``path``. The scene gets the video's
    frame rate and the keyed frame range; the motion starts at frame 1."""
    path = Path(path)
    with _keyed_scene(clip, path.stem, rig, mapping) as (scene, _res):
        bpy.data.libraries.write(str(path), {scene}, compress=True)


# Axis and scale settings of Blender's FBX exporter per target application (names: cli.commands.FBX_TARGETS;
# documented in the user guide).
FBX_TARGETS = {
    "blender": {},
    "unity": dict(apply_scale_options="FBX_SCALE_ALL", axis_forward="-Z", axis_up="Y", bake_space_transform=True),
    "unreal": dict(apply_scale_options="FBX_SCALE_NONE", axis_forward="-Z", axis_up="Y"),
}
FBX_TARGET_HELP = {"blender": "Blender's own FBX defaults",
                   "unity": "Scale applied to the whole hierarchy, axis conversion baked in",
                   "unreal": "Forward -Z, up Y; Unreal's importer converts the axes"}
assert tuple(FBX_TARGETS) == _FBX_TARGET_NAMES == tuple(FBX_TARGET_HELP)


def write_fbx(clip, path, rig: str | None = None, mapping: str | None = None, target: str = "blender",
              with_mesh: bool = True) -> None:
    """Write ``clip`` as FBX through Blender's own exporter: the armature (ours, or ``rig`` keyed through
    ``mapping``) with its Action baked over the keyed frame range at the video's rate, the rig's meshes
    when ``with_mesh``, axes and scale for ``target`` (``FBX_TARGETS``)."""
    path = Path(path)
    with _keyed_scene(clip, path.stem, rig, mapping) as (scene, res):
        export_fbx(res.obj, path, target, with_mesh, scene=scene)


def export_fbx(obj, path, target: str = "blender", with_mesh: bool = True, scene=None) -> None:
    """Export armature ``obj`` with the Action it plays, baked over that Action's frame range, through
    Blender's FBX exporter (``FBX_TARGETS[target]`` axes and scale; child meshes when ``with_mesh``). The
    selection and the scene's frame range are restored afterwards. PipelineError when it fails."""
    if target not in FBX_TARGETS:
        raise PipelineError(f"unknown FBX target {target!r} (known: {', '.join(FBX_TARGETS)})")
    from . import compat

    scene = scene or bpy.context.scene
    action = compat.object_action(obj)[0]
    if action is None:
        raise PipelineError(f"armature {obj.name!r} plays no Action to export")
    layer = bpy.context.view_layer if scene == bpy.context.scene else scene.view_layers[0]
    selected = [o for o in scene.objects if o.select_get(view_layer=layer)]
    active, frames = layer.objects.active, (scene.frame_start, scene.frame_end)
    lo, hi = action.frame_range
    try:
        scene.frame_start, scene.frame_end = int(lo), max(int(round(hi)), int(lo))
        for o in scene.objects:
            o.select_set(o == obj or (with_mesh and o.type == "MESH" and o.parent == obj), view_layer=layer)
        layer.objects.active = obj
        result = bpy.ops.export_scene.fbx(
            filepath=str(path), use_selection=True, object_types={"ARMATURE", "MESH"} if with_mesh else {"ARMATURE"},
            add_leaf_bones=False, bake_anim=True, bake_anim_use_all_actions=False, bake_anim_use_nla_strips=False,
            bake_anim_force_startend_keying=True, bake_anim_simplify_factor=0.0, **FBX_TARGETS[target])
    finally:
        scene.frame_start, scene.frame_end = frames
        for o in scene.objects:
            o.select_set(o in selected, view_layer=layer)
        layer.objects.active = active
    if result != {"FINISHED"} or not Path(path).is_file():
        raise PipelineError(f"FBX export of {path} failed ({result})")


@contextlib.contextmanager
def _window_scene(scene):
    """Show ``scene`` in the first window while the block runs (edit-mode operators work on the
    window's scene and view layer), then the previous one again."""
    windows = list(bpy.context.window_manager.windows)
    if not windows:
        raise PipelineError("no Blender window to work in (expected one even in background mode)")
    window = bpy.context.window or windows[0]
    previous = window.scene
    window.scene = scene
    try:
        with bpy.context.temp_override(window=window):
            yield
    finally:
        window.scene = previous


def _fps_fraction(fps: float) -> tuple[int, float]:
    """Scene ``render.fps`` and ``fps_base`` for a rate (29.97 -> 30, 1.001)."""
    num = max(1, int(round(fps)))
    return num, num / float(fps) if fps > 0 else 1.0


def cli_command(argv) -> int:
    """``blender --command uplift_mocap ARGS``: the ``uplift`` command line inside Blender."""
    from ..cli.commands import main

    try:
        return main(list(argv))
    except SystemExit as exc:  # argparse errors and --help
        return int(exc.code or 0) if not isinstance(exc.code, str) else 2


def register():
    if hasattr(bpy.utils, "register_cli_command"):
        _handles.append(bpy.utils.register_cli_command(CLI_COMMAND, cli_command))


def unregister():
    while _handles:
        bpy.utils.unregister_cli_command(_handles.pop())


__all__ = ["CLI_COMMAND", "FBX_TARGETS", "append_rig", "check_rig", "export_fbx", "write_blend", "write_fbx",
           "cli_command"]
