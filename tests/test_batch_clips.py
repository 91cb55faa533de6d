"""``uplift convert`` over many videos: folders as inputs, a local pool of processes (``--jobs``) and a Ray
cluster (``--cluster``) with a worker killed mid-run; every clip converted exactly once, nothing half-written."""
from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import shutil
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from uplift_mocap.inference.pipeline import detect  # noqa: F401 - before mediapipe (mediapipe_import._patch_protobuf)
from uplift_mocap.cli.commands import main
from uplift_mocap.inference.pipeline.motion_clip import read_npz

for _mod in ("cv2", "mediapipe"):
    if importlib.util.find_spec(_mod) is None:
        pytest.skip(f"{_mod} not installed (make venv installs it)", allow_module_level=True)

WALK = Path(__file__).resolve().parent / "fixtures" / "person_walk.mp4"


def _run(argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def _blank(path: Path) -> Path:
    import cv2

    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (160, 120))
    for _ in range(10):
        w.write(np.zeros((120, 160, 3), np.uint8))
    w.release()
    return path


@pytest.fixture()
def folder(tmp_path) -> Path:
    """Three walking clips and one without a person, in one folder (plus a file that is not a video)."""
    src = tmp_path / "videos"
    src.mkdir()
    for name in ("a", "b", "c"):
        shutil.copy(WALK, src / f"walk_{name}.mp4")
    _blank(src / "empty.avi")
    (src / "notes.txt").write_text("not a video")
    return src


def _leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(".") or p.suffix == ".tmp"]


@pytest.mark.slow
def test_local_pool_converts_a_folder_like_one_process(folder, tmp_path):
    code, out, err = _run(["convert", str(folder), "-o", str(tmp_path / "pool"), "--format", "npz", "--jobs", "2", "-q"])
    assert code == 4, err  # the one failure: no person in empty.avi
    assert "converted 3 of 4 videos" in out and "empty.avi" in err and "no person" in err
    assert sorted(p.name for p in (tmp_path / "pool").iterdir()) == ["walk_a.npz", "walk_b.npz", "walk_c.npz"]
    code, _, err = _run(["convert", str(folder / "walk_a.mp4"), "-o", str(tmp_path / "one"), "--format", "npz", "-q"])
    assert code == 0, err
    a, b = read_npz(tmp_path / "pool" / "walk_a.npz"), read_npz(tmp_path / "one" / "walk_a.npz")
    np.testing.assert_allclose(a.local_rot, b.local_rot, atol=1e-5)
    np.testing.assert_allclose(a.root_translation, b.root_translation, atol=1e-5)
    assert _leftovers(tmp_path / "pool") == []


def test_empty_folder_is_an_input_error(tmp_path):
    (tmp_path / "none").mkdir()
    code, _, err = _run(["convert", str(tmp_path / "none"), "-o", str(tmp_path / "o")])
    assert code == 3 and "no video files" in err and not (tmp_path / "o").exists()


def _proc_lines() -> dict[int, str]:
    out = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                out[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
            except OSError:
                continue
    return out


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds Ray's worker processes through /proc")
def test_ray_cluster_survives_a_killed_worker(folder, tmp_path):
    """A Ray head and a second node on loopback; the worker running a clip is killed; Ray runs the task again
    and every clip is written exactly once, with no Ray process left behind."""
    pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    (folder / "empty.avi").unlink()
    before = set(_proc_lines())
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        result = {}
        runner = threading.Thread(target=lambda: result.update(zip(("code", "out", "err"), _run(
            ["convert", str(folder), "-o", str(tmp_path / "ray"), "--format", "npz,bvh", "--cluster",
             cluster.address]))))
        runner.start()
        killed = None
        deadline = time.time() + 240
        while killed is None and runner.is_alive() and time.time() < deadline:
            tasks = [pid for pid, cmd in _proc_lines().items() if "ray::convert_task" in cmd]
            if tasks:
                time.sleep(1.0)  # let it get into the clip
                os.kill(tasks[0], 9)
                killed = tasks[0]
            time.sleep(0.2)
        runner.join(300)
        assert killed is not None, "never saw a running convert_task to kill"
        assert result.get("code") == 0, result
        assert "converted 3 of 3 videos" in result["out"]
        written = sorted(p.name for p in (tmp_path / "ray").iterdir())
        assert written == sorted(f"walk_{n}.{s}" for n in "abc" for s in ("npz", "bvh"))
        for n in "abc":
            assert read_npz(tmp_path / "ray" / f"walk_{n}.npz").num_frames == 75
        assert result["out"].count("wrote") == 6  # each output written once
    finally:
        cluster.shutdown()
    time.sleep(1.0)
    left = [cmd for pid, cmd in _proc_lines().items() if pid not in before and ("raylet" in cmd or "gcs_server"
                                                                                 in cmd or "ray::" in cmd)]
    assert left == [], left


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds Ray's processes through /proc")
def test_ray_splits_a_long_clip_into_chunk_tasks(tmp_path, monkeypatch):
    """A clip longer than cluster.LONG_CLIP_S (5 s here) is detected as chunk tasks on two nodes and lifted by the
    driver: the same motion as converting it in one process."""
    pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    from uplift_mocap.cli import cluster as cl
    from uplift_mocap.dev.evaluation.bench_sections import looped_video

    video = looped_video(WALK, tmp_path / "walk10s.mp4", 10.0)
    monkeypatch.setattr(cl, "LONG_CLIP_S", 5.0)
    before = set(_proc_lines())
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        c.add_node(num_cpus=1)
        c.wait_for_nodes()
        code, out, err = _run(["convert", str(video), "-o", str(tmp_path / "ray"), "--format", "npz",
                               "--cluster", c.address, "-q"])
    finally:
        c.shutdown()
    assert code == 0, out + err
    code, _, err = _run(["convert", str(video), "-o", str(tmp_path / "one"), "--format", "npz", "-q"])
    assert code == 0, err
    a, b = read_npz(tmp_path / "ray" / "walk10s.npz"), read_npz(tmp_path / "one" / "walk10s.npz")
    assert a.info["detect_processes"] == 2 and b.info["detect_processes"] == 1
    np.testing.assert_array_equal(a.times_s, b.times_s)
    np.testing.assert_allclose(a.local_rot, b.local_rot, atol=1e-4)
    time.sleep(1.0)
    left = [cmd for pid, cmd in _proc_lines().items() if pid not in before and ("raylet" in cmd or "gcs_server"
                                                                                 in cmd or "ray::" in cmd)]
    assert left == [], left
