"""inference/pipeline/flips.py: MediaPipe's left/right label swaps found and undone, on real detections of
the sample video (swaps injected where the truth is known) and on the real 4-camera clip when staged."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from uplift_mocap.inference.core import skeleton as sk
from uplift_mocap.inference.pipeline.flips import SwapRepair, repair_swaps

if importlib.util.find_spec("mediapipe") is None or importlib.util.find_spec("cv2") is None:
    pytest.skip("mediapipe / opencv not installed", allow_module_level=True)

SAMPLE = Path(__file__).resolve().parents[1] / "inference" / "samples" / "sample_walk.mp4"
UPPER = np.array([i for i, n in enumerate(sk.MP_LANDMARK_NAMES) if n.startswith(("left", "right"))
                  and not any(w in n for w in ("hip", "knee", "ankle", "heel", "foot"))])
LOWER = np.array([i for i, n in enumerate(sk.MP_LANDMARK_NAMES) if n.startswith(("left", "right"))
                  and any(w in n for w in ("hip", "knee", "ankle", "heel", "foot"))])


@pytest.fixture(scope="module")
def detections():
    from uplift_mocap.inference.pipeline import detect

    return detect.detect_video(SAMPLE, detect.DetectOptions(end_s=3.0))


def _swap(lm, frames, part):
    perm = np.arange(sk.NUM_LANDMARKS)
    perm[part] = sk.MP_MIRROR[part]
    out = lm.copy()
    out[frames] = lm[frames][:, perm]
    return out


def test_clean_detections_are_left_alone(detections):
    r = repair_swaps(detections.landmarks, detections.detected, detections.width, detections.height)
    assert isinstance(r, SwapRepair) and not r.swapped.any()
    np.testing.assert_array_equal(np.isnan(r.landmarks), np.isnan(detections.landmarks))
    np.testing.assert_allclose(np.nan_to_num(r.landmarks), np.nan_to_num(detections.landmarks))


@pytest.mark.parametrize("parts, column", [((UPPER, LOWER), (0, 1)), ((LOWER,), (1,)), ((UPPER,), (0,))])
def test_injected_swaps_are_found_and_undone(detections, parts, column):
    lm = detections.landmarks
    seen = np.flatnonzero(detections.detected)
    segments = [seen[10:16], seen[40:52]]                        # 6 and 12 frames relabelled
    bad = lm
    for frames in segments:
        for part in parts:
            bad = _swap(bad, frames, part)
    r = repair_swaps(bad, detections.detected, detections.width, detections.height)
    want = np.zeros(len(lm), bool)
    want[np.concatenate(segments)] = True
    for c in (0, 1):
        np.testing.assert_array_equal(r.swapped[:, c], want if c in column else np.zeros_like(want))
    np.testing.assert_allclose(np.nan_to_num(r.landmarks), np.nan_to_num(lm))


def test_too_few_frames_change_nothing():
    lm = np.full((3, sk.NUM_LANDMARKS, 3), np.nan, np.float32)
    lm[1] = 0.5
    r = repair_swaps(lm, np.array([False, True, False]), 640, 480)
    assert not r.swapped.any()


def test_real_camera_with_front_back_confusion(repo_root):
    """cam02 of ../shared/real: MediaPipe reads the man's front as his back in a run of frames; its plain
    detections of him, relabelled, agree with the reference's (guided, relabelled) detections."""
    real = repo_root.parent / "shared" / "real"
    if not (real / "mp_world_cam02.npz").is_file():
        pytest.skip("../shared/real not present")
    d = np.load(real / "mp_world_cam02.npz")
    uv, guided = d["A_uv"], d["A_uv_guided"]
    w, h = 1088, 1920
    lm = np.concatenate([uv / [w, h], d["A_vis"][..., None]], -1)
    det = np.isfinite(uv).all(-1).all(-1)
    ok = det & np.isfinite(guided[:, 11]).all(-1)

    def wrong(x):  # frames whose left shoulder sits where the guided right one is
        return (np.linalg.norm(x[:, 11] - guided[:, 12], axis=-1) < np.linalg.norm(x[:, 11] - guided[:, 11], axis=-1)) & ok

    before = wrong(uv).sum()
    after = wrong(repair_swaps(lm, det, w, h).landmarks[..., :2] * [w, h]).sum()
    assert before >= 5 and after <= before // 5, (before, after)
