"""inference/pipeline/limb_fusion.py: limb segments aimed between the rotation and the joints heads."""
from __future__ import annotations

import numpy as np
import pytest

from uplift_mocap.inference.core import rotations as R
from uplift_mocap.inference.core import skeleton as sk
from uplift_mocap.inference.pipeline.limb_fusion import fuse_limb_directions

P = sk.PARENTS


def _pose(t=12, seed=0, dtype=np.float64):
    """(T, J, 4) random local rotations and their (T, J, 3) FK joints on the canonical body."""
    rng = np.random.default_rng(seed)
    q = R.axis_angle_to_quat(rng.normal(0, 0.5, (t, sk.NUM_JOINTS, 3))).astype(dtype)
    joints = R.forward_kinematics(q, np.zeros((t, 3)), sk.REST_OFFSETS, P)[0].astype(dtype)
    return q, joints


def _angle(a, b):
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    return np.degrees(np.arccos(np.clip(np.sum(a * b, -1), -1.0, 1.0)))


def _segments(joints, j):
    return joints[:, sk.PRIMARY_CHILD[j]] - joints[:, j]


def test_limb_joints_come_from_the_skeleton():
    names = {sk.JOINT_NAMES[j] for j in sk.LIMB_JOINTS}
    assert names == {f"{n}_{s}" for n in ("upperarm", "forearm", "thigh", "shin") for s in "lr"}
    assert all(len(sk.CHILDREN[j]) == 1 for j in sk.LIMB_JOINTS)
    assert sorted(sk.MIRROR[list(sk.LIMB_JOINTS)]) == sorted(sk.LIMB_JOINTS)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_agreeing_heads_change_nothing(dtype):
    q, joints = _pose(dtype=dtype)
    out = fuse_limb_directions(joints, q, sk.REST_OFFSETS)
    assert out.dtype == np.float32 and out.shape == q.shape
    assert np.degrees(R.quat_angle(out, q)).max() < 0.05


def test_weight_one_follows_the_joints_and_keeps_everything_else():
    q, _ = _pose(seed=1)
    _, other = _pose(seed=2)  # a different pose for the joints head: every limb disagrees
    out = fuse_limb_directions(other, q, sk.REST_OFFSETS, weight=1.0)
    fk = R.forward_kinematics(out, np.zeros((len(q), 3)), sk.REST_OFFSETS, P)[0]
    for j in sk.LIMB_JOINTS:
        assert _angle(_segments(fk, j), _segments(other, j)).max() < 0.05, sk.JOINT_NAMES[j]
    rest = [j for j in range(sk.NUM_JOINTS) if j not in sk.LIMB_JOINTS]
    assert np.degrees(R.quat_angle(out[:, rest], q[:, rest])).max() < 0.05
    assert np.all(out[..., 0] >= 0.0)


def test_half_weight_aims_halfway_and_only_swings():
    q, joints = _pose(seed=3)
    _, other = _pose(seed=4)
    out = fuse_limb_directions(other, q, sk.REST_OFFSETS, weight=0.5)
    before = R.forward_kinematics(q, np.zeros((len(q), 3)), sk.REST_OFFSETS, P)
    after = R.forward_kinematics(out, np.zeros((len(q), 3)), sk.REST_OFFSETS, P)
    for name in ("upperarm_l", "thigh_r"):  # parents not fused: the FK direction before is the parent's
        j = sk.JOINT_INDEX[name]
        to_joints = _angle(_segments(after[0], j), _segments(other, j))
        to_fk = _angle(_segments(after[0], j), _segments(before[0], j))
        np.testing.assert_allclose(to_joints, to_fk, atol=1e-3)
        assert np.all(to_joints < _angle(_segments(other, j), _segments(before[0], j)))
        # the correction is the shortest arc: its axis is perpendicular to the old segment direction
        swing = R.matrix_to_quat(after[1][:, j] @ np.swapaxes(before[1][:, j], -1, -2))
        axis = swing[:, 1:] / np.maximum(np.linalg.norm(swing[:, 1:], axis=-1, keepdims=True), 1e-12)
        seg = _segments(before[0], j)
        assert np.abs(np.sum(axis * seg / np.linalg.norm(seg, axis=-1, keepdims=True), -1)).max() < 1e-6


def test_bad_input_is_named():
    q, joints = _pose()
    with pytest.raises(ValueError, match="expected"):
        fuse_limb_directions(joints[:, :5], q, sk.REST_OFFSETS)
    with pytest.raises(ValueError, match="weight"):
        fuse_limb_directions(joints, q, sk.REST_OFFSETS, weight=1.5)
