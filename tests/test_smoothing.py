"""Smoothing of real motion (the bundled CMU walk) with added noise and quaternion sign flips."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from uplift_mocap.inference.core import rotations as R
from uplift_mocap.inference.core import skeleton as sk
from uplift_mocap.inference.mocap.convert import load_canonical
from uplift_mocap.inference.pipeline.smoothing import (position_jitter_mm, rotation_jitter_deg, smooth_positions, smooth_rotations)

SAMPLE = Path(__file__).resolve().parents[1] / "inference" / "samples" / "cmu_02_01_walk.bvh.gz"


@pytest.fixture(scope="module")
def walk():
    m = load_canonical(SAMPLE)
    rng = np.random.default_rng(3)
    clean_q = R.quat_normalize(m.local_rot.astype(np.float64))
    noise = R.axis_angle_to_quat(rng.normal(0.0, np.radians(2.0), clean_q.shape[:-1] + (3,)))
    noisy_q = R.quat_multiply(clean_q, noise)
    flips = np.where(rng.random(clean_q.shape[:-1] + (1,)) < 0.3, -1.0, 1.0)  # arbitrary hemispheres
    clean_x = m.joints()
    noisy_x = clean_x + rng.normal(0.0, 0.01, clean_x.shape)
    return dict(fps=m.fps, clean_q=clean_q, noisy_q=(noisy_q * flips).astype(np.float32), clean_x=clean_x,
                noisy_x=noisy_x)


def angle_err_deg(a, b):
    return float(np.degrees(R.quat_angle(a, b)).mean())


def test_strength_zero_is_identity(walk):
    assert np.array_equal(smooth_rotations(walk["noisy_q"], 0.0, walk["fps"]), walk["noisy_q"])
    assert np.array_equal(smooth_positions(walk["noisy_x"], 0.0, walk["fps"]), walk["noisy_x"])


def test_rotation_smoothing_reduces_jitter_without_flip_spikes(walk):
    q, fps = walk["noisy_q"], walk["fps"]
    out = smooth_rotations(q, 0.5, fps)
    assert out.shape == q.shape and out.dtype == q.dtype
    np.testing.assert_allclose(np.linalg.norm(out, axis=-1), 1.0, atol=1e-5)
    j_noisy, j_out, j_clean = (rotation_jitter_deg(x, fps) for x in (q, out, walk["clean_q"]))
    assert j_out < 0.35 * j_noisy and j_out < 2.0 * j_clean + 0.5, (j_noisy, j_out, j_clean)
    assert angle_err_deg(out, walk["clean_q"]) < 0.8 * angle_err_deg(q, walk["clean_q"])
    # sign flips do not leak in: no frame-to-frame step much larger than in the clean motion
    steps = np.degrees(R.quat_angle(out[1:], out[:-1]))
    assert steps.max() < np.degrees(R.quat_angle(walk["clean_q"][1:], walk["clean_q"][:-1])).max() + 3.0
    # each frame keeps the sign (hemisphere) it came in with
    assert np.all(np.sum(out * q, axis=-1) > 0)
    # the jitter measure itself ignores the representation's sign
    assert rotation_jitter_deg(q, fps) == pytest.approx(rotation_jitter_deg(np.abs(q[..., :1]) / q[..., :1] * q, fps))
    assert smooth_rotations(q, 1.0, fps).dtype == q.dtype
    assert rotation_jitter_deg(smooth_rotations(q, 1.0, fps), fps) < j_out


def test_position_smoothing_reduces_jitter_and_keeps_linear_motion(walk):
    x, fps = walk["noisy_x"], walk["fps"]
    out = smooth_positions(x, 0.5, fps)
    assert position_jitter_mm(out) < 0.3 * position_jitter_mm(x)
    err = lambda a: np.linalg.norm(a - walk["clean_x"], axis=-1).mean()  # noqa: E731
    assert err(out) < 0.8 * err(x)
    line = np.linspace(0.0, 3.0, 50)[:, None] * np.array([0.3, -1.0, 0.05]) + [1.0, 2.0, 0.9]
    np.testing.assert_allclose(smooth_positions(line, 1.0, 30.0), line, atol=1e-9)   # ends included
    assert position_jitter_mm(line) == pytest.approx(0.0, abs=1e-9)


def test_unkeyed_frames_do_not_bleed(walk):
    x, fps = walk["noisy_x"].copy(), walk["fps"]
    keyed = np.ones(len(x), dtype=bool)
    keyed[30:45] = False
    x[30:45] += 5.0                                                      # held pose far away
    out = smooth_positions(x, 1.0, fps, keyed=keyed)
    np.testing.assert_array_equal(out[30:45], x[30:45])
    np.testing.assert_allclose(out[:30], smooth_positions(x[:30], 1.0, fps), atol=1e-12)
    q = walk["noisy_q"]
    out_q = smooth_rotations(q, 1.0, fps, keyed=keyed)
    np.testing.assert_array_equal(out_q[30:45], q[30:45])
    np.testing.assert_allclose(out_q[45:], smooth_rotations(q[45:], 1.0, fps), atol=1e-6)
    assert position_jitter_mm(x, keyed) < 0.1 * position_jitter_mm(x)   # the jump is not counted


def test_bad_input(walk):
    with pytest.raises(ValueError, match="strength"):
        smooth_rotations(walk["noisy_q"], 1.5, 30.0)
    with pytest.raises(ValueError, match="fps"):
        smooth_positions(walk["noisy_x"], 0.5, 0.0)
    with pytest.raises(ValueError, match="keyed"):
        smooth_positions(walk["noisy_x"], 0.5, 30.0, keyed=np.ones(3, dtype=bool))
    with pytest.raises(ValueError, match=r"\(T, \.\.\., 4\)"):
        smooth_rotations(np.zeros((10, sk.NUM_JOINTS, 3)), 0.5, 30.0)
