"""inference.core.rotations.forward_kinematics against a naive loop and hand-computed poses."""
from __future__ import annotations

import numpy as np
import pytest

from uplift_mocap.inference.core import rotations as R
from uplift_mocap.inference.core import skeleton as S

J = S.NUM_JOINTS


def rz(t):
    c, s = np.cos(t), np.sin(t)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def random_quats(rng, shape):
    q = rng.normal(size=shape + (4,))
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def naive_fk(local_m, root, offsets):
    """Per frame, per joint: walk the chain root -> j explicitly. local_m (T, J, 3, 3), root (T, 3),
    offsets (T, J, 3). Returns positions (T, J, 3), global rotations (T, J, 3, 3)."""
    T = local_m.shape[0]
    pos = np.zeros((T, J, 3))
    glob = np.zeros((T, J, 3, 3))
    for t in range(T):
        for j in range(J):
            chain = [j]
            while S.PARENTS[chain[-1]] >= 0:
                chain.append(int(S.PARENTS[chain[-1]]))
            chain.reverse()  # root ... j
            g = np.eye(3)
            p = np.array(root[t], dtype=np.float64)
            for n, k in enumerate(chain):
                if n > 0:  # offset of k from its parent, in the parent's global frame
                    p = p + g @ offsets[t, k]
                g = g @ local_m[t, k]
            pos[t, j] = p
            glob[t, j] = g
    return pos, glob


def test_skeleton_tables_are_consistent():
    assert S.PARENTS[0] == -1 and np.all(S.PARENTS[1:] < np.arange(1, J))
    assert S.REST_OFFSETS.shape == (J, 3)


@pytest.mark.parametrize("use_matrix", [False, True])
def test_matches_naive_loop(use_matrix):
    rng = np.random.default_rng(0)
    T = 4
    q = random_quats(rng, (T, J))
    root = rng.normal(size=(T, 3))
    local = R.quat_to_matrix(q) if use_matrix else q
    pos, glob = R.forward_kinematics(local, root, S.REST_OFFSETS, S.PARENTS)
    assert pos.shape == (T, J, 3) and glob.shape == (T, J, 3, 3)
    ref_pos, ref_glob = naive_fk(R.quat_to_matrix(q), root, np.broadcast_to(S.REST_OFFSETS, (T, J, 3)))
    np.testing.assert_allclose(pos, ref_pos, atol=1e-12)
    np.testing.assert_allclose(glob, ref_glob, atol=1e-12)
    # bone lengths are preserved by any rotation
    lengths = np.linalg.norm(pos[:, 1:] - pos[:, S.PARENTS[1:]], axis=-1)
    np.testing.assert_allclose(lengths, np.broadcast_to(S.bone_lengths()[1:], (T, J - 1)), atol=1e-12)


def test_per_frame_offsets_and_extra_batch_dims():
    rng = np.random.default_rng(1)
    B, T = 2, 3
    q = random_quats(rng, (B, T, J))
    root = rng.normal(size=(B, T, 3))
    offsets = S.REST_OFFSETS * rng.uniform(0.7, 1.3, size=(B, T, J, 1))
    offsets[..., 0, :] = 0.0
    pos, glob = R.forward_kinematics(q, root, offsets, S.PARENTS)
    assert pos.shape == (B, T, J, 3) and glob.shape == (B, T, J, 3, 3)
    for b in range(B):
        ref_pos, ref_glob = naive_fk(R.quat_to_matrix(q[b]), root[b], offsets[b])
        np.testing.assert_allclose(pos[b], ref_pos, atol=1e-12)
        np.testing.assert_allclose(glob[b], ref_glob, atol=1e-12)
    # the root row of the offsets is ignored
    junk = offsets.copy()
    junk[..., 0, :] = 9.0
    np.testing.assert_array_equal(R.forward_kinematics(q, root, junk, S.PARENTS)[0], pos)


def test_identity_gives_rest_pose_plus_root():
    T = 3
    ident = np.tile([1.0, 0, 0, 0], (T, J, 1))
    root = np.array([[0.0, 0, 0], [1.0, -2.0, 0.9], [0.5, 0.5, 0.5]])
    pos, glob = R.forward_kinematics(ident, root, S.REST_OFFSETS, S.PARENTS)
    np.testing.assert_allclose(pos, S.rest_positions()[None] + root[:, None], atol=1e-15)
    np.testing.assert_allclose(glob, np.broadcast_to(np.eye(3), (T, J, 3, 3)), atol=1e-15)
    # per-frame offsets with identity rotations: each frame's rest pose
    offsets = np.stack([S.REST_OFFSETS * s for s in (0.9, 1.0, 1.1)])
    pos, _ = R.forward_kinematics(ident, root, offsets, S.PARENTS)
    for t in range(T):
        np.testing.assert_allclose(pos[t], S.rest_positions(offsets[t]) + root[t], atol=1e-15)


def test_elbow_bend_by_hand():
    """Left elbow (forearm_l) bent 90 deg about -Z: the forearm now points forward (-Y)."""
    local = np.tile(np.eye(3), (J, 1, 1))
    elbow = S.JOINT_INDEX["forearm_l"]
    hand = S.JOINT_INDEX["hand_l"]
    local[elbow] = rz(-np.pi / 2)
    pos, glob = R.forward_kinematics(local, np.zeros(3), S.REST_OFFSETS, S.PARENTS)
    # by hand: the elbow is the sum of the rest offsets along pelvis -> spine -> clavicle -> arm
    chain = ["spine_01", "spine_02", "spine_03", "clavicle_l", "upperarm_l", "forearm_l"]
    elbow_pos = sum(S.REST_OFFSETS[S.JOINT_INDEX[n]] for n in chain)
    forearm = S.REST_OFFSETS[hand]
    assert forearm[0] > 0.1 and forearm[1] == forearm[2] == 0  # T-pose: forearm along +X
    np.testing.assert_allclose(pos[elbow], elbow_pos, atol=1e-12)  # the elbow itself does not move
    np.testing.assert_allclose(pos[hand], elbow_pos + [0.0, -forearm[0], 0.0], atol=1e-12)  # now forward (-Y)
    np.testing.assert_allclose(glob[hand], rz(-np.pi / 2), atol=1e-12)
    others = [j for j in range(J) if j != hand]
    np.testing.assert_allclose(pos[others], S.rest_positions()[others], atol=1e-12)


def test_root_rotation_turns_whole_body():
    """Pelvis turned +90 deg about Z (+X goes to +Y) and moved: the rest pose turns about the root."""
    q = np.tile([1.0, 0, 0, 0], (J, 1))
    q[0] = [np.cos(np.pi / 4), 0, 0, np.sin(np.pi / 4)]
    root = np.array([1.0, 2.0, 0.95])
    pos, glob = R.forward_kinematics(q, root, S.REST_OFFSETS, S.PARENTS)
    np.testing.assert_allclose(pos, root + S.rest_positions() @ rz(np.pi / 2).T, atol=1e-12)
    hand = S.JOINT_INDEX["hand_l"]
    rest_hand = S.rest_positions()[hand]
    np.testing.assert_allclose(pos[hand], root + [-rest_hand[1], rest_hand[0], rest_hand[2]], atol=1e-12)
    np.testing.assert_allclose(glob, np.broadcast_to(rz(np.pi / 2), (J, 3, 3)), atol=1e-12)


def test_float32_and_errors():
    rng = np.random.default_rng(2)
    q = random_quats(rng, (2, J)).astype(np.float32)
    pos, glob = R.forward_kinematics(q, np.zeros((2, 3), np.float32), S.REST_OFFSETS.astype(np.float32), S.PARENTS)
    assert pos.dtype == np.float32 and glob.dtype == np.float32
    ref, _ = R.forward_kinematics(q.astype(np.float64), np.zeros((2, 3)), S.REST_OFFSETS, S.PARENTS)
    np.testing.assert_allclose(pos, ref, atol=1e-5)
    with pytest.raises(ValueError, match="joints"):
        R.forward_kinematics(q[:, :-1], np.zeros(3), S.REST_OFFSETS, S.PARENTS)
    with pytest.raises(ValueError, match=r"\(21, 3\)"):
        R.forward_kinematics(q, np.zeros(3), S.REST_OFFSETS[:-1], S.PARENTS)
    with pytest.raises(ValueError, match=r"\(2, 2\)"):
        R.forward_kinematics(q, np.zeros((2, 2)), S.REST_OFFSETS, S.PARENTS)
    with pytest.raises(ValueError, match=r"\(2, 22, 3\)"):
        R.forward_kinematics(q[..., :3], np.zeros(3), S.REST_OFFSETS, S.PARENTS)
