"""The modal loop that both long operators share (``operators._RunsJob``: "Animate from Strip" and "Find People"),
driven the way Blender's window manager drives it: timer events until the worker thread is done, the status bar
and progress bar updated on the way, Esc cancelling. bpy as a module has no event loop, so a recording context
and hand-made events stand in for it; the job itself is real (the fixture walk)."""
from __future__ import annotations

import importlib.util
import json

import pytest

pytestmark = pytest.mark.skipif(importlib.util.find_spec("bpy") is None, reason="bpy not installed")

_SCRIPT = r"""
import json, sys, time, types
import bpy
import uplift_mocap
from uplift_mocap.addon import jobs, operators, people_list
from uplift_mocap.inference.pipeline.run import ConvertOptions

video = sys.argv[1]
log = {"status": [], "progress": [], "reports": [], "finished": None, "timer_removed": 0, "progress_end": 0}
wm = types.SimpleNamespace(
    windows=[],
    progress_update=lambda v: log["progress"].append(v),
    progress_end=lambda: log.__setitem__("progress_end", log["progress_end"] + 1),
    event_timer_remove=lambda t: log.__setitem__("timer_removed", log["timer_removed"] + 1))
context = types.SimpleNamespace(window_manager=wm, workspace=types.SimpleNamespace(
    status_text_set=lambda text: log["status"].append(text)))


class Op(operators._RunsJob):
    doing = people_list.UPLIFT_OT_find_people.doing
    _work = people_list.UPLIFT_OT_find_people._work

    def report(self, kind, text):
        log["reports"].append([sorted(kind)[0], text])

    def _finish(self, ctx, result):
        log["finished"] = [len(result), result[0]["coverage"]]
        return {"FINISHED"}


def event(kind, value="NOTHING"):
    return types.SimpleNamespace(type=kind, value=value)


op = Op()
op._timer = object()
op._job = operators.RUNNING["job"] = jobs.ConvertJob(video, ConvertOptions(), work=op._work()).start()
passed_mouse = op.modal(context, event("MOUSEMOVE"))
results, t0 = [], time.time()
while time.time() - t0 < 300:
    r = op.modal(context, event("TIMER"))
    results.append(sorted(r))
    if r != {"PASS_THROUGH"}:
        break
    time.sleep(0.05)
done = dict(log, passed_mouse=sorted(passed_mouse), last=results[-1], polls=len(results),
            running_after=operators.running_job() is not None)

log.update(status=[], progress=[], reports=[], finished=None, timer_removed=0, progress_end=0)
op._job = operators.RUNNING["job"] = jobs.ConvertJob(video, ConvertOptions(), work=op._work()).start()
r = op.modal(context, event("ESC", "PRESS"))
op._job.wait(60)
esc = dict(log, result=sorted(r), outcome=op._job.outcome[0], running_after=operators.RUNNING["job"] is not None)
print("RESULT " + json.dumps({"done": done, "esc": esc}))
"""


def test_modal_loop_polls_the_worker_shows_progress_and_cancels_on_esc(run_py, repo_root):
    walk = repo_root / "tests" / "fixtures" / "person_walk.mp4"
    proc = run_py(f"import sys\nsys.argv = ['x', {str(walk)!r}]\n" + _SCRIPT, timeout=600)
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert line, proc.stdout[-3000:] + proc.stderr[-3000:]
    res = json.loads(line[-1][len("RESULT "):])
    done = res["done"]
    assert done["passed_mouse"] == ["PASS_THROUGH"]              # other events go on to Blender
    assert done["last"] == ["FINISHED"] and done["finished"][0] == 1 and done["finished"][1] > 0.9
    assert done["polls"] > 1                                      # the worker ran while the main thread polled
    shown = [s for s in done["status"] if s]
    assert shown and all(s.startswith("Uplift: finding people, ") and s.endswith("(Esc to cancel)") for s in shown)
    assert done["status"][-1] is None                             # the status bar is given back
    assert done["progress"] == sorted(done["progress"]) and all(0 <= p <= 100 for p in done["progress"])
    assert done["timer_removed"] == 1 and done["progress_end"] == 1 and not done["running_after"]
    esc = res["esc"]
    assert esc["result"] == ["CANCELLED"] and esc["reports"] == [["INFO", "Cancelled"]]
    assert esc["outcome"] == "cancelled" and esc["finished"] is None and not esc["running_after"]
    assert esc["timer_removed"] == 1 and esc["status"] == [None]
