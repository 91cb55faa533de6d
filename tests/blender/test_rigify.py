"""A real generated Rigify rig (Rigify ships inside the bpy wheel): auto-detection picks its FK controls, a
walk keyed onto them moves the deform bones as the motion says, and the rig's own settings are untouched."""
from __future__ import annotations

import json

_SCRIPT = r"""
import json, sys
import numpy as np
import bpy, addon_utils
from uplift_mocap.addon import animate, rig_io
from uplift_mocap.inference.core import skeleton as sk
from uplift_mocap.inference.mocap.convert import load_canonical
from uplift_mocap.inference.pipeline.motion_clip import clip_from_motion
from uplift_mocap.inference.retarget.transfer import canonical_world_dirs
from uplift_mocap.inference.core.rotations import forward_kinematics

addon_utils.enable("rigify", default_set=True)
bpy.ops.object.armature_human_metarig_add()
bpy.ops.pose.rigify_generate()
rig = bpy.data.objects["rig"]
pb = rig.pose.bones
before = {(b.name, k): b[k] for b in pb for k in ("IK_FK", "neck_follow", "head_follow") if k in b.keys()}
m = load_canonical(sys.argv[1])
t = m.num_frames
clip = clip_from_motion(m.local_rot, m.root_translation, m.offsets, m.fps)
scene = bpy.context.scene
scene.render.fps = int(round(m.fps))
bpy.context.view_layer.objects.active = rig
res = animate.apply_clip(bpy.context, clip, "walk", 1.0, rig)
dirs = canonical_world_dirs(m.local_rot, m.offsets)
segments = {"upperarm_l": ("DEF-upper_arm.L", "DEF-forearm.L"), "forearm_l": ("DEF-forearm.L", "DEF-hand.L"),
            "upperarm_r": ("DEF-upper_arm.R", "DEF-forearm.R"), "forearm_r": ("DEF-forearm.R", "DEF-hand.R"),
            "thigh_l": ("DEF-thigh.L", "DEF-shin.L"), "shin_l": ("DEF-shin.L", "DEF-foot.L"),
            "thigh_r": ("DEF-thigh.R", "DEF-shin.R"), "shin_r": ("DEF-shin.R", "DEF-foot.R")}
mw = np.array(rig.matrix_world)
joints = forward_kinematics(m.local_rot, m.root_translation, m.offsets, sk.PARENTS)[0]
errs = {j: [] for j in segments}
torso = []
for f in range(1, t + 1, 4):
    scene.frame_set(f)
    for j, (a, b) in segments.items():
        d = (mw[:3, :3] @ (np.array(pb[b].head) - np.array(pb[a].head)))
        c = dirs[f - 1, sk.JOINT_INDEX[j]]
        errs[j].append(float(np.degrees(np.arccos(np.clip(d @ c / np.linalg.norm(d), -1, 1)))))
    d = mw[:3, :3] @ (np.array(pb["DEF-spine.004"].head) - np.array(pb["DEF-spine"].head))
    c = joints[f - 1, sk.JOINT_INDEX["neck"]] - joints[f - 1, sk.JOINT_INDEX["pelvis"]]
    torso.append(float(np.degrees(np.arccos(np.clip(d @ c / np.linalg.norm(d) / np.linalg.norm(c), -1, 1)))))
after = {(b.name, k): b[k] for b in pb for k in ("IK_FK", "neck_follow", "head_follow") if k in b.keys()}
print(json.dumps({"preset": res.preset, "confidence": res.confidence, "errs": errs, "torso": torso,
                  "rig_settings_unchanged": before == after, "ik_fk_before": before.get(("upper_arm_parent.L", "IK_FK")),
                  "ik_fk_evaluated": pb["upper_arm_parent.L"]["IK_FK"]}), flush=True)
import os
os._exit(0)   # bpy 4.2.23 segfaults at interpreter exit once Rigify has been enabled (even disabled again)
"""


def test_walk_keys_onto_a_generated_rigify_rig(run_py, repo_root):
    walk = repo_root / "inference" / "samples" / "cmu_02_01_walk.bvh.gz"
    proc = run_py(f"import sys\nsys.argv = ['x', {str(walk)!r}]\n" + _SCRIPT, timeout=300)
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    assert res["preset"] == "rigify_fk" and res["confidence"] == 1.0
    errs = {j: (sum(v) / len(v), max(v)) for j, v in res["errs"].items()}
    for j in ("thigh_l", "shin_l", "thigh_r", "shin_r"):          # the leg FK chain is a plain hierarchy
        assert errs[j][1] < 0.5, (j, errs[j])
    # the arms hang off the chest: with the spine keyed on Rigify's own FK spine controls they follow exactly
    for j in ("upperarm_l", "forearm_l", "upperarm_r", "forearm_r"):
        assert errs[j][1] < 1.0, (j, errs[j])
    # the torso (hips to neck base, DEF bones) leans as the motion's pelvis-to-neck line does
    torso = res["torso"]
    assert sum(torso) / len(torso) < 3.0 and max(torso) < 5.0, torso
    # FK is switched on by the Action (constant keys), not by changing the rig: IK by default, FK while it plays
    assert res["ik_fk_before"] == 0.0 and res["ik_fk_evaluated"] == 1.0
