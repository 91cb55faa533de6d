"""dev/training/motion_pack.py: the compact training library that travels to a GPU machine."""
from __future__ import annotations

import numpy as np
import pytest

from uplift_mocap.dev.training import motion_library as ml
from uplift_mocap.dev.training import motion_pack as mp
from uplift_mocap.inference.core import rotations as R
from uplift_mocap.inference.core import skeleton as sk


def _motion(rng, t, name):
    time_s = np.arange(t)[:, None, None] / 30.0
    freq, phase = rng.uniform(0.2, 1.5, (1, sk.NUM_JOINTS, 3)), rng.uniform(0, 6, (1, sk.NUM_JOINTS, 3))
    rot = R.axis_angle_to_quat(rng.uniform(0.0, 1.5, (1, sk.NUM_JOINTS, 3)) * np.sin(2 * np.pi * freq * time_s + phase))
    rot[rng.random(rot.shape[:2]) < 0.3] *= -1                   # sign flips must not matter
    root = np.stack([0.9 * time_s[:, 0, 0], np.zeros(t), 0.95 + 0.03 * np.sin(4 * time_s[:, 0, 0])], -1)
    off = (sk.REST_OFFSETS * rng.uniform(0.9, 1.1, (sk.NUM_JOINTS, 1))).astype(np.float32)
    return ml.Motion(rot.astype(np.float32), root.astype(np.float32), off, name, 30.0, 120.0, t * 4)


def test_round_trip_keeps_motion_names_and_bodies(tmp_path):
    rng = np.random.default_rng(0)
    motions = [_motion(rng, t, f"clip{i}") for i, t in enumerate((301, 90, 2))]
    path = mp.write_pack(motions, tmp_path / "p" / "train.npz")
    back = mp.read_pack(path, fps=30.0)
    assert [m.name for m in back] == ["clip0", "clip1", "clip2"]
    for a, b in zip(motions, back):
        np.testing.assert_array_equal(a.offsets, b.offsets)
        assert b.fps == 30.0 and b.source_fps == 120.0 and abs(b.num_frames - a.num_frames) <= 1
        n = b.num_frames
        err = np.degrees(R.quat_angle(a.local_rot[:n], b.local_rot[:n]))
        # stored at 15 fps: slerp between stored frames; smooth motion comes back within a degree or two
        assert err.mean() < 1.0 and err.max() < 5.0
        np.testing.assert_allclose(b.root[:n], a.root[:n], atol=2e-3)
        np.testing.assert_allclose(np.linalg.norm(b.local_rot, axis=-1), 1.0, atol=1e-5)
    # at the pack's own rate only the quantisation is left
    same = mp.read_pack(path, fps=mp.PACK_FPS)[0]
    src = ml.resample(motions[0].local_rot, motions[0].root, 30.0, mp.PACK_FPS)[0]
    assert np.degrees(R.quat_angle(src, same.local_rot)).max() < 0.05


def test_pack_is_much_smaller_than_float32(tmp_path):
    rng = np.random.default_rng(1)
    motions = [_motion(rng, 900, f"c{i}") for i in range(4)]
    path = mp.write_pack(motions, tmp_path / "train.npz")
    raw = sum(m.local_rot.nbytes + m.root.nbytes for m in motions)
    assert path.stat().st_size < raw / 4     # half the frames, 2 bytes a value, compressed differences


def test_not_a_pack_is_a_clear_error(tmp_path):
    bad = tmp_path / "x.npz"
    np.savez(bad, meta=np.array('{"format": "other"}'), lengths=np.zeros(0), roots=np.zeros((0, 3)),
             offsets=np.zeros((0, 22, 3)), rotations=np.zeros(0, np.uint8))
    with pytest.raises(ValueError, match="not a motion pack"):
        mp.read_pack(bad)
