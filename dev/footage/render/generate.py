"""Synthetic footage with exact ground truth: mocap BVH -> MakeHuman body -> Workbench render -> MP4 + npz.

    python -m uplift_mocap.dev.footage.render.generate BVH --out OUT.mp4 [--start-s S] [--seconds N]
        [--fps 30] [--yaw 45] [--cam-height 1.4] [--distance 6.5] [--focal-mm 35]
        [--width 640] [--height 480] [--rig cmu_mb] [--look-seed N] [--body-scale 1.0]
        [--camera-motion static|track|pan] [--finger-seed N] [--textured]

Steps: ``inference.mocap.convert.load_canonical`` (at its real rate, ``dev.training.bvh_fps``) -> sampled
at ``fps`` (nearest source frame) over
``[start_s, start_s + seconds)`` -> re-centred (the root path's mean X, Y moved to the origin) ->
``inference.retarget`` onto the MakeHuman rig (rest-pose compensation A- vs T-pose, root motion scaled
by the hip-height ratio) -> keyed with ``addon.rig_io.key_result`` -> the joints measured from the
evaluated rig -> camera aimed at the mean pelvis -> rendered. See ``ground_truth`` for the npz.
``body_scale`` scales the whole body (the armature object, about the origin):
heights other than MakeHuman's own; retargeting works in world units, so the npz's ``retarget_scale``
(performer -> rendered body hip height) includes it.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import bpy
import numpy as np

from ....inference.retarget import presets
from ....inference.core import skeleton as sk
from ...training.bvh_fps import source_fps
from ....inference.mocap.convert import load_canonical
from ....inference.pipeline.finger_motion import hand_to_skeleton
from ....inference.pipeline.fingers import angles_to_quats
from ..finger_poses import random_finger_angles
from ....inference.core.rotations import forward_kinematics
from ....addon import rig_io
from . import body, ground_truth, looks, makehuman, stage

SUPPORTED_RIGS = ("cmu_mb", "default", "game_engine")   # rigs whose JSON and weights fit base.obj


@dataclass
class FootageOptions:
    """What to render; lengths in metres, angles in degrees (camera: see ``stage.CameraSpec``)."""
    bvh: Path
    out: Path
    start_s: float = 0.0
    seconds: float | None = None      # None: to the end of the BVH
    fps: int = 30
    yaw: float = 45.0
    cam_height: float = 1.4
    distance: float = 6.5
    focal_mm: float = 35.0
    width: int = 640
    height: int = 480
    rig: str = "cmu_mb"
    target_height: float = 0.9        # height of the point the camera aims at, above the mean pelvis XY
    look_seed: int | None = None      # body shape and colours (``looks.sample_look``); None: the base body
    body_scale: float = 1.0           # uniform size of the whole body (1: MakeHuman's base height)
    camera_motion: str = "static"     # "static", "track" (travels with the actor) or "pan" (turns to follow)
    finger_seed: int | None = None    # moving fingers (``finger_poses``) from this seed; None: the rig's rest hands
    textured: bool = False            # tiles on the floor (``stage.add_floor_texture``): features for camera cues


@dataclass
class FootageResult:
    video: Path
    ground_truth: Path
    frames: int
    timings: dict = field(default_factory=dict)   # seconds: "build", "measure", "render"


def sample_motion(motion, start_s: float, seconds: float | None, fps: float):
    """Nearest source frame for each output frame: returns (source indices (T,), source times (T,))."""
    duration = motion.num_frames / motion.fps
    if not 0.0 <= start_s < duration:
        raise ValueError(f"start_s {start_s} outside the motion (0 .. {duration:.2f} s)")
    end = duration if seconds is None else min(duration, start_s + seconds)
    n = int(math.floor((end - start_s) * fps + 1e-6))
    if n < 1:
        raise ValueError(f"no frames to render between {start_s} s and {end:.2f} s at {fps} fps")
    times = start_s + np.arange(n) / fps
    idx = np.clip(np.round(times * motion.fps).astype(np.int64), 0, motion.num_frames - 1)
    return idx, idx / motion.fps


def _rig_bones(rig: str, armature) -> dict[str, str]:
    preset = presets.PRESETS.get(rig)
    if preset is None:
        preset = presets.auto_detect(*rig_io.bone_parents(armature))[1]
    return preset


def generate_clip(options: FootageOptions) -> FootageResult:
    """Render ``options.bvh`` to ``options.out`` (MP4) and its ground truth beside it (npz)."""
    o = options
    if o.rig not in SUPPORTED_RIGS:
        raise ValueError(f"rig {o.rig!r} not supported (its rest pose or weights do not fit the base mesh); "
                         f"use one of {SUPPORTED_RIGS}")
    if not 0.5 <= o.body_scale <= 2.0:
        raise ValueError(f"body_scale must be in [0.5, 2], got {o.body_scale}")
    out = Path(o.out).resolve()
    if out.suffix.lower() != ".mp4":
        raise ValueError(f"--out must end in .mp4, got {out.name}")
    out.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    motion = load_canonical(o.bvh)
    motion = dataclasses.replace(motion, fps=source_fps(o.bvh, motion.fps))   # headers that lie (salsa)
    idx, src_times = sample_motion(motion, o.start_s, o.seconds, o.fps)
    local_rot = motion.local_rot[idx].astype(np.float64)
    root = motion.root_translation[idx].astype(np.float64)
    root[:, :2] -= root[:, :2].mean(axis=0)
    offsets = motion.offsets.astype(np.float64)

    stage.reset_scene()
    scene = bpy.context.scene
    lift = (0.0, 0.0, -float(body.read_base_mesh().verts[:, 2].min()))   # soles on Z = 0
    arm = makehuman.build_armature_from_rig_json(makehuman.rig_json_path(o.rig), "FootageRig", offset=lift)
    look = looks.sample_look(o.look_seed)
    skin = body.build_body(arm, o.rig, offset=lift, look=look)
    arm.scale = (o.body_scale,) * 3      # the root path is centred on the origin: scaled about it
    bpy.context.view_layer.update()      # matrix_world: retargeting works in world units
    stage.add_floor(scene)
    if o.textured:
        stage.add_floor_texture(scene)
    mapping = _rig_bones(o.rig, arm)
    t = len(idx)
    finger_angles = None
    if o.finger_seed is not None:
        if not all(j in mapping for j in sk.FINGER_JOINT_NAMES):
            raise ValueError(f"rig {o.rig!r} has no finger bones to pose (use default or game_engine)")
        finger_angles = random_finger_angles(t, o.fps, o.finger_seed)
        fingers = np.concatenate([hand_to_skeleton(angles_to_quats(finger_angles[:, s], s), s).reshape(t, 15, 4)
                                  for s in (0, 1)], axis=1)
        result = rig_io.retarget_onto(arm, np.concatenate([local_rot, fingers], axis=1), root,
                                      sk.full_offsets(offsets), mapping)
    else:
        result = rig_io.retarget_onto(arm, local_rot, root, offsets, mapping)
    scene.frame_start, scene.frame_end = 1, t
    rig_io.key_result(arm, result, "FootageMotion", frame_start=1.0)
    t1 = time.perf_counter()

    joints = ground_truth.measure_joints(scene, arm, mapping, range(1, t + 1))
    pelvis = joints[:, sk.ROOT]
    cam = stage.CameraSpec(yaw_deg=o.yaw, height=o.cam_height, distance=o.distance, focal_mm=o.focal_mm,
                           target=(float(pelvis[:, 0].mean()), float(pelvis[:, 1].mean()), o.target_height),
                           width=o.width, height_px=o.height)
    cams = stage.camera_path(cam, pelvis, o.camera_motion, o.fps, o.target_height)
    cam_obj = stage.add_camera(scene, cams[0])
    if o.camera_motion != "static":
        stage.key_camera(cam_obj, cams)
    canonical = forward_kinematics(local_rot, root, offsets, sk.PARENTS)[0]
    gt_path = Path(ground_truth.ground_truth_path(out))
    px = np.stack([stage.project(joints[t], c) for t, c in enumerate(cams)])
    hands = {}
    if finger_angles is not None:
        parent_of = {b.name: b.parent.name for b in arm.data.bones if b.parent is not None}
        weights = body.read_weights(o.rig, body.read_base_mesh(look=look).source_index)
        recipe = ground_truth.hand_skin_joints(mapping, parent_of, weights)
        points = ground_truth.measure_hands(scene, skin, recipe, range(1, t + 1))
        hands = dict(finger_angles=finger_angles, hand_points=points,
                     hand_points_px=np.stack([stage.project(points[i].reshape(-1, 3), c).reshape(2, 21, 3)
                                              for i, c in enumerate(cams)]))
    t2 = time.perf_counter()

    stage.setup_render(scene, o.width, o.height, o.fps, str(out))
    scene.frame_set(1)
    bpy.ops.render.render(animation=True)
    t3 = time.perf_counter()
    if not out.is_file():
        raise RuntimeError(f"Blender rendered no video to {out}")
    # the ground truth last: a folder being rendered into never holds a clip's .npz before its finished .mp4
    ground_truth.save_ground_truth(
        gt_path, joints=joints, joints_px=px, local_rot=local_rot,
        root_translation=root, offsets=offsets, canonical_joints=canonical, camera=cam, fps=o.fps,
        source_times_s=src_times,
        extra=dict(source=str(Path(o.bvh).name), rig=o.rig, retarget_scale=result.scale,
                   body_scale=float(o.body_scale),
                   look_seed=np.int64(-1 if o.look_seed is None else o.look_seed), look=look.describe(),
                   rig_bones=np.array([mapping[j] for j in sk.JOINT_NAMES]), camera_motion=o.camera_motion,
                   cam_from_world_per_frame=np.stack([c.cam_from_world() for c in cams]),
                   camera_path=np.stack([c.position() for c in cams]), **hands))
    return FootageResult(out, gt_path, t, {"build": t1 - t0, "measure": t2 - t1, "render": t3 - t2,
                                           "render_per_frame": (t3 - t2) / t})


def _parser() -> argparse.ArgumentParser:
    d = FootageOptions(Path(), Path())
    p = argparse.ArgumentParser(prog="python -m uplift_mocap.dev.footage.render.generate", description=__doc__.split("\n")[0])
    p.add_argument("bvh", type=Path, help="mocap BVH (.bvh or .bvh.gz) of a known family")
    p.add_argument("--out", type=Path, required=True, help="output .mp4 (ground truth goes to the same name .npz)")
    p.add_argument("--start-s", type=float, default=d.start_s)
    p.add_argument("--seconds", type=float, default=d.seconds)
    p.add_argument("--fps", type=int, default=d.fps)
    p.add_argument("--yaw", type=float, default=d.yaw, help="camera yaw about +Z from the character's front, degrees")
    p.add_argument("--cam-height", type=float, default=d.cam_height, help="camera height, m")
    p.add_argument("--distance", type=float, default=d.distance, help="horizontal distance to the target, m")
    p.add_argument("--focal-mm", type=float, default=d.focal_mm, help="focal length, mm (36 mm sensor width)")
    p.add_argument("--width", type=int, default=d.width)
    p.add_argument("--height", type=int, default=d.height)
    p.add_argument("--rig", default=d.rig, choices=SUPPORTED_RIGS)
    p.add_argument("--target-height", type=float, default=d.target_height, help="camera aim height, m")
    p.add_argument("--look-seed", type=int, default=None,
                   help="random body shape and skin/clothing colours from this seed (default: the base body)")
    p.add_argument("--body-scale", type=float, default=d.body_scale,
                   help="uniform scale of the whole body, 0.5-2 (1: MakeHuman's base height)")
    p.add_argument("--camera-motion", default=d.camera_motion, choices=("static", "track", "pan"),
                   help="static; track: the camera travels with the actor; pan: it turns to follow (default static)")
    p.add_argument("--textured", action="store_true",
                   help="scatter coloured tiles on the floor (features a camera-motion cue can follow)")
    p.add_argument("--finger-seed", type=int, default=None,
                   help="moving fingers from this seed (rigs with finger bones: default, game_engine); their angles "
                        "and the rig's measured hand points go into the ground truth")
    return p


def main(argv=None) -> int:
    a = _parser().parse_args(argv)
    opts = FootageOptions(a.bvh, a.out, a.start_s, a.seconds, a.fps, a.yaw, a.cam_height, a.distance, a.focal_mm,
                          a.width, a.height, a.rig, a.target_height, a.look_seed, a.body_scale, a.camera_motion,
                          a.finger_seed, a.textured)
    try:
        res = generate_clip(opts)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{res.video} ({res.frames} frames), ground truth {res.ground_truth}; "
          + ", ".join(f"{k} {v:.2f} s" for k, v in res.timings.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
