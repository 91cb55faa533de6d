"""dev/evaluation/metrics.py against hand-computed values."""
from __future__ import annotations

import numpy as np
import pytest

from uplift_mocap.dev.evaluation import metrics as M
from uplift_mocap.inference.core import rotations as R
from uplift_mocap.inference.core import skeleton as sk

J = sk.NUM_JOINTS


def _motion(t=10, seed=0):
    """(T, J, 3) joints of a random smooth pose sequence and (T, J, 4) its local rotations."""
    rng = np.random.default_rng(seed)
    aa = rng.normal(0, 0.3, (1, J, 3)) + 0.05 * np.arange(t)[:, None, None] * rng.normal(0, 1, (1, J, 3))
    q = R.axis_angle_to_quat(aa)
    pos = R.forward_kinematics(q, np.array([0.1, 0.2, 0.9]), sk.REST_OFFSETS, sk.PARENTS)[0]
    return pos, q


def test_identical_inputs_give_zero():
    pos, q = _motion()
    out = M.pose_metrics(pos, pos.copy(), q, q.copy())
    assert set(out) == set(M.METRIC_KEYS)
    for k, v in out.items():
        assert v == pytest.approx(0.0, abs=1e-6), k


def test_mpjpe_known_offsets_and_root_relative():
    pos, _ = _motion()
    # a 3-4-0 cm offset on one joint: 50 mm on 1 of J joints
    pred = pos.copy()
    pred[:, sk.JOINT_INDEX["hand_l"]] += [0.03, 0.04, 0.0]
    assert M.mpjpe(pred, pos) == pytest.approx(50.0 / J)
    # a global translation disappears root-relative, but not without it
    shifted = pos + [0.0, 0.01, 0.0]
    assert M.mpjpe(shifted, pos) == pytest.approx(0.0, abs=1e-9)
    assert M.mpjpe(shifted, pos, root=None) == pytest.approx(10.0)
    # moving only the root moves every other joint relative to it by the same amount
    root_moved = pos.copy()
    root_moved[:, 0] += [0.0, 0.0, 0.02]
    assert M.mpjpe(root_moved, pos) == pytest.approx(20.0 * (J - 1) / J)


def test_pa_mpjpe_invariant_to_similarity_transform():
    pos, _ = _motion()
    rng = np.random.default_rng(1)
    rot = R.quat_to_matrix(R.quat_normalize(rng.normal(size=4)))
    moved = 1.37 * pos @ rot.T + [0.5, -2.0, 0.3]
    assert M.mpjpe(moved, pos) > 50.0
    assert M.pa_mpjpe(moved, pos) == pytest.approx(0.0, abs=1e-6)
    # with noise: the same value whatever similarity transform was applied to the prediction
    noisy = pos + rng.normal(0, 0.02, pos.shape)
    moved_noisy = 0.8 * noisy @ rot.T - [1.0, 0.0, 2.0]
    assert M.pa_mpjpe(moved_noisy, pos) == pytest.approx(M.pa_mpjpe(noisy, pos), rel=1e-9)
    assert 0.0 < M.pa_mpjpe(noisy, pos) < M.mpjpe(noisy, pos)


def test_pa_mpjpe_allows_no_reflection():
    pos, _ = _motion()
    mirrored = pos * [-1.0, 1.0, 1.0]  # a mirror image is not a rotation of an asymmetric pose
    assert M.pa_mpjpe(mirrored, pos) > 5.0


def test_pa_mpjpe_hand_computed():
    # a cross whose vertical arm is 3x too long: by symmetry the best rotation is the identity and
    # the translation 0; the best scale is sum(p.g) / sum(|p|^2) = 8 / 20 = 0.4, leaving errors
    # 0.6, 0.6, 0.2, 0.2 m -> 400 mm on average (plain MPJPE without the root: (0 + 0 + 2 + 2) / 4 m)
    gt = np.array([[1.0, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0]])
    pred = np.array([[1.0, 0, 0], [-1, 0, 0], [0, 3, 0], [0, -3, 0]])
    assert np.allclose(M.procrustes_align(pred, gt), 0.4 * pred)
    assert M.pa_mpjpe(pred, gt) == pytest.approx(400.0)
    assert M.mpjpe(pred, gt, root=None) == pytest.approx(1000.0)


def test_mpjae_known_rotation():
    _, q = _motion()
    pred = q.copy()
    j = sk.JOINT_INDEX["forearm_r"]
    turn = R.axis_angle_to_quat(np.radians(30.0) * np.array([0.0, 0.6, 0.8]))
    pred[:, j] = R.quat_multiply(pred[:, j], turn)
    assert M.mpjae(pred, q) == pytest.approx(30.0 / J)
    assert M.mpjae(pred, q, include_root=False) == pytest.approx(30.0 / (J - 1))
    assert M.joint_angle_errors(pred, q)[:, j] == pytest.approx(np.full(len(q), 30.0))
    # the root orientation counts only with include_root
    root_off = q.copy()
    root_off[:, 0] = R.quat_multiply(turn, root_off[:, 0])
    assert M.mpjae(root_off, q) == pytest.approx(30.0 / J)
    assert M.mpjae(root_off, q, include_root=False) == pytest.approx(0.0, abs=1e-6)
    # q and -q are the same rotation
    assert M.mpjae(-q, q) == pytest.approx(0.0, abs=1e-6)


def test_accel_error_known_values():
    pos, _ = _motion(t=12)
    t = np.arange(12)[:, None, None]
    # constant offsets and constant-velocity drift have no acceleration error
    assert M.accel_error(pos + 0.05, pos) == pytest.approx(0.0, abs=1e-9)
    drift = pos.copy()
    drift[:, 5] += 0.003 * t[:, 0]
    assert M.accel_error(drift, pos) == pytest.approx(0.0, abs=1e-9)
    # x = a t^2 / 2 on one joint: second difference a = 4 mm/frame^2 there, 0 elsewhere
    acc = pos.copy()
    acc[:, 5, 0] += 0.5 * 0.004 * t[:, 0, 0] ** 2
    assert M.accel_error(acc, pos) == pytest.approx(4.0 / J)
    # a single-frame spike of 1 cm: second differences 10, -20, 10 mm over T - 2 = 10 frames
    spike = pos.copy()
    spike[6, 3] += [0.0, 0.0, 0.01]
    assert M.accel_error(spike, pos) == pytest.approx(40.0 / (10 * J))
    # batched windows: time is axis -3
    both = np.stack([acc, pos])
    assert M.accel_error(both, np.stack([pos, pos])) == pytest.approx(2.0 / J)


def test_bad_shapes_raise():
    pos, q = _motion()
    with pytest.raises(ValueError):
        M.mpjpe(pos, pos[:-1])
    with pytest.raises(ValueError):
        M.mpjae(q[..., :3], q[..., :3])
    with pytest.raises(ValueError):
        M.accel_error(pos[:2], pos[:2])


def test_n_mpjpe_removes_size_but_not_rotation():
    pos, _ = _motion()
    root = pos[:, :1]
    bigger = root + 1.2 * (pos - root) + [0.3, 0.0, 0.0]  # a larger body anywhere
    assert M.mpjpe(bigger, pos) > 50.0
    assert M.n_mpjpe(bigger, pos) == pytest.approx(0.0, abs=1e-6)
    rot = R.quat_to_matrix(R.axis_angle_to_quat(np.array([0.0, 0.0, 0.3])))
    turned = root + (pos - root) @ rot.T
    assert M.n_mpjpe(turned, pos) > 20.0  # a rotation is an error N-MPJPE keeps (PA-MPJPE does not)
    assert M.pa_mpjpe(turned, pos) == pytest.approx(0.0, abs=1e-6)
    noisy = pos + np.random.default_rng(3).normal(0, 0.02, pos.shape)
    assert M.pa_mpjpe(noisy, pos) <= M.n_mpjpe(noisy, pos) <= M.mpjpe(noisy, pos)


def test_n_mpjpe_hand_computed():
    # root at 0, one joint at (1, 0, 0) predicted at (2, 0, 0) and one at (0, 1, 0) predicted at (0, 0, 0):
    # best scale = sum(p.g) / sum(|p|^2) = 2 / 4 = 0.5 -> errors 0, 0, 1 m -> 333.3 mm
    gt = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    pred = np.array([[0.0, 0.0, 0.0], [2.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    assert M.n_mpjpe(pred, gt) == pytest.approx(1000.0 / 3.0)
