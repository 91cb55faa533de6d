""""Find People" in the add-on (bpy in a subprocess): everyone in the active strip is listed, most present first,
with a picture each; the row picked in the list is who "Animate from Strip" converts, and the panel draws the list
only for the strip and range it was found in. The fixture walk has one person, the real clip of ../shared/real
two."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(importlib.util.find_spec("bpy") is None, reason="bpy not installed")

_SCRIPT = r"""
import json, sys, types
import bpy
import numpy as np
import uplift_mocap
from uplift_mocap.addon import compat, people_list
uplift_mocap.register()
bpy.ops.wm.read_factory_settings(use_empty=True)
drawn = []


class Layout:
    active = True
    def row(self, **kw): return Layout()
    def operator(self, idname, **kw): drawn.append(("operator", idname, kw.get("text")))
    def template_list(self, listtype, list_id, data, prop, active_data, active_prop, **kw):
        assert prop in data.bl_rna.properties and active_prop in active_data.bl_rna.properties
        drawn.append(("list", listtype, len(getattr(data, prop)), active_prop))
    def template_icon(self, icon_value=0, scale=1.0): drawn.append(("icon", icon_value))


out = {}
for k, video in enumerate(sys.argv[1:]):
    scene = bpy.context.scene
    strip = compat.new_movie_strip(scene, f"clip{k}", video, 1, 1)
    compat.sequence_editor(scene).active_strip = strip
    s = scene.uplift
    drawn.clear(); people_list.draw_people(Layout(), bpy.context); before = list(drawn)
    res = bpy.ops.uplift.find_people()
    pictures = []
    for p in s.people:
        pic = people_list._previews()[p.picture]
        px = np.array(pic.image_pixels_float[:]).reshape(pic.image_size[1], pic.image_size[0], 4)
        pictures.append(dict(size=list(pic.image_size), std=float(px[..., :3].std()),
                             grey=float(np.mean(np.all(np.abs(px[..., :3] - 96 / 255) < 1e-3, axis=-1)))))
    people = [dict(number=p.number, coverage=p.coverage, height=p.height) for p in s.people]
    s.person = min(1, len(s.people) - 1)                               # picked in the list: the second of two
    chosen = s.person
    drawn.clear(); people_list.draw_people(Layout(), bpy.context); after = list(drawn)
    s.use_strip_range, s.frame_start, s.frame_end = False, 1, 5          # another range: the list is not shown
    drawn.clear(); people_list.draw_people(Layout(), bpy.context); other = list(drawn)
    s.use_strip_range = True
    out[video] = dict(result=sorted(res), people=people, pictures=pictures, chosen=chosen,
                      before=before, after=after, other=other)
    s.people.clear()
print("RESULT " + json.dumps(out))
"""


def test_find_people_lists_everyone_with_a_picture(run_py, repo_root):
    walk = repo_root / "tests" / "fixtures" / "person_walk.mp4"
    real = repo_root.parent / "shared" / "real" / "videos" / "cam01.mp4"
    videos = [str(walk)] + ([str(real)] if real.is_file() else [])
    proc = run_py(f"import sys\nsys.argv = ['x'] + {videos!r}\n" + _SCRIPT, timeout=600)
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert line, proc.stdout[-3000:] + proc.stderr[-3000:]
    res = json.loads(line[-1][len("RESULT "):])
    one = res[str(walk)]
    assert one["result"] == ["FINISHED"] and len(one["people"]) == 1 and one["people"][0]["coverage"] > 0.9
    assert one["before"] == [["operator", "uplift.find_people", "Find People"]]         # nothing found yet
    assert one["chosen"] == 0
    assert ["list", "UPLIFT_UL_people", 1, "person"] in one["after"]   # the row picked is who gets converted
    # (bpy without a UI makes no icon ids, so the large picture of the one picked is not drawn here)
    assert one["other"] == [["operator", "uplift.find_people", "Find People"]]      # found for another range
    for pic in one["pictures"]:
        assert pic["size"] == [96, 96] and pic["std"] > 0.05 and pic["grey"] < 0.5   # a picture, not padding
    if not real.is_file():
        pytest.skip(f"{Path(real).name} of ../shared/real not present: only the one-person case was checked")
    two = res[str(real)]                                   # ../shared/real: a man and a woman
    assert two["result"] == ["FINISHED"] and len(two["people"]) >= 2 and two["chosen"] == 1
    cover = [p["coverage"] for p in two["people"]]
    assert cover == sorted(cover, reverse=True)
    assert all(p["size"] == [96, 96] and p["std"] > 0.05 for p in two["pictures"])
