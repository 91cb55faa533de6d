"""dev/evaluation/footage_diagnose.py: the depth / image-plane split attributes an error to the right part,
and the report runs end to end on the bundled sample clip and its ground truth."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from uplift_mocap.dev.evaluation import footage_diagnose as fd
from uplift_mocap.dev.evaluation import footage_eval as fe

REPO = Path(__file__).resolve().parents[1]


def _pose(t=30, seed=0):
    """(T, 12, 3) random poses whose limbs lie mostly across the view (small z spread)."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(t, 12, 3)) * [0.4, 0.4, 0.1]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_with_depth_of_keeps_unit_length_heading_and_depth(dtype):
    rng = np.random.default_rng(1)
    a, b = (fe.segment_directions(rng.normal(size=(5, 12, 3)).astype(dtype)) for _ in range(2))
    c = fd.with_depth_of(a, b)
    assert np.allclose(np.linalg.norm(c, axis=-1), 1.0, atol=1e-5)
    assert np.allclose(c[..., 2], b[..., 2], atol=1e-6)
    tol = 0.05 if dtype == np.float32 else 1e-4          # degrees: arccos near 1 in float32
    assert fd.image_heading_deg(c, a).max() < tol
    assert np.allclose(fd.with_depth_of(a, a), a, atol=1e-5)


def test_a_depth_error_is_removed_by_the_true_depth_not_by_the_true_heading():
    gt = _pose()
    bad_depth = gt * [1.0, 1.0, -3.0]             # same image, wrong depth
    d = fd.depth_split(bad_depth, gt)
    assert d["n"] > 50 and d["bone"] > 5.0
    assert d["image_heading"] == pytest.approx(0.0, abs=1e-3)
    assert d["true_depth"] == pytest.approx(0.0, abs=1e-3)
    assert d["true_heading"] == pytest.approx(d["bone"], rel=1e-6)


def test_an_image_plane_error_is_removed_by_the_true_heading():
    gt = _pose()
    a = np.radians(15.0)
    rz = np.array([[np.cos(a), -np.sin(a), 0.0], [np.sin(a), np.cos(a), 0.0], [0.0, 0.0, 1.0]])
    d = fd.depth_split(gt @ rz.T, gt)              # turned in the image plane, depths unchanged
    assert d["image_heading"] == pytest.approx(15.0, abs=0.1)
    assert d["true_heading"] == pytest.approx(0.0, abs=1e-3)
    assert d["true_depth"] > 5.0


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("mediapipe") is None, reason="mediapipe not installed")
def test_report_on_the_sample_clip(tmp_path, capsys):
    clip = fe.clip_joints(REPO / "inference" / "samples" / "sample_walk.mp4")
    assert clip["gt"].shape == clip["ours"].shape == clip["mediapipe"].shape and clip["gt"].shape[1:] == (12, 3)
    assert clip["gt_px"].shape == clip["mp_px"].shape == clip["gt"].shape[:2] + (2,)
    d = fd.diagnose([clip])
    for who in ("ours", "mediapipe"):
        assert len(d[who]["per_segment"]) == len(fe.SEGMENT_NAMES)
        assert np.mean(d[who]["per_segment"]) == pytest.approx(d[who]["bone"])
        assert d[who]["bone"] == pytest.approx(fe.score(clip[who], clip["gt"])["bone_deg"])
        assert 0.0 < d[who]["limbs_image_heading"] < d[who]["limbs_bone"]
    assert 0.5 < d["detector_2d_heading"] < 20.0      # MediaPipe 2D vs the projected true joints
    lines = fd.report(d)
    assert any(line.startswith("| **mean** |") for line in lines)
    assert fd.main(["--folder", str(tmp_path)]) == 2   # no clips: a clear error, not a crash
    assert "no rendered clips" in capsys.readouterr().err
