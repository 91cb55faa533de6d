"""fill_gaps: short gaps interpolated in time, long ones unkeyed, timestamps (VFR) respected."""
from __future__ import annotations

import numpy as np
import pytest

from uplift_mocap.inference.core import skeleton as sk
from uplift_mocap.inference.pipeline.gaps import fill_gaps, find_gaps


def moving_landmarks(times: np.ndarray) -> np.ndarray:
    """(T, 33, 3): every landmark moves on its own straight line in time (x, y) with visibility 0.9."""
    rng = np.random.default_rng(1)
    start = rng.uniform(0.3, 0.7, (sk.NUM_LANDMARKS, 2))
    vel = rng.uniform(-0.1, 0.1, (sk.NUM_LANDMARKS, 2))
    xy = start + times[:, None, None] * vel
    return np.concatenate([xy, np.full(xy.shape[:2] + (1,), 0.9)], axis=-1).astype(np.float32)


def drop(lm: np.ndarray, detected: np.ndarray) -> np.ndarray:
    out = lm.copy()
    out[~detected, :, :2] = np.nan
    out[~detected, :, 2] = 0.0
    return out


def test_short_gap_is_interpolated_and_keyed():
    t = np.arange(60) / 30.0
    truth = moving_landmarks(t)
    det = np.ones(60, dtype=bool)
    det[10:14] = False                                          # 5/30 s between the detected neighbours
    res = fill_gaps(drop(truth, det), det, t, max_gap_s=0.5)
    assert res.keyed.all()
    assert [(g.start, g.stop, g.filled) for g in res.gaps] == [(10, 14, True)]
    assert res.gaps[0].duration_s == pytest.approx(5 / 30.0)
    np.testing.assert_allclose(res.landmarks, truth, atol=1e-6)   # linear motion is recovered exactly


def test_long_gap_is_left_unkeyed_holding_the_nearest_pose():
    t = np.arange(90) / 30.0
    truth = moving_landmarks(t)
    det = np.ones(90, dtype=bool)
    det[20:50] = False                                          # 1 s
    res = fill_gaps(drop(truth, det), det, t, max_gap_s=0.5)
    assert not res.keyed[20:50].any() and res.keyed[:20].all() and res.keyed[50:].all()
    (gap,) = res.gaps
    assert not gap.filled and gap.num_frames == 30 and gap.duration_s == pytest.approx(31 / 30.0)
    assert np.all(res.landmarks[20:50, :, 2] == 0.0)
    np.testing.assert_array_equal(res.landmarks[20:35, :, :2], np.broadcast_to(truth[19, :, :2], (15, 33, 2)))
    np.testing.assert_array_equal(res.landmarks[35:50, :, :2], np.broadcast_to(truth[50, :, :2], (15, 33, 2)))
    assert np.all(np.isfinite(res.landmarks))


def test_variable_frame_rate_uses_timestamps():
    # 4 missing samples, but the clock jumps: the gap spans 0.8 s and is not bridged ...
    t0 = 19 / 30.0
    t = np.concatenate([np.arange(20) / 30.0, t0 + 0.16 * np.arange(1, 6), t0 + 0.8 + np.arange(1, 20) / 30.0])
    truth = moving_landmarks(t)
    det = np.ones(len(t), dtype=bool)
    det[20:24] = False
    res = fill_gaps(drop(truth, det), det, t, max_gap_s=0.5)
    assert not res.gaps[0].filled and res.gaps[0].duration_s == pytest.approx(0.8)
    # ... while with uneven spacing inside a short gap the interpolation follows time, not index
    t2 = np.array([0.0, 0.033, 0.066, 0.07, 0.08, 0.2, 0.233, 0.266])
    truth2 = moving_landmarks(t2)
    det2 = np.array([1, 1, 1, 0, 0, 1, 1, 1], dtype=bool)
    res2 = fill_gaps(drop(truth2, det2), det2, t2, max_gap_s=0.5)
    assert res2.keyed.all()
    np.testing.assert_allclose(res2.landmarks, truth2, atol=1e-6)


def test_leading_and_trailing_gaps():
    t = np.arange(80) / 30.0
    truth = moving_landmarks(t)
    det = np.ones(80, dtype=bool)
    det[:5] = False                                             # short: held, keyed
    det[50:] = False                                            # 1 s: unkeyed
    res = fill_gaps(drop(truth, det), det, t, max_gap_s=0.5)
    assert [(g.start, g.stop, g.filled) for g in res.gaps] == [(0, 5, True), (50, 80, False)]
    assert res.keyed[:50].all() and not res.keyed[50:].any()
    np.testing.assert_array_equal(res.landmarks[:5], np.broadcast_to(truth[5], (5, 33, 3)))
    np.testing.assert_array_equal(res.landmarks[50:, :, :2], np.broadcast_to(truth[49, :, :2], (30, 33, 2)))
    assert np.all(res.landmarks[50:, :, 2] == 0.0)


def test_low_visibility_landmarks_in_detected_frames_are_not_touched():
    t = np.arange(30) / 30.0
    lm = moving_landmarks(t)
    lm[:, sk.MP_INDEX["left_wrist"], 2] = 0.05                 # occluded wrist
    lm[12, sk.MP_INDEX["left_ankle"], :2] = np.nan             # a missing landmark in a detected frame
    det = np.ones(30, dtype=bool)
    res = fill_gaps(lm, det, t)
    np.testing.assert_array_equal(res.landmarks, lm)
    assert res.gaps == [] and res.keyed.all()


def test_no_detection_and_bad_input():
    t = np.arange(10) / 30.0
    det = np.zeros(10, dtype=bool)
    res = fill_gaps(drop(moving_landmarks(t), det), det, t)
    assert not res.keyed.any() and len(res.gaps) == 1 and not res.gaps[0].filled
    assert find_gaps(np.array([1, 0, 0, 1, 0], dtype=bool)) == [(1, 3), (4, 5)]
    with pytest.raises(ValueError, match="strictly increasing"):
        fill_gaps(moving_landmarks(t), np.ones(10, dtype=bool), t[::-1])
    with pytest.raises(ValueError, match="landmarks must be"):
        fill_gaps(np.zeros((10, 17, 3)), np.ones(10, dtype=bool), t)
