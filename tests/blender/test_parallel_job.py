"""The add-on's worker job (``addon.jobs.ConvertJob``, as Animate from Strip runs it in Blender) with
chunk-parallel detection: progress arrives, Esc (``cancel``) stops every detection process, and a full run
reports the processes it used."""
from __future__ import annotations

import json

SCRIPT = r'''
import json, os, sys, time
from pathlib import Path
import bpy
from uplift_mocap.addon import jobs
from uplift_mocap.dev.evaluation.bench_sections import looped_video
from uplift_mocap.inference.pipeline.run import ConvertOptions

video = looped_video(Path(sys.argv[1]), Path(sys.argv[2]), 10.0)

def children():
    me, out = os.getpid(), []
    for e in Path("/proc").iterdir():
        if e.name.isdigit():
            try:
                f = (e / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(f[1]) == me and f[0] != "Z":
                out.append(int(e.name))
    return out

out = {}
job = jobs.ConvertJob(video, ConvertOptions(workers=2)).start()
t0, peak = time.time(), 0
while time.time() - t0 < 120:
    job.poll()
    peak = max(peak, len(children()))
    if job.status.stage == "detect" and job.status.done >= 20:
        break
    time.sleep(0.05)
out["seen"] = [job.status.stage, job.status.done, job.status.total]
out["workers_seen"] = peak
job.cancel()
out["cancel"] = dict(outcome=job.outcome[0], alive=job.running, children=children())
job = jobs.ConvertJob(video, ConvertOptions(workers=2)).start()
kind, clip = job.wait(300)
out["done"] = dict(kind=kind, frames=int(clip.num_frames), processes=clip.info["detect_processes"],
                   device=clip.info["devices"]["detect"], children=children())
print("RESULT " + json.dumps(out))
'''


def test_parallel_detection_from_the_addon_job(run_py, repo_root, tmp_path):
    import sys

    import pytest

    if not sys.platform.startswith("linux"):
        pytest.skip("counts worker processes through /proc")
    video = repo_root / "tests" / "fixtures" / "person_walk.mp4"
    args = [str(video), str(tmp_path / "walk10s.mp4")]
    proc = run_py(f"import sys; sys.argv = ['x', *{args!r}]\n" + SCRIPT, timeout=420)
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert line, proc.stdout + proc.stderr
    res = json.loads(line[-1][len("RESULT "):])
    stage, done, total = res["seen"]
    assert stage == "detect" and 20 <= done <= total == 300
    assert res["workers_seen"] >= 2                                 # two detection processes ran
    assert res["cancel"] == {"outcome": "cancelled", "alive": False, "children": []}
    assert res["done"] == {"kind": "done", "frames": 300, "processes": 2,
                           "device": "CPU (MediaPipe) x 2 processes", "children": []}
