""""Everyone" in the add-on (bpy in a subprocess): every person seen gets a new armature and its own Action named
after the strip and the person's number, from one detection pass; the fixture walk has one person, the real clip
of ../shared/real two."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(importlib.util.find_spec("bpy") is None, reason="bpy not installed")

_SCRIPT = r"""
import json, sys
import bpy
import uplift_mocap
from uplift_mocap.addon import compat
uplift_mocap.register()
bpy.ops.wm.read_factory_settings(use_empty=True)
out = {}
for k, video in enumerate(sys.argv[1:]):
    scene = bpy.context.scene
    scene.render.fps = 30
    before = {o.name for o in bpy.data.objects}
    strip = compat.new_movie_strip(scene, f"clip{k}", video, 1, 1)
    compat.sequence_editor(scene).active_strip = strip
    scene.uplift.target, scene.uplift.everyone, scene.uplift.hands = "EXISTING", True, False   # no armature picked
    res = bpy.ops.uplift.animate_strip()
    made = sorted(o.name for o in bpy.data.objects if o.name not in before and o.type == "ARMATURE")
    out[video] = dict(result=sorted(res), armatures=made,
                      actions=[bpy.data.objects[n].animation_data.action.name for n in made])
    compat.sequence_editor(scene).strips.remove(strip) if hasattr(compat.sequence_editor(scene), "strips") else \
        compat.sequence_editor(scene).sequences.remove(strip)
print("RESULT " + json.dumps(out))
"""


def test_everyone_gets_a_new_armature_and_action(run_py, repo_root):
    walk = repo_root / "tests" / "fixtures" / "person_walk.mp4"
    real = repo_root.parent / "shared" / "real" / "videos" / "cam01.mp4"
    videos = [str(walk)] + ([str(real)] if real.is_file() else [])
    proc = run_py(f"import sys\nsys.argv = ['x'] + {videos!r}\n" + _SCRIPT, timeout=600)
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert line, proc.stdout[-3000:] + proc.stderr[-3000:]
    res = json.loads(line[-1][len("RESULT "):])
    one = res[str(walk)]
    assert one["result"] == ["FINISHED"]
    assert one["armatures"] == ["clip0 person 0 Armature"] and one["actions"] == ["clip0 person 0"]
    if real.is_file():                                   # ../shared/real: a man and a woman
        two = res[str(real)]
        assert two["result"] == ["FINISHED"] and len(two["armatures"]) >= 2
        assert {"clip1 person 0", "clip1 person 1"} <= set(two["actions"])
    else:
        pytest.skip(f"{Path(real).name} of ../shared/real not present: only the one-person case was checked")
