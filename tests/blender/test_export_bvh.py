"""The add-on's Export BVH button: the motion stored on an Action Uplift made, written on the Uplift skeleton in
metres or centimetres, read back with the project's BVH reader; unavailable (with the reason) elsewhere."""
from __future__ import annotations

import numpy as np

_SCRIPT = r"""
import sys
import bpy
import uplift_mocap
from uplift_mocap.addon import animate
from uplift_mocap.addon.exports import stored_motion_problem
from uplift_mocap.inference.mocap.convert import load_canonical
from uplift_mocap.inference.pipeline.motion_clip import clip_from_motion

uplift_mocap.register()
m = load_canonical(sys.argv[1])
clip = clip_from_motion(m.local_rot, m.root_translation, m.offsets, m.fps)
bpy.context.scene.render.fps = 30
res = animate.apply_clip(bpy.context, clip, "walk", 1.0)
bpy.context.view_layer.objects.active = res.obj
assert bpy.ops.uplift.export_bvh.poll()
for units, path in (("m", sys.argv[2]), ("cm", sys.argv[3])):
    assert bpy.ops.uplift.export_bvh(filepath=path, units=units) == {"FINISHED"}
bpy.ops.object.armature_add()                      # an armature whose Action Uplift did not make
other = bpy.context.object
act = bpy.data.actions.new("hand_made")
other.animation_data_create()
other.animation_data.action = act
print("WHY", stored_motion_problem(bpy.context), flush=True)
assert not bpy.ops.uplift.export_bvh.poll()
uplift_mocap.unregister()
"""


def test_export_bvh_button_writes_metres_and_centimetres(run_py, repo_root, tmp_path):
    from uplift_mocap.inference.mocap.bvh import read_bvh

    walk = repo_root / "inference" / "samples" / "cmu_02_01_walk.bvh.gz"
    m_path, cm_path = tmp_path / "walk_m.bvh", tmp_path / "walk_cm.bvh"
    proc = run_py(f"import sys\nsys.argv = ['x', {str(walk)!r}, {str(m_path)!r}, {str(cm_path)!r}]\n" + _SCRIPT,
                  timeout=300)
    why = [ln for ln in proc.stdout.splitlines() if ln.startswith("WHY ")][-1]
    assert "'hand_made' was not made by Uplift" in why
    a, b = read_bvh(m_path, scale=1.0, drop_tpose=False), read_bvh(cm_path, scale=1.0, drop_tpose=False)
    assert a.num_frames == b.num_frames == 83
    np.testing.assert_allclose(b.offsets, 100.0 * a.offsets, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(b.motion[:, :3], 100.0 * a.motion[:, :3], rtol=1e-4, atol=1e-3)
