"""dev/evaluation/ik_baseline.py: per-frame L-BFGS IK recovers joint positions and bone directions."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from uplift_mocap.dev.evaluation import metrics as M
from uplift_mocap.inference.core import rotations as R
from uplift_mocap.inference.core import skeleton as sk
from uplift_mocap.dev.evaluation.ik_baseline import IKConfig, solve_ik, swing_init

J = sk.NUM_JOINTS


def _body(seed: int) -> np.ndarray:
    """(J, 3) rest offsets of a randomly proportioned body (not the canonical one)."""
    rng = np.random.default_rng(seed)
    return sk.REST_OFFSETS * rng.uniform(0.85, 1.2, (J, 1))


def _smooth_motion(t: int, seed: int) -> np.ndarray:
    """(T, J, 4) local rotations: a random pose plus smooth sinusoids (<= ~3 deg/frame per axis), the
    root turned well away from the rest orientation."""
    rng = np.random.default_rng(seed)
    time = np.arange(t)[:, None, None] / 30.0
    amp = rng.uniform(0.1, 0.5, (1, J, 3))
    freq = rng.uniform(0.2, 0.8, (1, J, 3))
    phase = rng.uniform(0, 2 * np.pi, (1, J, 3))
    aa = rng.normal(0, 0.3, (1, J, 3)) + amp * np.sin(2 * np.pi * freq * time + phase)
    aa[:, 0] += [0.3, -0.2, 2.4]  # facing roughly backwards, tilted
    return R.axis_angle_to_quat(aa)


def _bone_direction_errors(rot: np.ndarray, joints: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Angle (deg) between each non-root bone of FK(rot) and the same bone in joints: (T, J - 1)."""
    pos = R.forward_kinematics(rot, np.zeros(3), offsets, sk.PARENTS)[0]
    kids = np.arange(1, J)
    a = pos[:, kids] - pos[:, sk.PARENTS[kids]]
    b = joints[:, kids] - joints[:, sk.PARENTS[kids]]
    cos = np.sum(a * b, -1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def test_swing_init_reproduces_a_pose_exactly():
    off = _body(1)
    q = _smooth_motion(1, seed=1)
    joints = R.forward_kinematics(q, np.zeros(3), off, sk.PARENTS)[0]
    local = swing_init(joints[0], off)
    got = R.forward_kinematics(local, np.zeros(3), off, sk.PARENTS)[0]
    assert np.abs(got - joints[0]).max() < 1e-9
    # leaves have nothing to point at: identity
    for leaf in sk.LEAVES:
        assert np.allclose(local[leaf], np.eye(3))


def test_ik_recovers_positions_and_bone_directions_of_smooth_motion():
    off = _body(2)
    q = _smooth_motion(12, seed=2)
    joints = R.forward_kinematics(q, np.array([0.3, 2.0, 0.1]), off, sk.PARENTS)[0]
    res = solve_ik(joints, off)
    rot = res.rotations
    assert rot.shape == (12, J, 4) and rot.dtype == np.float32
    assert np.allclose(np.linalg.norm(rot, axis=-1), 1.0, atol=1e-5) and np.all(rot[..., 0] >= 0)
    pos = R.forward_kinematics(rot.astype(np.float64), np.zeros(3), off, sk.PARENTS)[0]
    assert M.mpjpe(pos, joints) < 5.0
    assert np.all(res.residual_mm < 5.0)
    assert res.residual_mm == pytest.approx(1000 * np.linalg.norm(pos - (joints - joints[:, :1]), axis=-1).mean(-1),
                                            abs=1e-2)
    assert _bone_direction_errors(rot.astype(np.float64), joints, off).max() < 2.0
    # the root orientation (fixed by the hips and the spine) is recovered; it was far from the start
    assert M.joint_angle_errors(rot, q)[:, 0].max() < 2.0
    # per-frame warm start: later frames needed iterations, and the reported rate is positive
    assert res.iterations[1:].min() >= 1 and res.fps > 0


def test_ik_keeps_undetermined_twist_at_the_previous_frame():
    """A still pose: every frame's solution stays at the first one (regulariser + warm start),
    including twists and leaf rotations that positions do not fix."""
    off = sk.REST_OFFSETS
    q = np.repeat(_smooth_motion(1, seed=3), 4, axis=0)
    joints = R.forward_kinematics(q, np.zeros(3), off, sk.PARENTS)[0]
    rot = solve_ik(joints, off, IKConfig(max_iter=20)).rotations
    assert np.degrees(R.quat_angle(rot[1:], rot[:1])).max() < 0.05


def test_ik_rejects_bad_shapes():
    with pytest.raises(ValueError):
        solve_ik(np.zeros((3, J, 2)))
    with pytest.raises(ValueError):
        solve_ik(np.zeros((3, J, 3)), np.zeros((J - 1, 3)))
