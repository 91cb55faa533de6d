"""inference/pipeline/people.py and --person / --list-people: several people tracked through a video."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from uplift_mocap.inference.core import skeleton as sk
from uplift_mocap.inference.pipeline.people import track_people

WALK = Path(__file__).resolve().parent / "fixtures" / "person_walk.mp4"


def _pose(cx, cy, h, rng):
    """A rough standing figure centred at (cx, cy) (normalised), h tall: (33, 4) [x, y, vis, presence]."""
    y = cy + h * (np.linspace(-0.5, 0.5, sk.NUM_LANDMARKS) + rng.normal(0, 0.01, sk.NUM_LANDMARKS))
    x = cx + 0.15 * h * np.where(np.arange(sk.NUM_LANDMARKS) % 2, 1, -1) + rng.normal(0, 0.003, sk.NUM_LANDMARKS)
    return np.stack([x, y, np.ones_like(x), np.full_like(x, 0.9)], -1).astype(np.float32)


def test_two_people_crossing_keep_their_tracks_and_order_by_presence():
    rng = np.random.default_rng(0)
    t_len = 60
    times = np.arange(t_len) / 30.0
    poses, worlds, truth = [], [], []
    for t in range(t_len):
        a = _pose(0.2 + 0.6 * t / t_len, 0.5, 0.5, rng)          # walks right, in front, all the time
        b = _pose(0.8 - 0.6 * t / t_len, 0.48, 0.35, rng)        # walks left, smaller, gone for 10 frames
        cands = [a] + ([b] if not 20 <= t < 30 else [])
        order = rng.permutation(len(cands))                        # MediaPipe's order is not stable
        poses.append(np.stack([cands[i] for i in order]))
        worlds.append(np.zeros((len(cands), sk.NUM_LANDMARKS, 3), np.float32))
        truth.append(order)
    tracks = track_people(poses, worlds, times, aspect=16 / 9)
    assert len(tracks) == 2
    first, second = tracks
    # B is hidden 10 frames, and where the two overlap fully (the crossing) only the better-present one counts, for
    # whichever of them it is (predicted on at their speeds, they are not mixed up there)
    assert first.seen.sum() >= t_len - 2 and t_len - 20 <= second.seen.sum() <= t_len - 10
    assert first.height > second.height
    # person 0 is A everywhere (moves right), person 1 is B (moves left), through the crossing
    xa = np.nanmean(first.landmarks[first.seen, :, 0], axis=1)
    xb = np.nanmean(second.landmarks[second.seen, :, 0], axis=1)
    assert np.diff(xa).min() > -0.05 and xa[-1] - xa[0] > 0.5       # no jump to the other person (they are 0.6 apart)
    assert np.diff(xb).max() < 0.05 and xb[-1] - xb[0] < -0.4


@pytest.mark.skipif(importlib.util.find_spec("mediapipe") is None, reason="mediapipe not installed")
def test_person_option_on_a_one_person_video(tmp_path, capsys):
    from uplift_mocap.cli import commands as cli
    from uplift_mocap.cli import convert as cc

    assert cli.main(["convert", str(WALK), "-o", str(tmp_path), "--list-people"]) == 0
    out = capsys.readouterr().out
    assert "1 person seen in 75 frames" in out and "person 0: on screen" in out
    assert float(out.split("on screen")[1].split("%")[0]) > 95
    assert not any(tmp_path.iterdir())                              # listing converts nothing
    assert cli.main(["convert", str(WALK), "-o", str(tmp_path), "--person", "0", "-q"]) == 0
    capsys.readouterr()
    code = cli.main(["convert", str(WALK), "-o", str(tmp_path / "b"), "--person", "1", "-q"])
    err = capsys.readouterr().err
    assert code == cc.EXIT_FAILED and "no person 1: 1 person seen" in err


def test_real_clip_lists_both_people(repo_root):
    video = repo_root.parent / "shared" / "real" / "videos" / "cam01.mp4"
    if not video.is_file() or importlib.util.find_spec("mediapipe") is None:
        pytest.skip("../shared/real not present (or no mediapipe)")
    from uplift_mocap.inference.pipeline.detect import detect_people

    tracks, times = detect_people(video)
    assert len(tracks) >= 2 and len(times) == 100
    assert tracks[0].coverage > 0.9 and tracks[1].coverage > 0.8    # the man on the plate and the woman



def test_each_person_gets_its_own_files(repo_root, tmp_path, capsys):
    """--each-person on the real two-person clip: one detection pass, both people converted, each to
    <name>_person<N>.<format> numbered as --list-people numbers them; nothing replaced without --overwrite."""
    video = repo_root.parent / "shared" / "real" / "videos" / "cam01.mp4"
    if not video.is_file() or importlib.util.find_spec("mediapipe") is None:
        pytest.skip("../shared/real not present (or no mediapipe)")
    from uplift_mocap.cli import commands as cli
    from uplift_mocap.cli import convert as cc
    from uplift_mocap.inference.pipeline import motion_clip as mc

    out_dir = tmp_path / "out"
    args = ["convert", str(video), "-o", str(out_dir), "--each-person", "--format", "npz", "--no-hands", "-q"]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    names = sorted(p.name for p in out_dir.iterdir())
    assert names[:2] == ["cam01_person0.npz", "cam01_person1.npz"], names
    assert f"{video} person 0:" in out and f"{video} person 1:" in out and "converted 1 of 1 video" in out
    a, b = (mc.read_npz(out_dir / n) for n in names[:2])
    assert a.info["person"] == 0 and b.info["person"] == 1
    assert a.info["detected_fraction"] > 0.9 and b.info["detected_fraction"] > 0.8
    # two different people, two different motions (each clip's world starts at its own pelvis, so positions do not
    # compare): their joint rotations differ (the same person twice would differ by ~0)
    from uplift_mocap.inference.core.rotations import quat_angle

    both = a.keyed & b.keyed
    assert np.degrees(np.median(quat_angle(a.local_rot[both], b.local_rot[both]))) > 6.0     # 12.4 measured
    assert cli.main(args) == cc.EXIT_OUTPUT                             # the files exist now
    err = capsys.readouterr().err
    assert "exists" in err and "--overwrite" in err


def test_each_person_is_refused_with_person_or_jobs(tmp_path, capsys):
    from uplift_mocap.cli import commands as cli
    from uplift_mocap.cli import convert as cc

    assert cli.main(["convert", str(WALK), "-o", str(tmp_path / "x"), "--each-person", "--person", "1"]) \
        == cc.EXIT_USAGE
    assert "leave out --person" in capsys.readouterr().err
    assert cli.main(["convert", str(WALK), str(WALK), "-o", str(tmp_path / "x"), "--each-person", "--jobs", "2"]) \
        == cc.EXIT_USAGE
    assert "leave out --jobs" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
