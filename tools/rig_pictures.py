"""Render the user guide's rig pictures: the motion Uplift made from the sample video, keyed onto each kind of
rig the add-on drives, three moments side by side per rig, rendered headless with Workbench.

    .venv/bin/python tools/rig_pictures.py [--out docs/images/rigs.jpg] [--frames 20,70,120]

The clip: ``convert_video`` of ``inference/samples/sample_walk.mp4`` (the rendered sample walk), keyed with ``addon.animate.apply_clip`` exactly as "Animate from Strip" does (auto-detected mapping).
Rigs: the Uplift armature; MakeHuman's Mixamo-named rig; MakeHuman's game-engine rig (Unreal names) with
the skinned MakeHuman body; a Rigify rig generated from Blender's human metarig (keyed on its FK controls).
Bones without a mesh are drawn as bone-shaped meshes parented to the deforming bones (Workbench renders no
armatures). Rows: one rig each, labelled with the preset the add-on picked.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "inference" / "samples" / "sample_walk.mp4"


def _bone_meshes(bpy, arm, only_deform: bool) -> None:
    """A thin four-sided bone shape (head to tail) for each (deforming) bone, parented to that bone."""
    mat = bpy.data.materials.new("bone_shape")
    mat.diffuse_color = (0.85, 0.55, 0.25, 1.0)
    for bone in arm.data.bones:
        if only_deform and not bone.use_deform:
            continue
        length, w = bone.length, 0.12 * bone.length
        verts = [(0, 0, 0), (w, 0.2 * length, 0), (0, 0.2 * length, w), (-w, 0.2 * length, 0), (0, 0.2 * length, -w),
                 (0, length, 0)]
        faces = [(0, 1, 2), (0, 2, 3), (0, 3, 4), (0, 4, 1), (5, 2, 1), (5, 3, 2), (5, 4, 3), (5, 1, 4)]
        me = bpy.data.meshes.new(f"shape_{bone.name}")
        me.from_pydata(verts, [], faces)
        me.materials.append(mat)
        ob = bpy.data.objects.new(f"shape_{bone.name}", me)
        bpy.context.scene.collection.objects.link(ob)
        ob.parent, ob.parent_type, ob.parent_bone = arm, "BONE", bone.name
        ob.location = (0.0, -length, 0.0)      # a bone child sits at the tail: move it back to the head


def _rig(bpy, kind: str):
    """(armature or None for the Uplift one, whether it needs bone shapes, only deforming bones)."""
    from uplift_mocap.dev.footage.render import body, makehuman

    if kind == "uplift":
        return None
    if kind == "rigify":
        import addon_utils

        addon_utils.enable("rigify", default_set=True)
        bpy.ops.object.armature_human_metarig_add()
        bpy.ops.pose.rigify_generate()
        rig = bpy.data.objects["rig"]
        meta = bpy.data.objects.get("metarig")
        if meta is not None:
            bpy.data.objects.remove(meta)
        return rig
    lift = (0.0, 0.0, -float(body.read_base_mesh().verts[:, 2].min()))
    arm = makehuman.build_armature_from_rig_json(makehuman.rig_json_path(kind), f"MH_{kind}",
                                                 offset=lift if kind == "game_engine" else None)
    if kind == "game_engine":
        body.build_body(arm, "game_engine", offset=lift)
    return arm


def render_rig(kind: str, clip, frames: list[int], out_dir: Path) -> tuple[str, list[Path]]:
    import bpy

    from uplift_mocap.addon import animate
    from uplift_mocap.dev.footage.render import stage

    stage.reset_scene()
    scene = bpy.context.scene
    scene.render.fps = int(round(clip.fps))
    target = _rig(bpy, kind)
    res = animate.apply_clip(bpy.context, clip, f"sample_{kind}", 1.0, target)
    if kind != "game_engine":
        _bone_meshes(bpy, res.obj, only_deform=kind in ("rigify", "mixamo"))
    stage.add_floor(scene)
    cam = stage.CameraSpec(yaw_deg=30.0, height=1.2, distance=3.4, focal_mm=35.0, width=480, height_px=480)
    cam_obj = stage.add_camera(scene, cam)
    stage.setup_render(scene, cam.width, cam.height_px, int(scene.render.fps), str(out_dir / "x.mp4"))
    im = scene.render.image_settings
    if "media_type" in im.bl_rna.properties:
        im.media_type = "IMAGE"
    im.file_format = "PNG"
    shots = []
    from mathutils import Matrix

    arm = res.obj
    bones = [b for b in arm.pose.bones if b.bone.use_deform] or list(arm.pose.bones)
    for f in frames:
        scene.frame_set(f)
        mw = np.array(arm.matrix_world)
        centre = np.mean([mw[:3, :3] @ np.array(b.head) + mw[:3, 3] for b in bones], axis=0)
        aim = stage.CameraSpec(cam.yaw_deg, cam.height, cam.distance, cam.focal_mm,
                               (float(centre[0]), float(centre[1]), 0.85), cam.width, cam.height_px)
        cam_obj.matrix_world = Matrix(aim.world_from_camera().tolist())
        scene.render.filepath = str(out_dir / f"{kind}_{f}.png")
        bpy.ops.render.render(write_still=True)
        shots.append(out_dir / f"{kind}_{f}.png")
    return res.preset, shots


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "images" / "rigs.jpg")
    ap.add_argument("--frames", default="20,70,120")
    args = ap.parse_args(argv)
    from uplift_mocap.inference.pipeline.run import convert_video

    clip = convert_video(SAMPLE)
    frames = [int(f) for f in args.frames.split(",")]
    rows = []
    with tempfile.TemporaryDirectory(prefix="uplift-rigs-") as tmp:
        for kind, label in (("uplift", "Uplift armature"), ("mixamo", "Mixamo names"),
                            ("game_engine", "Unreal names (MakeHuman game engine rig + body)"),
                            ("rigify", "generated Rigify rig")):
            preset, shots = render_rig(kind, clip, frames, Path(tmp))
            row = np.concatenate([cv2.imread(str(s)) for s in shots], axis=1)
            cv2.putText(row, f"{label}: preset {preset}", (12, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (20, 20, 20), 2,
                        cv2.LINE_AA)
            rows.append(row)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), np.concatenate(rows, axis=0), [cv2.IMWRITE_JPEG_QUALITY, 85])
    print(f"wrote {args.out}", flush=True)
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    os._exit(code)   # bpy 4.2.23 segfaults at interpreter exit once Rigify has been enabled
