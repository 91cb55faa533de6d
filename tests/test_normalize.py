"""inference.core.normalize: the network input normalisation shared by training and run time."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from uplift_mocap.inference.core import skeleton as sk
from uplift_mocap.inference.core.normalize import LIMB_LANDMARKS, NORMALISATION_ID, normalize_landmarks

L = sk.NUM_LANDMARKS
HIPS = [sk.MP_INDEX["left_hip"], sk.MP_INDEX["right_hip"]]


def pixel_pose(rng, t=12, w=1280, h=720):
    """(T, 33, 2) pixel coordinates of a moving 'person' near the image centre, and [x_norm, y_norm, vis]."""
    base = rng.uniform(-120, 120, (L, 2)) * np.array([0.5, 1.5])
    px = np.array([w / 2, h / 2]) + base + rng.normal(0, 8, (t, L, 2)) + np.linspace(0, 60, t)[:, None, None]
    vis = rng.uniform(0.6, 1.0, (t, L, 1))
    return px, np.concatenate([px / [w, h], vis], -1)


def test_id_and_shapes():
    assert NORMALISATION_ID == "midhip-rms12-v1"
    assert len(LIMB_LANDMARKS) == 12 and len(set(LIMB_LANDMARKS.tolist())) == 12
    _, lm = pixel_pose(np.random.default_rng(0))
    out = normalize_landmarks(lm, 1280, 720)
    assert out.shape == lm.shape and out.dtype == np.float32
    np.testing.assert_allclose(out[..., 2], lm[..., 2], atol=1e-6)   # visibility passes through
    with pytest.raises(ValueError):
        normalize_landmarks(np.zeros((5, 17, 3)), 640, 480)


def test_centred_on_mid_hip_and_unit_scale():
    _, lm = pixel_pose(np.random.default_rng(1))
    out = normalize_landmarks(lm, 1280, 720).astype(np.float64)
    np.testing.assert_allclose(out[:, HIPS, :2].mean(1), 0.0, atol=1e-6)
    rms = np.sqrt(np.mean(np.sum(out[:, LIMB_LANDMARKS, :2] ** 2, -1), -1))
    assert abs(np.median(rms) - 1.0) < 1e-5


def test_translation_and_scale_invariance():
    rng = np.random.default_rng(2)
    px, lm = pixel_pose(rng)
    w, h = 1280, 720
    ref = normalize_landmarks(lm, w, h)
    shifted = lm.copy()
    shifted[..., :2] += [0.07, -0.05]                         # move the whole person in the image
    np.testing.assert_allclose(normalize_landmarks(shifted, w, h), ref, atol=2e-5)
    for s, centre in ((0.5, (100.0, 500.0)), (1.7, (640.0, 360.0))):
        sp = np.asarray(centre) + s * (px - np.asarray(centre))  # uniform zoom of the pixel coordinates
        scaled = np.concatenate([sp / [w, h], lm[..., 2:]], -1)
        np.testing.assert_allclose(normalize_landmarks(scaled, w, h), ref, atol=2e-5)
    # the same pixels in a 2x larger image
    big = np.concatenate([2 * px / [2 * w, 2 * h], lm[..., 2:]], -1)
    np.testing.assert_allclose(normalize_landmarks(big, 2 * w, 2 * h), ref, atol=2e-5)


def test_aspect_correct_and_y_up():
    lm = np.zeros((1, L, 3))
    lm[..., 2] = 1.0
    w, h = 1920, 1080
    px = np.full((L, 2), [960.0, 540.0])
    px[sk.MP_INDEX["nose"]] = [960.0, 340.0]                  # 200 px above the hips
    px[sk.MP_INDEX["left_wrist"]] = [1160.0, 540.0]           # 200 px right of the hips
    lm[0, :, :2] = px / [w, h]
    out = normalize_landmarks(lm, w, h)[0]
    nose, wrist = out[sk.MP_INDEX["nose"], :2], out[sk.MP_INDEX["left_wrist"], :2]
    assert nose[1] > 0 and abs(nose[0]) < 1e-6                # image up = +v
    assert wrist[0] > 0 and abs(wrist[1]) < 1e-6
    assert abs(nose[1] - wrist[0]) < 1e-6                     # equal pixel distances stay equal


def test_low_visibility_zeroed_and_scale_from_visible_frames():
    rng = np.random.default_rng(3)
    _, lm = pixel_pose(rng, t=10)
    lm[..., 2] = 0.9
    ref = normalize_landmarks(lm[:7], 1280, 720)
    wild = lm.copy()
    wild[7:, :, :2] = 0.5 + 4.0 * (wild[7:, :, :2] - 0.5)    # 3 wildly scaled frames ...
    wild[7:, LIMB_LANDMARKS[:3], 2] = 0.3                     # ... that are not all visible
    wild[2, 5, 2] = 0.05                                      # one landmark below 0.1
    out = normalize_landmarks(wild, 1280, 720)
    keep = np.ones((7, L), bool)
    keep[2, 5] = False
    np.testing.assert_allclose(out[:7][keep], ref[keep], atol=2e-5)
    assert np.all(out[2, 5, :2] == 0.0) and out[2, 5, 2] == pytest.approx(0.05)


def test_nan_safe():
    rng = np.random.default_rng(4)
    _, lm = pixel_pose(rng, t=8)
    lm[3, :, :2] = np.nan                                     # a missing frame
    lm[3, :, 2] = 0.0
    lm[5, 9, :2] = np.nan                                     # one missing landmark
    lm[5, 9, 2] = 0.0
    lm[6, :, 2] = np.nan                                      # NaN visibility counts as 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = normalize_landmarks(lm, 640, 480)
        empty = normalize_landmarks(np.full((4, L, 3), np.nan), 640, 480)
        zeros = normalize_landmarks(np.zeros((4, L, 3)), 640, 480)
    assert np.all(np.isfinite(out)) and np.all(out[3] == 0.0) and np.all(out[5, 9] == 0.0)
    assert np.all(out[6] == 0.0)
    assert np.all(empty == 0.0) and np.all(np.isfinite(zeros))


def test_batched_equals_per_sequence():
    rng = np.random.default_rng(5)
    seqs = [pixel_pose(rng, t=9, w=w, h=h)[1] for w, h in ((1280, 720), (480, 640))]
    batched = normalize_landmarks(np.stack(seqs), np.array([1280, 480]), np.array([720, 640]))
    for i, (w, h) in enumerate(((1280, 720), (480, 640))):
        np.testing.assert_allclose(batched[i], normalize_landmarks(seqs[i], w, h), atol=1e-6)
