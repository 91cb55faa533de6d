"""Measured rest offsets (``inference.pipeline.proportions``): branch attachments recovered from joints and
rotations, canonical directions elsewhere, symmetry, robustness and the plausibility guard."""
from __future__ import annotations

import numpy as np
import pytest

from uplift_mocap.inference.core import skeleton as S
from uplift_mocap.inference.pipeline.proportions import BRANCH_JOINTS, measured_offsets
from uplift_mocap.inference.core.rotations import axis_angle_to_quat, forward_kinematics, quat_apply

FLIP = np.array([-1.0, 1.0, 1.0])


def _body(turn_deg: float, scale: float = 1.07) -> np.ndarray:
    """Canonical offsets x scale with every branch offset turned by turn_deg: side branches about Y
    (mirrored on the right), centre ones (spine, neck) about X."""
    off = S.REST_OFFSETS.astype(np.float64) * scale
    for c in BRANCH_JOINTS:
        a = np.radians(turn_deg)
        axis = [a, 0.0, 0.0] if S.MIRROR[c] == c else [0.0, np.sign(off[c, 0]) * a, 0.0]
        off[c] = quat_apply(axis_angle_to_quat(np.array(axis)), off[c])
    return off


def _motion(offsets: np.ndarray, frames: int = 40, seed: int = 0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    q = axis_angle_to_quat(rng.normal(0.0, 0.4, (frames, S.NUM_JOINTS, 3)))
    joints = forward_kinematics(q, np.zeros((frames, 3)), offsets, S.PARENTS)[0]
    return joints.astype(dtype), q.astype(dtype), np.linalg.norm(offsets, axis=-1).astype(dtype)


def test_branches_are_derived_from_the_parents_array():
    assert {S.JOINT_NAMES[c] for c in BRANCH_JOINTS} == {"spine_01", "thigh_l", "thigh_r", "neck",
                                                         "clavicle_l", "clavicle_r"}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_recovers_branch_offsets_and_keeps_chains_canonical(dtype):
    body = _body(20.0)
    joints, q, lengths = _motion(body, dtype=dtype)
    got = measured_offsets(joints, q, lengths)
    assert got.dtype == np.float64 and got.shape == (S.NUM_JOINTS, 3)
    np.testing.assert_allclose(got, body, atol=2e-6 if dtype == np.float32 else 1e-9)
    # the canonical skeleton itself comes back unchanged
    canon = S.offsets_from_lengths(lengths.astype(np.float64))
    joints_c = forward_kinematics(q.astype(np.float64), np.zeros((len(q), 3)), canon, S.PARENTS)[0]
    np.testing.assert_allclose(measured_offsets(joints_c, q, lengths), canon, atol=1e-9)


def test_made_symmetric_and_robust_to_bad_frames():
    body = _body(15.0)
    thigh_l, thigh_r = S.JOINT_INDEX["thigh_l"], S.JOINT_INDEX["thigh_r"]
    lopsided = body.copy()
    lopsided[thigh_l] += [0.02, 0.0, 0.0]      # left hip 2 cm wider than the right
    joints, q, lengths = _motion(lopsided, frames=60, seed=1)
    rng = np.random.default_rng(2)
    bad = rng.random(60) < 0.2
    joints[bad] += rng.normal(0.0, 0.3, joints[bad].shape)   # a fifth of the frames are garbage
    got = measured_offsets(joints, q, lengths)
    np.testing.assert_allclose(got[thigh_r] * FLIP, got[thigh_l], atol=1e-12)
    assert abs(got[thigh_l, 0] - (body[thigh_l, 0] + 0.01)) < 0.01
    # frames marked invalid are ignored exactly
    clean = measured_offsets(*_motion(lopsided, frames=60, seed=1))
    np.testing.assert_allclose(measured_offsets(joints, q, lengths, valid=~bad), clean, atol=1e-9)


def test_implausible_attachments_fall_back_to_canonical():
    body = _body(60.0)                         # beyond the 45 deg guard
    joints, q, lengths = _motion(body)
    got = measured_offsets(joints, q, lengths)
    np.testing.assert_allclose(got, S.offsets_from_lengths(lengths), atol=1e-9)
    assert not np.allclose(measured_offsets(joints, q, lengths, max_angle_deg=70.0), got)
    # no valid frame: canonical directions with the median lengths of all frames
    per_frame = np.tile(lengths, (len(q), 1))
    np.testing.assert_allclose(measured_offsets(joints, q, per_frame, valid=np.zeros(len(q), bool)),
                               S.offsets_from_lengths(lengths), atol=1e-12)


def test_bad_shapes_are_named():
    joints, q, lengths = _motion(_body(0.0), frames=5)
    with pytest.raises(ValueError, match="joints"):
        measured_offsets(joints[:, :10], q, lengths)
