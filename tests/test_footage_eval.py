"""dev/evaluation/footage_eval.py: the scores behave (alignment, Procrustes, bone angles), the manifest uses
test-split motions only, and the whole scoring path runs on the bundled sample clip and its ground truth."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from uplift_mocap.inference.core import skeleton as sk
from uplift_mocap.dev.evaluation import footage_eval as fe

REPO = Path(__file__).resolve().parents[1]


def _pose(t=20, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.normal(scale=0.3, size=(1, 12, 3))
    return base + 0.01 * rng.normal(size=(t, 12, 3)) + np.linspace(0, 1, t)[:, None, None] * [1.0, 0.0, 0.0]


def test_joint_subset_is_the_landmarks_on_joints():
    assert len(fe.LANDMARKS) == 12
    names = [sk.MP_LANDMARK_NAMES[i] for i in fe.LANDMARKS]
    assert "left_hip" in names and "right_ankle" in names and "nose" not in names
    for lm, j in zip(fe.LANDMARKS, fe.JOINTS):
        assert sk.MP_ANCHOR_JOINT[lm] == j


def test_scores_ignore_position_and_procrustes_ignores_scale():
    gt = _pose()
    same = fe.score(gt + [3.0, -2.0, 5.0], gt)
    assert all(v == pytest.approx(0.0, abs=1e-5) for v in same.values()), same
    bigger = fe.score(1.2 * gt, gt)
    assert bigger["mpjpe_mm"] > 10.0 and bigger["pa_mpjpe_mm"] == pytest.approx(0.0, abs=1e-6)
    assert bigger["bone_deg"] == pytest.approx(0.0, abs=1e-4)


def test_bone_angles_see_a_rotation():
    gt = _pose()
    a = np.radians(20.0)
    rz = np.array([[np.cos(a), -np.sin(a), 0.0], [np.sin(a), np.cos(a), 0.0], [0.0, 0.0, 1.0]])
    ang = fe.bone_angles_deg(fe.centred(gt @ rz.T), fe.centred(gt))
    assert ang.shape == (gt.shape[0], len(fe.BONES) + 1)
    assert 15.0 < ang.max() <= 20.0 + 1e-9 and ang.min() >= 0.0
    assert fe.score(gt @ rz.T, gt)["pa_mpjpe_mm"] == pytest.approx(0.0, abs=1e-6)


def test_camera_points_take_both_matrix_sizes():
    m = np.eye(4)
    m[:3, 3] = [1.0, 2.0, 3.0]
    p = np.array([[0.5, 0.0, 0.0]])
    assert np.allclose(fe.camera_points(p, m), [[1.5, 2.0, 3.0]])
    assert np.allclose(fe.camera_points(p, m[:3, :3]), p)


def test_manifest_uses_only_test_split_motions(shared_data):
    clips, meta = fe.load_manifest()
    assert len(clips) >= 8 and len({c.name for c in clips}) == len(clips)
    assert len({c.yaw for c in clips}) >= 6          # varied cameras
    fe.check_test_split(clips, shared_data)
    bad = [fe.Clip("x", "cmu-bvh/daz/05/05_01.bvh.gz", 0, 0, 5, 35, 1.4)]
    with pytest.raises(ValueError, match="not in"):
        fe.check_test_split(bad, shared_data)


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("mediapipe") is None, reason="mediapipe not installed")
def test_sample_clip_scores_ours_and_mediapipe_against_ground_truth():
    r = fe.evaluate_clip(REPO / "inference" / "samples" / "sample_walk.mp4")
    assert r["frames"] == 146 and r["detected"] == 1.0
    for who in ("ours", "mediapipe"):
        assert 20.0 < r[who]["mpjpe_mm"] < 200.0, r
        assert r[who]["pa_mpjpe_mm"] < r[who]["mpjpe_mm"]
        assert 1.0 < r[who]["bone_deg"] < 25.0, r
    assert r["ours"]["accel_mm"] < r["mediapipe"]["accel_mm"]   # smoothing: less jitter than raw MediaPipe 3D
    assert 0.0 <= r["tilt_deg"] < 8.0, r["tilt_deg"]            # the world's up found from a walk: a level floor
    summary = fe.summarise({"sample": r})
    assert fe.last_line(summary).startswith("OURS_MPJPE_mm=")
    assert len(fe.table({"sample": r}, summary)) == 4


def test_validation_manifest_uses_only_the_carved_out_motions(shared_data):
    pytest.importorskip("torch")  # training.motion_library
    clips, meta = fe.load_manifest(fe.MANIFEST.with_name("footage_val_manifest.json"))
    assert meta["split"] == "val" and len(clips) >= 5
    fe.check_test_split(clips, shared_data, "val")
    test_clips, _ = fe.load_manifest()
    with pytest.raises(ValueError, match="validation carve-out"):
        fe.check_test_split(test_clips, shared_data, "val")
    with pytest.raises(ValueError, match="unknown split"):
        fe.check_test_split(clips, shared_data, "train")
