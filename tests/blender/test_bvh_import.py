"""Acceptance: a canonical BVH from write_bvh round-trips through Blender's own BVH importer
(bpy 5.0.1, default settings) with every joint within 1 mm of our forward kinematics.

bpy runs in a subprocess (never imported into pytest); it only imports the file and dumps the
posed armature. File frame i lands on Blender frame frame_start + i (frame_start = 1 by default).
"""
from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

from uplift_mocap.inference.core import rotations as R
from uplift_mocap.inference.core import skeleton as S
from uplift_mocap.inference.mocap.bvh_writer import write_bvh

pytestmark = [
    pytest.mark.bpy,
    pytest.mark.skipif(importlib.util.find_spec("bpy") is None, reason="bpy (Blender as a module) not installed"),
]

FRAME_START = 1

DUMP = r'''
import json, sys
import numpy as np
import bpy

args = json.loads(ARGS)
out = {}
for key, job in args["jobs"].items():
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    fps_before = scene.render.fps
    result = bpy.ops.import_anim.bvh(
        filepath=job["path"], target="ARMATURE", global_scale=job["global_scale"],
        frame_start=args["frame_start"], use_fps_scale=False, update_scene_fps=False,
        update_scene_duration=False, use_cyclic=False, rotate_mode="NATIVE",
        axis_forward="-Z", axis_up="Y")
    arm = [ob for ob in scene.objects if ob.type == "ARMATURE"]
    assert result == {"FINISHED"} and len(arm) == 1, (result, arm)
    arm = arm[0]
    bones = list(arm.pose.bones)
    n_frames = job["frames"]
    heads = np.zeros((n_frames, len(bones), 3))
    tails = np.zeros((n_frames, len(bones), 3))
    rots = np.zeros((n_frames, len(bones), 3, 3))
    for f in range(n_frames):
        scene.frame_set(args["frame_start"] + f)
        mw = arm.matrix_world
        for j, pb in enumerate(bones):
            heads[f, j] = mw @ pb.head
            tails[f, j] = mw @ pb.tail
            posed = np.array((mw @ pb.matrix).to_3x3())
            rest = np.array((mw @ pb.bone.matrix_local).to_3x3())
            rots[f, j] = posed @ np.linalg.inv(rest)
    np.savez(job["out"], heads=heads, tails=tails, rots=rots)
    out[key] = {
        "names": [pb.name for pb in bones],
        "parents": [pb.parent.name if pb.parent else None for pb in bones],
        "frame_range": list(arm.animation_data.action.frame_range),
        "fps_unchanged": scene.render.fps == fps_before,
    }
print("RESULT " + json.dumps(out))
'''


def canonical_motion(frames: int = 60, seed: int = 7):
    """Smooth random local rotations within +-60 deg and a walking root path, Blender frame."""
    rng = np.random.default_rng(seed)
    keys = rng.uniform(-1, 1, (3, S.NUM_JOINTS, 3)) * np.radians(60) / np.sqrt(3)
    s = np.linspace(0.0, 1.0, frames)[:, None, None]
    aa = (1 - s) ** 2 * keys[0] + 2 * s * (1 - s) * keys[1] + s ** 2 * keys[2]    # Bezier in axis-angle
    step = np.linspace(0.0, 1.0, frames)
    root = np.stack([0.2 * np.sin(4 * step), -1.8 * step, 0.95 + 0.03 * np.sin(25 * step)], axis=-1)
    return R.axis_angle_to_quat(aa), root


def test_blender_import_round_trip(tmp_path, run_py):
    q, root = canonical_motion()
    frames = len(q)
    ref_pos, ref_rot = R.forward_kinematics(q, root, S.REST_OFFSETS, S.PARENTS)
    jobs = {}
    # the acceptance case: metres, default ZXY, importer defaults
    write_bvh(tmp_path / "take_m.bvh", q, root, fps=30)
    jobs["m"] = dict(path=str(tmp_path / "take_m.bvh"), global_scale=1.0, frames=frames,
                     out=str(tmp_path / "m.npz"))
    # centimetres and another Euler order, imported with the matching scale
    write_bvh(tmp_path / "take_cm.bvh", q, root, fps=30, units="cm", euler_order="YXZ")
    jobs["cm"] = dict(path=str(tmp_path / "take_cm.bvh"), global_scale=0.01, frames=frames,
                      out=str(tmp_path / "cm.npz"))

    args = json.dumps({"jobs": jobs, "frame_start": FRAME_START})
    proc = run_py(f"ARGS = {args!r}\n" + DUMP, timeout=120)
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert line, proc.stdout + proc.stderr
    result = json.loads(line[-1][len("RESULT "):])

    for key, job in jobs.items():
        info = result[key]
        assert info["names"] == list(S.JOINT_NAMES), key
        assert info["parents"] == [None] + [S.JOINT_NAMES[p] for p in S.PARENTS[1:]], key
        assert info["frame_range"] == [FRAME_START, FRAME_START + frames - 1], key
        assert info["fps_unchanged"], key
        dump = np.load(job["out"])
        err = np.linalg.norm(dump["heads"] - ref_pos, axis=-1)
        assert err.max() <= 1e-3, f"{key}: max joint error {err.max() * 1000:.3f} mm"
        # bones turn by our global rotations (bone rest frames differ from ours only by the rest)
        assert np.abs(dump["rots"] - ref_rot).max() < 1e-4, key
        # leaf bones end at the End Site: joint + G @ LEAF_TAILS
        for j, tail in S.LEAF_TAILS.items():
            want = ref_pos[:, j] + ref_rot[:, j] @ tail
            assert np.linalg.norm(dump["tails"][:, j] - want, axis=-1).max() <= 1e-3, (key, S.JOINT_NAMES[j])
