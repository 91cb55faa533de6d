"""Two people crossing: synthetic footage like ``generate``'s with a second body, for person tracking tests.

    python -m uplift_mocap.dev.footage.render.two_people BVH_A BVH_B --out OUT.mp4 [--seconds 4] [--gap 1.5]
        [--start-a 0] [--start-b 0] [--fps 30] [--distance 8] [--focal-mm 28] [--look-a 3] [--look-b 11]

Person A walks to the right across the view (its path turned onto +X), person B to the left (onto -X),
``gap`` metres further from the camera, both paths centred on the origin, so they cross mid-clip and B is
briefly hidden behind A. The camera looks from the front (-Y), static, at ``target_height``. Ground truth
(``ground_truth`` layout for A) adds ``joints_b`` / ``joints_px_b`` (T, J, 3) for B and ``person_names``.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from pathlib import Path

import bpy
import numpy as np

from ....inference.core import rotations as R
from ....inference.core.rotations import forward_kinematics
from ....inference.core import skeleton as sk
from ....inference.mocap.convert import load_canonical
from ....addon import rig_io
from ...training.bvh_fps import source_fps
from . import body, ground_truth, looks, makehuman, stage
from .generate import _rig_bones, sample_motion


def _walk_along(motion, start_s: float, seconds: float, fps: float, heading_deg: float, shift_xy):
    """Sampled canonical motion turned about Z so its net travel points along ``heading_deg`` (0 = +X), its path
    centred on the origin, then moved by ``shift_xy``: (local_rot (T, J, 4), root (T, 3), offsets (J, 3))."""
    idx, _ = sample_motion(motion, start_s, seconds, fps)
    local = motion.local_rot[idx].astype(np.float64).copy()
    root = motion.root_translation[idx].astype(np.float64).copy()
    travel = root[-1, :2] - root[0, :2]
    turn = math.radians(heading_deg) - math.atan2(travel[1], travel[0])
    q = np.array([math.cos(turn / 2), 0.0, 0.0, math.sin(turn / 2)])
    local[:, 0] = R.quat_multiply(np.broadcast_to(q, local[:, 0].shape), local[:, 0])
    rz = R.quat_to_matrix(q)
    root = root @ rz.T
    root[:, :2] += np.asarray(shift_xy, np.float64) - root[:, :2].mean(axis=0)
    return local, root, motion.offsets.astype(np.float64)


def render_two(bvh_a: Path, bvh_b: Path, out: Path, seconds: float = 4.0, gap: float = 1.5, start_a: float = 0.0,
               start_b: float = 0.0, fps: int = 30, distance: float = 8.0, focal_mm: float = 28.0,
               look_a: int = 3, look_b: int = 11, target_height: float = 0.9, rig: str = "cmu_mb") -> Path:
    """Render the crossing to ``out`` (MP4) and its ground truth beside it; returns the ground truth path."""
    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    stage.reset_scene()
    scene = bpy.context.scene
    lift = (0.0, 0.0, -float(body.read_base_mesh().verts[:, 2].min()))
    people = []
    for name, bvh, start, heading, shift, look_seed in (("A", bvh_a, start_a, 0.0, (0.0, 0.0), look_a),
                                                        ("B", bvh_b, start_b, 180.0, (0.0, gap), look_b)):
        motion = load_canonical(bvh)
        motion = dataclasses.replace(motion, fps=source_fps(bvh, motion.fps))
        local, root, offsets = _walk_along(motion, start, seconds, fps, heading, shift)
        arm = makehuman.build_armature_from_rig_json(makehuman.rig_json_path(rig), f"Person{name}", offset=lift)
        body.build_body(arm, rig, offset=lift, name=f"Body{name}", look=looks.sample_look(look_seed))
        bpy.context.view_layer.update()
        mapping = _rig_bones(rig, arm)
        result = rig_io.retarget_onto(arm, local, root, offsets, mapping)
        rig_io.key_result(arm, result, f"Walk{name}", frame_start=1.0)
        people.append((arm, mapping, local, root, offsets, result))
    t = min(len(p[2]) for p in people)
    scene.frame_start, scene.frame_end = 1, t
    stage.add_floor(scene)
    joints = [ground_truth.measure_joints(scene, p[0], p[1], range(1, t + 1)) for p in people]
    cam = stage.CameraSpec(yaw_deg=0.0, height=1.4, distance=distance, focal_mm=focal_mm,
                           target=(0.0, gap / 2.0, target_height))
    stage.add_camera(scene, cam)
    _arm, _mapping, local, root, offsets, result = people[0]
    canonical = forward_kinematics(local[:t], root[:t], offsets, sk.PARENTS)[0]
    gt = Path(ground_truth.ground_truth_path(out))
    ground_truth.save_ground_truth(
        gt, joints=joints[0], joints_px=stage.project(joints[0], cam), local_rot=local[:t], root_translation=root[:t],
        offsets=offsets, canonical_joints=canonical, camera=cam, fps=fps,
        source_times_s=np.arange(t) / fps,
        extra=dict(joints_b=joints[1].astype(np.float32), joints_px_b=stage.project(joints[1], cam).astype(np.float32),
                   person_names=np.array(["A", "B"]), source=f"{Path(bvh_a).name} + {Path(bvh_b).name}", rig=rig,
                   retarget_scale=result.scale))
    stage.setup_render(scene, cam.width, cam.height_px, fps, str(out))
    scene.frame_set(1)
    bpy.ops.render.render(animation=True)
    if not out.is_file():
        raise RuntimeError(f"Blender rendered no video to {out}")
    return gt


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m uplift_mocap.dev.footage.render.two_people",
                                description=__doc__.split("\n")[0])
    p.add_argument("bvh_a", type=Path)
    p.add_argument("bvh_b", type=Path)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--seconds", type=float, default=4.0)
    p.add_argument("--gap", type=float, default=1.5, help="how much further from the camera B walks, m")
    p.add_argument("--start-a", type=float, default=0.0)
    p.add_argument("--start-b", type=float, default=0.0)
    p.add_argument("--fps", type=int, default=30)
    p.add_argument("--distance", type=float, default=8.0)
    p.add_argument("--focal-mm", type=float, default=28.0)
    p.add_argument("--look-a", type=int, default=3)
    p.add_argument("--look-b", type=int, default=11)
    a = p.parse_args(argv)
    gt = render_two(a.bvh_a, a.bvh_b, a.out, a.seconds, a.gap, a.start_a, a.start_b, a.fps, a.distance, a.focal_mm,
                    a.look_a, a.look_b)
    print(f"{a.out}, ground truth {gt}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
