"""inference/pipeline/motion_clip.py: MotionClip writers (npz exact, JSON readable, dense BVH) and the registry."""
from __future__ import annotations

import json

import numpy as np
import pytest

from uplift_mocap.inference.pipeline import motion_clip as mc
from uplift_mocap.inference.core import rotations as R
from uplift_mocap.inference.core import skeleton as S
from uplift_mocap.inference.mocap.bvh import read_bvh
from uplift_mocap.inference.pipeline.motion_clip import MotionClip


def _to_blender(v: np.ndarray) -> np.ndarray:
    """(..., 3) BVH Y-up axes -> Blender Z-up axes, written out by hand (not taken from the writer)."""
    return np.stack([v[..., 0], -v[..., 2], v[..., 1]], axis=-1)


def _mat_to_blender(m: np.ndarray) -> np.ndarray:
    a = _to_blender(np.eye(3)).T
    return a @ m @ a.T


def make_clip(frames: int = 40, seed: int = 0, fps: float = 25.0) -> MotionClip:
    rng = np.random.default_rng(seed)
    t = np.arange(frames)[:, None, None] / fps
    aa = rng.uniform(-0.6, 0.6, (1, S.NUM_JOINTS, 3)) * np.sin(2 * np.pi * rng.uniform(0.3, 1.5, (1, S.NUM_JOINTS, 3))
                                                              * t + rng.uniform(0, 6, (1, S.NUM_JOINTS, 3)))
    q = R.quat_canonical(R.axis_angle_to_quat(aa)).astype(np.float32)
    root = np.stack([0.2 * np.sin(t[:, 0, 0]), -1.2 * t[:, 0, 0], 0.95 + 0.02 * np.cos(6 * t[:, 0, 0])], -1)
    offsets = (S.REST_OFFSETS * 1.07).astype(np.float32)
    joints = R.forward_kinematics(q, root, offsets, S.PARENTS)[0]
    keyed = np.ones(frames, bool)
    return MotionClip(fps=fps, times_s=np.arange(frames) / fps + 1.0, frame_indices=np.arange(frames) + 25,
                      local_rot=q, root_translation=root.astype(np.float32), joints=joints.astype(np.float32),
                      offsets=offsets, confidence=rng.uniform(0, 1, frames).astype(np.float32), keyed=keyed,
                      timings={"detect": 1.25, "lift": 0.01}, source="walk.mp4",
                      info={"width": 640, "height": 360, "detected_fraction": 0.95,
                            "gaps": [{"start": 3, "stop": 5, "filled": True}], "focal_px": 512.5,
                            "contacts": rng.uniform(size=(frames, 2)) > 0.5,
                            "cam_from_world": np.eye(3) * 0.5, "focal_mm": None})


def test_npz_round_trip_is_exact(tmp_path):
    clip = make_clip()
    path = tmp_path / "clip.npz"
    mc.write_npz(clip, path)
    back = mc.read_npz(path)
    for k in ("times_s", "frame_indices", "local_rot", "root_translation", "joints", "offsets", "confidence", "keyed"):
        a, b = getattr(clip, k), getattr(back, k)
        assert a.dtype == b.dtype, k
        np.testing.assert_array_equal(a, b, err_msg=k)
    assert back.fps == clip.fps and back.joint_names == S.JOINT_NAMES and back.source == "walk.mp4"
    assert back.timings == clip.timings
    assert set(back.info) == set(clip.info)
    for k, v in clip.info.items():
        if isinstance(v, np.ndarray):
            assert back.info[k].dtype == v.dtype
            np.testing.assert_array_equal(back.info[k], v)
        else:
            assert back.info[k] == v, k


def test_npz_writes_the_name_it_is_given(tmp_path):
    mc.write_npz(make_clip(5), tmp_path / "clip.motion")
    assert (tmp_path / "clip.motion").is_file() and not (tmp_path / "clip.motion.npz").exists()
    assert mc.read_npz(tmp_path / "clip.motion").num_frames == 5


def test_read_npz_rejects_other_files(tmp_path):
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(ValueError, match="not a motion clip"):
        mc.read_npz(tmp_path / "other.npz")
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(ValueError, match="junk.npz"):
        mc.read_npz(tmp_path / "junk.npz")


def test_json_is_readable_and_matches(tmp_path):
    clip = make_clip(12)
    clip.keyed[4:7] = False
    path = tmp_path / "clip.json"
    mc.write_json(clip, path)
    text = path.read_text()
    assert text.count("\n") > 12  # indented, not one long line
    doc = json.loads(text)
    assert doc["fps"] == 25.0 and doc["num_frames"] == 12 and doc["joint_names"] == list(S.JOINT_NAMES)
    assert doc["parents"] == S.PARENTS.tolist() and doc["source"] == "walk.mp4"
    assert doc["info"]["width"] == 640 and doc["timings"]["detect"] == 1.25
    assert len(doc["info"]["contacts"]) == 12
    frames = doc["frames"]
    assert len(frames) == 12
    np.testing.assert_allclose([f["local_rot"] for f in frames], clip.local_rot, atol=1e-6)
    np.testing.assert_allclose([f["joints"] for f in frames], clip.joints, atol=1e-6)
    np.testing.assert_allclose([f["root_translation"] for f in frames], clip.root_translation, atol=1e-6)
    np.testing.assert_allclose([f["time_s"] for f in frames], clip.times_s, atol=1e-6)
    assert [f["frame"] for f in frames] == clip.frame_indices.tolist()
    assert [f["keyed"] for f in frames] == clip.keyed.tolist()
    np.testing.assert_allclose([f["confidence"] for f in frames], clip.confidence, atol=1e-4)
    np.testing.assert_allclose(doc["offsets"], clip.offsets, atol=1e-6)


def test_bvh_reads_back_with_the_same_rotations(tmp_path):
    clip = make_clip(30)
    path = tmp_path / "clip.bvh"
    mc.write_clip_bvh(clip, path)
    bvh = read_bvh(path, drop_tpose=False)
    assert bvh.names == list(S.JOINT_NAMES) and bvh.num_frames == 30 and bvh.fps == pytest.approx(25.0)
    local = _mat_to_blender(bvh.local_rotations())
    np.testing.assert_allclose(local, R.quat_to_matrix(clip.local_rot.astype(np.float64)), atol=1e-5)
    pos, _ = bvh.forward_kinematics()
    np.testing.assert_allclose(_to_blender(pos), clip.joints, atol=1e-5)
    np.testing.assert_allclose(_to_blender(bvh.offsets)[1:], clip.offsets[1:], atol=1e-6)


def test_bvh_is_dense_when_frames_are_unkeyed(tmp_path):
    clip = make_clip(30)
    keyed = np.ones(30, bool)
    keyed[:3] = keyed[10:20] = keyed[27:] = False
    clip.keyed = keyed
    clip.local_rot[~keyed] = np.nan  # whatever unkeyed frames hold, the writer does not use it
    clip.root_translation[~keyed] = np.nan
    path = tmp_path / "gappy.bvh"
    mc.write_clip_bvh(clip, path)
    bvh = read_bvh(path, drop_tpose=False)
    assert bvh.num_frames == 30 and np.all(np.isfinite(bvh.motion))
    local = R.matrix_to_quat(_mat_to_blender(bvh.local_rotations()))
    ref = clip.local_rot.astype(np.float64)
    assert np.degrees(R.quat_angle(local[keyed], ref[keyed])).max() < 1e-3
    assert np.degrees(R.quat_angle(local[:3], ref[3][None])).max() < 1e-3     # held before the first key
    assert np.degrees(R.quat_angle(local[27:], ref[26][None])).max() < 1e-3   # held after the last key
    # inside the gap: on the way from frame 9 to frame 20, never further from either end than they are apart
    span = R.quat_angle(ref[9], ref[20])
    for t in range(10, 20):
        assert np.all(R.quat_angle(local[t], ref[9]) <= span + 1e-6)
        assert np.all(R.quat_angle(local[t], ref[20]) <= span + 1e-6)
    mid = R.quat_angle(local[15], ref[9]) / np.maximum(span, 1e-9)
    assert np.all((mid[span > 0.05] > 0.2) & (mid[span > 0.05] < 0.8))
    root = _to_blender(bvh.motion[:, :3])
    np.testing.assert_allclose(root[14], clip.root_translation[9] + (clip.root_translation[20]
                                                                     - clip.root_translation[9]) * 5 / 11, atol=1e-5)


def test_bvh_without_any_key_is_refused(tmp_path):
    clip = make_clip(5)
    clip.keyed[:] = False
    with pytest.raises(ValueError, match="no keyed frames"):
        mc.write_clip_bvh(clip, tmp_path / "none.bvh")


def test_write_clip_and_format_registry(tmp_path, monkeypatch):
    clip = make_clip(8)
    paths = mc.write_clip(clip, tmp_path, "walk", "bvh, npz,json")
    assert [p.name for p in paths] == ["walk.bvh", "walk.npz", "walk.json"] and all(p.is_file() for p in paths)
    assert mc.read_npz(paths[1]).num_frames == 8
    with pytest.raises(ValueError, match=r"unknown output format 'abc' \(available: "):
        mc.write_clip(clip, tmp_path, "walk", ["bvh", "abc"])
    with pytest.raises(ValueError, match="no output format"):
        mc.parse_formats(" , ")
    assert mc.format_for_path("a/b.JSON") == "json"
    with pytest.raises(ValueError, match="cannot tell the output format"):
        mc.format_for_path("clip.abc")
    # a front end adds its own format, resolved lazily from "module:function" with per-format options
    lazy = mc.Writer("bvhcm", ".cm.bvh", "uplift_mocap.inference.pipeline.motion_clip:write_clip_bvh")
    monkeypatch.setitem(mc.WRITERS, "bvhcm", lazy)
    (out,) = mc.write_clip(clip, tmp_path, "walk", ["bvhcm"], options={"bvhcm": {"units": "cm"}})
    assert out.name == "walk.cm.bvh" and mc.format_for_path(out) == "bvhcm"
    assert read_bvh(out).scale == pytest.approx(0.01)
