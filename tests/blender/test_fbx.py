"""FBX export (``--format fbx``, ``addon.batch.write_fbx``) through Blender's own exporter, checked by importing
the file back with Blender's FBX importer: joint directions, root motion and frame count."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

_ROUND_TRIP = r"""
import json, sys
import numpy as np
import bpy
from uplift_mocap.addon import batch
from uplift_mocap.inference.core import skeleton as sk
from uplift_mocap.inference.mocap.convert import load_canonical
from uplift_mocap.inference.pipeline.motion_clip import clip_from_motion

walk, out, target = sys.argv[1], sys.argv[2], sys.argv[3]
m = load_canonical(walk)
t = m.num_frames
clip = clip_from_motion(m.local_rot, m.root_translation, m.offsets, m.fps)
joints = clip.joints
n_before = {k: len(getattr(bpy.data, k)) for k in ("objects", "actions", "armatures", "scenes")}
batch.write_fbx(clip, out, target=target)
assert {k: len(getattr(bpy.data, k)) for k in n_before} == n_before, "write_fbx left data behind"

bpy.ops.wm.read_factory_settings(use_empty=True)
bpy.ops.import_scene.fbx(filepath=out)
arms = [o for o in bpy.data.objects if o.type == "ARMATURE"]
assert len(arms) == 1, [o.name for o in bpy.data.objects]
arm = arms[0]
action = arm.animation_data.action
lo, hi = (int(round(f)) for f in action.frame_range)
scene = bpy.context.scene
heads = []
frames = list(range(lo, hi + 1))
for f in frames:
    scene.frame_set(f)
    mw = np.array(arm.matrix_world)
    heads.append([(mw @ np.r_[np.array(arm.pose.bones[n].head), 1.0])[:3] for n in sk.JOINT_NAMES])
heads = np.array(heads)
print(json.dumps({"frames": len(frames), "lo": lo, "heads": heads.tolist(), "truth": joints.tolist()}))
"""


@pytest.mark.parametrize("target", ["blender", "unreal"])
def test_fbx_round_trip_through_blenders_importer(run_py, repo_root, tmp_path, target):
    import numpy as np

    from uplift_mocap.inference.core import skeleton as sk

    walk = repo_root / "inference" / "samples" / "cmu_02_01_walk.bvh.gz"
    out = tmp_path / "walk.fbx"
    proc = run_py(f"import sys\nsys.argv = ['x', {str(walk)!r}, {str(out)!r}, {target!r}]\n" + _ROUND_TRIP,
                  timeout=300)
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    heads, truth = np.array(res["heads"]), np.array(res["truth"])
    assert res["frames"] == len(truth)
    scale = np.linalg.norm(heads[0, 1:] - heads[0, :1], axis=-1).sum() / np.linalg.norm(
        truth[0, 1:] - truth[0, :1], axis=-1).sum()
    assert abs(scale - 1.0) < 1e-3, scale                 # metres in, metres out (Blender reads its own scale)
    np.testing.assert_allclose(heads[:, 0], truth[:, 0], atol=0.01)   # root motion
    limbs = [j for j in sk.JOINT_NAMES if j.startswith(("upperarm", "forearm", "thigh", "shin"))]
    child = {j: sk.JOINT_NAMES[list(sk.PARENTS).index(sk.JOINT_INDEX[j])] for j in limbs}
    for j in limbs:
        a = heads[:, sk.JOINT_INDEX[child[j]]] - heads[:, sk.JOINT_INDEX[j]]
        b = truth[:, sk.JOINT_INDEX[child[j]]] - truth[:, sk.JOINT_INDEX[j]]
        cos = np.sum(a * b, -1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
        assert np.degrees(np.arccos(np.clip(cos, -1, 1))).max() < 1.0, j


def test_cli_writes_fbx_and_rejects_an_unknown_target(tmp_path, repo_root):
    walk = repo_root / "inference" / "samples" / "sample_walk.mp4"
    cmd = [sys.executable, "-m", "uplift_mocap.cli", "convert", str(walk), "-o", str(tmp_path), "--end", "1",
           "--format", "fbx,bvh", "--fbx-target", "unity", "-q"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "sample_walk.fbx").stat().st_size > 10_000 and (tmp_path / "sample_walk.bvh").is_file()
    bad = subprocess.run(cmd[:-3] + ["--fbx-target", "maya"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "invalid choice: 'maya'" in bad.stderr


def test_a_wrong_armature_name_is_refused_before_detection(run_py, tmp_path):
    rig = tmp_path / "rig.blend"
    run_py("import bpy\nbpy.ops.object.armature_add()\nbpy.context.object.name = 'Hero'\n"
           f"bpy.ops.wm.save_as_mainfile(filepath={str(rig)!r})\n", timeout=120)
    missing_video = tmp_path / "not_read.mp4"           # never opened: the options fail first
    cmd = [sys.executable, "-m", "uplift_mocap.cli", "convert", str(missing_video), "-o", str(tmp_path / "out"),
           "--format", "fbx", "--rig", f"{rig}:Villain"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 6 and "has no object 'Villain' (objects: " in proc.stderr and "Hero" in proc.stderr
    assert not (tmp_path / "out").exists()


_OPERATOR = r"""
import sys
import bpy
import uplift_mocap
from uplift_mocap.addon import animate
from uplift_mocap.inference.mocap.convert import load_canonical
from uplift_mocap.inference.pipeline.motion_clip import clip_from_motion

uplift_mocap.register()
m = load_canonical(sys.argv[1])
clip = clip_from_motion(m.local_rot, m.root_translation, m.offsets, m.fps)
scene = bpy.context.scene
scene.frame_start, scene.frame_end = 7, 9
scene.render.fps = 30                     # the clip's rate: one key per frame
res = animate.apply_clip(bpy.context, clip, "walk", 1.0)
cube = bpy.data.objects.get("Cube")
bpy.context.view_layer.objects.active = res.obj
assert bpy.ops.uplift.export_fbx.poll()
assert bpy.ops.uplift.export_fbx(filepath=sys.argv[2], target="unity") == {"FINISHED"}
assert (scene.frame_start, scene.frame_end) == (7, 9), "frame range restored"
bpy.context.view_layer.objects.active = cube
assert not bpy.ops.uplift.export_fbx.poll()                     # a mesh is active: the button explains why
uplift_mocap.unregister()
bpy.ops.wm.read_factory_settings(use_empty=True)
bpy.ops.import_scene.fbx(filepath=sys.argv[2])
arm = [o for o in bpy.data.objects if o.type == "ARMATURE"][0]
lo, hi = arm.animation_data.action.frame_range
print("FRAMES", int(round(hi - lo)) + 1, len(arm.data.bones), flush=True)
import os
os._exit(0)   # bpy 4.2.23 segfaults at interpreter exit after this import/export round (the results are out)
"""


def test_export_fbx_button_exports_the_active_armature(run_py, repo_root, tmp_path):
    walk = repo_root / "inference" / "samples" / "cmu_02_01_walk.bvh.gz"
    out = tmp_path / "walk.fbx"
    proc = run_py(f"import sys\nsys.argv = ['x', {str(walk)!r}, {str(out)!r}]\n" + _OPERATOR, timeout=300)
    frames, bones = proc.stdout.strip().splitlines()[-1].split()[1:]
    assert int(frames) == 83 and int(bones) == 22
