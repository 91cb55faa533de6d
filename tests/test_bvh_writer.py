"""inference/mocap/bvh_writer.py: canonical motion -> BVH -> read_bvh gives back the same joints.

The reader's FK runs in the file's Y-up axes; BVH (x, y, z) -> Blender is (x, -z, y), written
out by hand here as ``to_blender`` rather than taken from the writer.
"""
from __future__ import annotations

import gzip
import io
import itertools

import numpy as np
import pytest

from uplift_mocap.inference.core import rotations as R
from uplift_mocap.inference.core import skeleton as S
from uplift_mocap.inference.mocap.bvh import parse_bvh, read_bvh
from uplift_mocap.inference.mocap.bvh_writer import write_bvh

ORDERS = ["".join(p) for p in itertools.permutations("XYZ")]


def to_blender(v: np.ndarray) -> np.ndarray:
    """(..., 3) BVH Y-up axes -> Blender Z-up axes."""
    return np.stack([v[..., 0], -v[..., 2], v[..., 1]], axis=-1)


def mat_to_blender(m: np.ndarray) -> np.ndarray:
    a = to_blender(np.eye(3)).T          # columns: images of the BVH basis vectors
    return a @ m @ a.T


def smooth_motion(frames: int, seed: int = 0, max_deg: float = 60.0):
    """(T, J, 4) smooth random local rotations and a walking (T, 3) root path, Blender frame."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, frames)[:, None, None]
    amp = rng.uniform(-1, 1, (2, S.NUM_JOINTS, 3)) * np.radians(max_deg) / 2
    freq = rng.uniform(0.5, 2.0, (2, S.NUM_JOINTS, 3))
    phase = rng.uniform(0, 2 * np.pi, (2, S.NUM_JOINTS, 3))
    aa = sum(amp[i] * np.sin(2 * np.pi * freq[i] * t + phase[i]) for i in range(2))   # (T, J, 3)
    step = np.linspace(0.0, 1.0, frames)
    root = np.stack([0.3 * np.sin(3 * step), -2.5 * step, 0.95 + 0.03 * np.sin(20 * step)], axis=-1)
    return R.axis_angle_to_quat(aa), root


def read_back(path_or_text, **kw):
    """Read with the reader's FK; joints, rotations back in Blender axes. Never drops frame 0
    unless asked: motion that starts in the exact rest pose looks like a cgspeed T-pose."""
    kw.setdefault("drop_tpose", False)
    bvh = read_bvh(path_or_text, **kw) if not isinstance(path_or_text, str) else parse_bvh(path_or_text, **kw)
    pos, rot = bvh.forward_kinematics()
    return bvh, to_blender(pos), mat_to_blender(rot)


@pytest.mark.parametrize("units,scale", [("m", 1.0), ("cm", 0.01)])
def test_round_trip_matches_fk(tmp_path, units, scale):
    q, root = smooth_motion(90, seed=1)
    path = tmp_path / f"take_{units}.bvh"
    write_bvh(path, q, root, fps=30, units=units)
    bvh, pos, rot = read_back(path, drop_tpose="auto")
    ref_pos, ref_rot = R.forward_kinematics(q, root, S.REST_OFFSETS, S.PARENTS)
    assert bvh.scale == pytest.approx(scale)            # unit detection agrees with `units`
    assert bvh.names == list(S.JOINT_NAMES)
    assert bvh.parents.tolist() == S.PARENTS.tolist()
    assert bvh.fps == pytest.approx(30.0) and bvh.num_frames == 90 and not bvh.dropped_tpose
    assert len(bvh.joints[0].channels) == 6 and all(len(j.channels) == 3 for j in bvh.joints[1:])
    np.testing.assert_allclose(to_blender(bvh.offsets), S.REST_OFFSETS, atol=1e-9)
    assert np.abs(pos - ref_pos).max() < 1e-4
    assert np.abs(rot - ref_rot).max() < 1e-5
    # each joint's channels are exactly its local rotation (rest frames are world-aligned)
    local = mat_to_blender(bvh.local_rotations())
    np.testing.assert_allclose(local, R.quat_to_matrix(q), atol=1e-6)
    # leaf End Sites are the skeleton's leaf tails
    for j, tail in S.LEAF_TAILS.items():
        np.testing.assert_allclose(to_blender(bvh.joints[j].end_site), tail, atol=1e-9)
    assert all((bvh.joints[j].end_site is None) == (j not in S.LEAF_TAILS) for j in range(S.NUM_JOINTS))


def test_text_layout_and_precision():
    q, root = smooth_motion(3, seed=2)
    buf = io.StringIO()
    write_bvh(buf, q, root, fps=24, units="cm")
    lines = buf.getvalue().splitlines()
    assert lines[:5] == ["HIERARCHY", "ROOT pelvis", "{", "\tOFFSET 0.000000 0.000000 0.000000",
                         "\tCHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation"]
    i = lines.index("MOTION")
    assert lines[i + 1:i + 3] == ["Frames: 3", "Frame Time: 0.0416666667"]
    rows = lines[i + 3:]
    assert len(rows) == 3 and all(len(r.split()) == 6 + 3 * (S.NUM_JOINTS - 1) for r in rows)
    # root position in centimetres, Blender (x, y, z) -> BVH (x, z, -y), 6 decimals
    x, y, z = root[0] * 100
    assert rows[0].split()[:3] == [f"{x:.6f}", f"{z:.6f}", f"{-y:.6f}"]
    assert "-0.000000" not in buf.getvalue()
    # the thigh offset (x, y, z) m becomes (100 x, 100 z, -100 y) cm
    k = lines.index("\tJOINT thigh_l")
    x, y, z = S.REST_OFFSETS[S.JOINT_INDEX["thigh_l"]] * 100
    assert lines[k + 1:k + 3] == ["\t{", f"\t\tOFFSET {x:.6f} {z:.6f} {-y + 0.0:.6f}"]


@pytest.mark.parametrize("order", ORDERS)
def test_euler_edge_cases(order):
    """Quarter and half turns about every axis (gimbal lock for each order), each on every joint."""
    turns = [R.axis_angle_to_quat(np.radians(a) * np.array(ax, dtype=float))
             for ax in ([1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [0, 1, 1], [1, 0, 1])
             for a in (90, -90, 180, 89.9999, -90.0001)]
    turns += [R.quat_multiply(R.axis_angle_to_quat([0, 0, np.pi / 2]), R.axis_angle_to_quat([np.pi / 2, 0, 0])),
              R.quat_multiply(R.axis_angle_to_quat([0, np.pi / 2, 0]), R.axis_angle_to_quat([0, 0, -np.pi / 2])),
              np.array([1.0, 0, 0, 0])]
    turns = np.stack(turns)                                   # (K, 4)
    k = len(turns)
    # frame t gives joint j the turn (t + j) mod K, so every joint sees every turn
    idx = (np.arange(k)[:, None] + np.arange(S.NUM_JOINTS)[None, :]) % k
    q = turns[idx]
    root = np.tile([0.1, -0.2, 1.0], (k, 1))
    buf = io.StringIO()
    write_bvh(buf, q, root, fps=60, euler_order=order)
    bvh, pos, rot = read_back(buf.getvalue())
    assert bvh.joints[3].channels == [f"{a}rotation" for a in order]
    ref_pos, ref_rot = R.forward_kinematics(q, root, S.REST_OFFSETS, S.PARENTS)
    assert np.abs(pos - ref_pos).max() < 1e-4
    np.testing.assert_allclose(mat_to_blender(bvh.local_rotations()), R.quat_to_matrix(q), atol=1e-6)


def test_spinning_joint_has_no_angle_jumps():
    """Three full turns of the pelvis about Z: the written angles are unwrapped in time."""
    t = 120
    ang = np.linspace(0, 6 * np.pi, t)
    q = np.tile([1.0, 0, 0, 0], (t, S.NUM_JOINTS, 1))
    q[:, 0] = R.axis_angle_to_quat(ang[:, None] * np.array([0.0, 0.0, 1.0]))
    root = np.zeros((t, 3))
    buf = io.StringIO()
    write_bvh(buf, q, root, fps=30)
    bvh, pos, _ = read_back(buf.getvalue(), scale=1.0)
    yrot = bvh.motion[:, 5]                          # BVH Y is Blender Z
    assert np.abs(np.diff(yrot)).max() < 10.0
    assert yrot[-1] - yrot[0] == pytest.approx(1080.0, abs=1e-3)
    ref, _ = R.forward_kinematics(q, root, S.REST_OFFSETS, S.PARENTS)
    assert np.abs(pos - ref).max() < 1e-4


def test_scaled_offsets_scale_the_end_sites(tmp_path):
    offsets = S.offsets_from_lengths(S.bone_lengths() * 1.15)
    q, root = smooth_motion(20, seed=3)
    path = tmp_path / "tall.bvh.gz"                   # .gz suffix: gzip output
    write_bvh(path, q, root, fps=25, offsets=offsets)
    with gzip.open(path, "rt") as fh:
        assert fh.readline() == "HIERARCHY\n"
    bvh, pos, _ = read_back(path)
    ref, _ = R.forward_kinematics(q, root, offsets, S.PARENTS)
    assert np.abs(pos - ref).max() < 1e-4
    for j, tail in S.LEAF_TAILS.items():
        np.testing.assert_allclose(to_blender(bvh.joints[j].end_site), tail * 1.15, atol=1e-6)


def test_custom_skeleton_written_depth_first():
    """parents[j] < j but not depth-first: the file lists joints depth-first, same motion."""
    parents = np.array([-1, 0, 0, 1])
    names = ["root", "spine", "leg", "head"]
    offsets = np.array([[0, 0, 0], [0, 0, 0.5], [0.1, 0, -0.9], [0, 0, 0.6]])
    rng = np.random.default_rng(4)
    q = R.quat_normalize(rng.normal(size=(5, 4, 4)))
    root = rng.normal(size=(5, 3))
    buf = io.StringIO()
    write_bvh(buf, q, root, fps=30, offsets=offsets, names=names, parents=parents)
    bvh, pos, _ = read_back(buf.getvalue(), scale=1.0)
    assert bvh.names == ["root", "spine", "head", "leg"]
    assert bvh.parents.tolist() == [-1, 0, 1, 0]
    ref, _ = R.forward_kinematics(q, root, offsets, parents)
    assert np.abs(pos - ref[:, [0, 1, 3, 2]]).max() < 1e-4
    np.testing.assert_allclose(to_blender(bvh.joints[2].end_site), 0.5 * offsets[3], atol=1e-9)


def test_matrix_and_float32_input():
    q, root = smooth_motion(10, seed=5)
    a, b = io.StringIO(), io.StringIO()
    write_bvh(a, q.astype(np.float32), root.astype(np.float32), fps=30)
    write_bvh(b, R.quat_to_matrix(q), root, fps=30)
    _, pa, _ = read_back(a.getvalue())
    _, pb, _ = read_back(b.getvalue())
    assert np.abs(pa - pb).max() < 1e-4


def test_ten_thousand_frames_round_trip():
    q, root = smooth_motion(10_000, seed=6)
    buf = io.StringIO()
    write_bvh(buf, q, root, fps=120)
    bvh, pos, _ = read_back(buf.getvalue())
    ref, _ = R.forward_kinematics(q[::500], root[::500], S.REST_OFFSETS, S.PARENTS)
    assert bvh.num_frames == 10_000 and np.abs(pos[::500] - ref).max() < 1e-4


Q1, T1 = smooth_motion(4)


@pytest.mark.parametrize("kwargs,message", [
    (dict(local_rot=Q1[:, :5]), r"local_rot must be \(T, 22, 4\)"),
    (dict(local_rot=Q1[..., :3]), "local_rot must be"),
    (dict(local_rot=Q1[:0], root_translation=T1[:0]), "no frames"),
    (dict(root_translation=T1[:3]), r"root_translation must be \(4, 3\)"),
    (dict(root_translation=T1[:, :2]), "root_translation must be"),
    (dict(offsets=S.REST_OFFSETS[:5]), r"offsets must be \(22, 3\)"),
    (dict(names=S.JOINT_NAMES[:3]), "3 names for 22 joints"),
    (dict(names=("left hand",) + S.JOINT_NAMES[1:]), "without whitespace"),
    (dict(names=("pelvis",) * 22), "unique"),
    (dict(local_rot=Q1[:, :4], parents=[-1, 0, 1, 1], offsets=S.REST_OFFSETS[:4]), "names are required"),
    (dict(parents=np.r_[-1, np.arange(2, 23)]), "parents must be"),
    (dict(units="mm"), "units must be one of"),
    (dict(euler_order="XYX"), "euler_order must be a permutation"),
    (dict(fps=0), "fps must be positive"),
    (dict(fps=float("nan")), "fps must be positive"),
    (dict(root_translation=np.full((4, 3), np.nan)), "root_translation has non-finite"),
])
def test_bad_input_raises_value_error(kwargs, message):
    args = dict(local_rot=Q1, root_translation=T1, fps=30.0) | kwargs
    with pytest.raises(ValueError, match=message):
        write_bvh(io.StringIO(), **args)
