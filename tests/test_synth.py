"""dev.training.synth and dev.training.motion_library: training windows, cameras, bodies, landmarks, noise,
splits, resampling and the cached loader (a tiny synthetic library; one test uses ../shared/data)."""
from __future__ import annotations

import math
import os
import time
from pathlib import Path

import numpy as np
import pytest

from uplift_mocap.inference.core import rotations as R
from uplift_mocap.inference.core import skeleton as sk
from uplift_mocap.inference.mocap.bvh_writer import write_bvh
from uplift_mocap.dev.training import motion_library as ml
from uplift_mocap.dev.training.synth import SynthConfig, Synthesizer, camera_rotation, mirror_motion

CONTRACT = {"kp2d": (33, 3), "joints": (22, 3), "local_rot": (22, 4)}
S = np.diag([-1.0, 1.0, 1.0])


def smooth_motion(rng, t, speed=0.8):
    """Random smooth rotations (sums of sines) and a root walking along +x at ``speed`` m/s."""
    time_s = np.arange(t)[:, None, None] / 30.0
    freq, phase = rng.uniform(0.2, 1.2, (1, sk.NUM_JOINTS, 3)), rng.uniform(0, 6, (1, sk.NUM_JOINTS, 3))
    amp = rng.uniform(0.0, 0.5, (1, sk.NUM_JOINTS, 3))
    rot = R.axis_angle_to_quat(amp * np.sin(2 * np.pi * freq * time_s + phase))
    root = np.stack([speed * time_s[:, 0, 0], np.zeros(t), 0.95 + 0.02 * np.sin(time_s[:, 0, 0])], -1)
    return rot, root


@pytest.fixture(scope="module")
def library():
    rng = np.random.default_rng(0)
    out = []
    for i, t in enumerate((150, 220, 60)):                    # the last clip is shorter than a window
        rot, root = smooth_motion(rng, t)
        out.append(ml.Motion(rot.astype(np.float32), root.astype(np.float32),
                             sk.REST_OFFSETS.astype(np.float32), f"clip{i}"))
    return out


@pytest.fixture(scope="module")
def synth(library):
    return Synthesizer(library, SynthConfig())


def tpose_library(t=40):
    rot = np.zeros((t, sk.NUM_JOINTS, 4), np.float32)
    rot[..., 0] = 1.0
    root = np.tile(np.array([0.0, 0.0, 0.95], np.float32), (t, 1))
    return [ml.Motion(rot, root, sk.REST_OFFSETS.astype(np.float32), "tpose")]


def landmarks_3d(local_rot, root, offsets, height):
    """(B, W, 33, 3) landmark positions from the anchor table, body-scaled like the synthesiser."""
    pos, glob = R.forward_kinematics(local_rot, root, offsets[:, None], sk.PARENTS)
    off = sk.MP_ANCHOR_OFFSET * (height / sk.rest_height())[:, None, None]
    return pos[..., sk.MP_ANCHOR_JOINT, :] + np.einsum("bwlij,blj->bwli", glob[..., sk.MP_ANCHOR_JOINT, :, :], off)


def test_contract_shapes_dtypes_and_determinism(synth):
    a = synth.batch(8, np.random.default_rng(7))
    b = synth.batch(8, np.random.default_rng(7))
    c = synth.batch(8, np.random.default_rng(8))
    for key, tail in CONTRACT.items():
        assert a[key].shape == (8, 81) + tail and a[key].dtype == np.float32, key
    assert a["offsets"].shape == (8, 22, 3) and a["bone_lengths"].shape == (8, 22)
    assert a["offsets"].dtype == np.float32 and a["bone_lengths"].dtype == np.float32
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)   # NaNs compare equal here
    assert not np.allclose(a["joints"], c["joints"])
    for key in CONTRACT:
        assert np.all(np.isfinite(a[key])), key


def test_targets_are_consistent(synth):
    b = synth.batch(16, np.random.default_rng(1))
    q = b["local_rot"].astype(np.float64)
    np.testing.assert_allclose(np.linalg.norm(q, axis=-1), 1.0, atol=1e-5)
    assert np.all(q[..., 0] >= 0)
    pos, _ = R.forward_kinematics(q, np.zeros(3), b["offsets"][:, None].astype(np.float64), sk.PARENTS)
    np.testing.assert_allclose(pos, b["joints"], atol=1e-5)
    np.testing.assert_allclose(b["bone_lengths"], np.linalg.norm(b["offsets"], axis=-1), atol=1e-6)
    np.testing.assert_allclose(b["joints"][:, :, 0], 0.0, atol=1e-6)


def test_bodies_heights_and_proportions(synth):
    b = synth.batch(64, np.random.default_rng(2))
    heights = np.array([sk.rest_height(o) for o in b["offsets"].astype(np.float64)])
    assert np.all((heights >= 1.45 - 1e-4) & (heights <= 2.0 + 1e-4))
    np.testing.assert_allclose(heights, b["height"], atol=1e-4)
    assert heights.max() - heights.min() > 0.3
    # proportions vary, not only the overall size; left and right stay close
    rel = b["bone_lengths"][:, 1:] / b["bone_lengths"][:, 1:].mean(-1, keepdims=True)
    assert np.all(rel.std(0) > 0.02)
    lengths = b["bone_lengths"]
    assert np.max(np.abs(lengths - lengths[:, sk.MIRROR]) / np.maximum(lengths, 1e-6)) < 0.15


def test_landmarks_reproject_from_3d_targets(synth):
    cfg = synth.cfg
    b = synth.fixed_eval_set(32, seed=3, noisy=False)
    lm3 = landmarks_3d(b["local_rot"].astype(np.float64), b["root_cam"].astype(np.float64),
                       b["offsets"].astype(np.float64), b["height"].astype(np.float64))
    f = b["focal_px"].astype(np.float64)[:, None, None]
    w, h = (b["image_size"][:, i].astype(np.float64)[:, None, None] for i in (0, 1))
    u = (w / 2 + f * lm3[..., 0] / lm3[..., 1]) / w
    v = (h / 2 - f * lm3[..., 2] / lm3[..., 1]) / h
    np.testing.assert_allclose(np.stack([u, v], -1), b["landmarks"][..., :2], atol=1e-4)
    # the landmarks that sit on joints re-project from the joint targets themselves
    idx = list(sk.MP_TO_JOINT)
    pj = b["joints"][:, :, [sk.MP_TO_JOINT[i] for i in idx]] + b["root_cam"][:, :, None]
    np.testing.assert_allclose((w / 2 + f * pj[..., 0] / pj[..., 1]) / w, b["landmarks"][:, :, idx, 0], atol=1e-4)
    # inside the frame (clean mode: nearly always), body fraction of the frame height in range
    lm = b["landmarks"]
    inside = (lm[..., 0] >= 0) & (lm[..., 0] <= 1) & (lm[..., 1] >= 0) & (lm[..., 1] <= 1)
    assert inside.mean() > 0.98
    span = (lm[..., 1].max(-1) - lm[..., 1].min(-1)).max(-1)
    assert np.median(span) > cfg.span_range[0] and span.max() <= 1.0
    assert np.all(b["root_cam"][..., 1] > cfg.min_depth)


def test_mirror_is_reflection_with_sides_swapped():
    rng = np.random.default_rng(4)
    rot, root = smooth_motion(rng, 20)
    off = sk.REST_OFFSETS * rng.uniform(0.8, 1.2, (sk.NUM_JOINTS, 1))
    m_rot, m_root, m_off = mirror_motion(rot, root, off)
    pos, glob = R.forward_kinematics(rot, root, off, sk.PARENTS)
    m_pos, m_glob = R.forward_kinematics(m_rot, m_root, m_off, sk.PARENTS)
    np.testing.assert_allclose(m_pos, pos[:, sk.MIRROR] @ S, atol=1e-9)
    np.testing.assert_allclose(m_glob, S @ glob[:, sk.MIRROR] @ S, atol=1e-9)
    np.testing.assert_allclose(R.quat_to_matrix(m_rot), S @ R.quat_to_matrix(rot[:, sk.MIRROR]) @ S, atol=1e-9)


def test_camera_rotation_and_coverage():
    np.testing.assert_allclose(camera_rotation(np.array([np.pi / 2]), np.zeros(1), np.zeros(1))[0], np.eye(3), atol=1e-12)
    lib = tpose_library()
    syn = Synthesizer(lib, SynthConfig(mirror_prob=0.0))
    b = syn.batch(128, np.random.default_rng(5), noisy=False)
    # static T-pose with identity world rotation: the camera-frame root rotation is R_cam_from_world
    r = R.quat_to_matrix(b["local_rot"][:, 0, 0].astype(np.float64))
    np.testing.assert_allclose(np.linalg.det(r), 1.0, atol=1e-5)
    up = r[:, :, 2]                                           # world up in camera coordinates
    elevation = np.degrees(np.arcsin(-up[:, 1]))               # camera looking down: positive
    assert elevation.min() >= -10.01 and elevation.max() <= 45.01 and elevation.max() > 30
    roll = np.degrees(np.arctan2(-up[:, 0], up[:, 2]))
    assert np.abs(roll).max() <= 5.01
    facing = r @ np.array([0.0, -1.0, 0.0])                   # the body's forward, camera frame
    yaw = np.arctan2(facing[:, 0], -facing[:, 1])
    assert np.histogram(yaw, bins=4, range=(-np.pi, np.pi))[0].min() > 10  # all around the person
    # a person seen from behind has a hidden face; seen from the front, a visible one
    nose = b["landmarks"][:, :, sk.MP_INDEX["nose"], 2].mean(1)
    toward, away = facing[:, 1] < -0.8, facing[:, 1] > 0.8
    assert toward.any() and away.any()
    assert nose[toward].min() > 0.9 and nose[away].max() < 0.5
    sizes = {tuple(s) for s in b["image_size"].astype(int).tolist()}
    assert any(w > h for w, h in sizes) and any(w < h for w, h in sizes)
    f_mm = b["focal_px"] * 36.0 / b["image_size"].max(-1)
    assert f_mm.min() >= 18.0 - 1e-3 and f_mm.max() <= 85.0 + 1e-3


def test_speed_augmentation_scales_root_motion(library):
    for speed in (0.8, 1.25):
        syn = Synthesizer(library[:2], SynthConfig(speed_range=(speed, speed), mirror_prob=0.0))
        b = syn.batch(8, np.random.default_rng(6), noisy=False)
        walked = np.linalg.norm(b["root_cam"][:, -1] - b["root_cam"][:, 0], axis=-1)
        c0 = sk.rest_height(np.zeros((sk.NUM_JOINTS, 3)))
        root_scale = (b["height"] - c0) / (sk.rest_height() - c0)
        expected = 0.8 * speed * 80 / 30.0 * root_scale       # 0.8 m/s along x, 80 frame steps
        np.testing.assert_allclose(walked, expected, rtol=2e-3)


def test_noisy_and_clean_eval_sets(synth):
    clean = synth.fixed_eval_set(48, seed=9, noisy=False)
    noisy = synth.fixed_eval_set(48, seed=9, noisy=True)
    again = synth.fixed_eval_set(48, seed=9, noisy=True)
    for key in ("joints", "local_rot", "offsets", "image_size", "root_cam"):
        np.testing.assert_array_equal(clean[key], noisy[key], err_msg=key)
    for key in noisy:
        np.testing.assert_array_equal(noisy[key], again[key], err_msg=key)
    assert np.all(np.isfinite(clean["landmarks"])) and np.all(np.isfinite(noisy["kp2d"]))
    assert not np.array_equal(clean["kp2d"], noisy["kp2d"])
    missing = np.all(noisy["landmarks"][..., 2] == 0, axis=-1)
    assert missing.any() and np.all(noisy["kp2d"][missing] == 0)
    d = np.linalg.norm(noisy["landmarks"][..., :2] - clean["landmarks"][..., :2], axis=-1)
    span = (clean["landmarks"][..., 1].max(-1) - clean["landmarks"][..., 1].min(-1))[..., None]
    rel = (d / span)[np.isfinite(d)]
    assert 0.002 < np.median(rel) < 0.05                      # jitter of about 1 % of body height
    # low-visibility stretches and occlusion show up; clean visibility is mostly ~1
    assert (noisy["landmarks"][..., 2] < 0.5).mean() > (clean["landmarks"][..., 2] < 0.5).mean()
    # 10 % of a training batch stay clean; normalised input stays bounded
    train = synth.batch(32, np.random.default_rng(10))
    assert np.all(np.isfinite(train["kp2d"])) and np.abs(train["kp2d"][..., :2]).max() < 20


def test_sequence_covers_a_whole_clip(synth, library):
    seq = synth.sequence(1, seed=0, noisy=True)
    assert seq["joints"].shape == (1, library[1].num_frames, 22, 3)
    assert np.all(np.isfinite(seq["kp2d"]))


# --- motion library ---------------------------------------------------------------------------------
def test_resample_and_slerp():
    rng = np.random.default_rng(11)
    rot, root = smooth_motion(rng, 121)
    out_rot, out_root = ml.resample(rot, root, 120.0, 30.0)
    assert out_rot.shape == (31, 22, 4) and out_rot.dtype == np.float32
    np.testing.assert_allclose(R.quat_angle(out_rot, rot[::4]), 0.0, atol=1e-3)
    np.testing.assert_allclose(out_root, root[::4], atol=1e-6)
    half = ml.slerp(rot[0], -rot[10], 0.5)                   # sign-flipped input: shorter arc
    np.testing.assert_allclose(R.quat_angle(half, rot[0]), R.quat_angle(half, rot[10]), atol=1e-6)
    r60, _ = ml.resample(rot[:7], root[:7], 60.0, 30.0)      # 6 steps at 60 Hz -> 4 frames
    assert r60.shape[0] == 4


def test_train_val_split_groups():
    names = [f"cmu/daz/{s:02d}/{s:02d}_{k:02d}.bvh.gz" for s in range(1, 11) for k in range(1, 5)]
    names += [f"accad/Male1_bvh/Male1_{t}_Move{'T2' if r else ''}.bvh" for t in ("A1", "A2", "B3", "B4", "C5")
              for r in (0, 1)]
    paths = [Path("/data") / n for n in names]
    train, val = ml.train_val_split(paths, 0.2, seed=0)
    assert (train, val) == ml.train_val_split(list(reversed(paths)), 0.2, seed=0)
    assert set(train) | set(val) == set(paths) and not set(train) & set(val)
    assert 0.1 * len(paths) <= len(val) <= 0.3 * len(paths)
    subject = lambda p: (p.parent.name, p.name.split("_")[0] + "_" + p.name.split("_")[1][:2])
    for p in val:
        if "cmu" in str(p):                                   # CMU subjects go to val whole
            assert all(q in val for q in paths if q.parent == p.parent)
        else:                                                 # ACCAD retakes stay with their trial
            assert all(q in val for q in paths if subject(q) == subject(p))
    assert any("cmu" in str(p) for p in val) and any("accad" in str(p) for p in val)
    assert ml.train_val_split(paths, 0.2, seed=1) != (train, val)


def test_load_library_fps_index_and_cache(tmp_path):
    rng = np.random.default_rng(12)
    rot, root = smooth_motion(rng, 25)
    folder = tmp_path / "mine" / "acrnn-daz" / "salsa"
    folder.mkdir(parents=True)
    write_bvh(folder / "a.bvh.gz", rot, root, 120.0)          # header 120 Hz, folder rule says 60
    write_bvh(tmp_path / "mine" / "b.bvh", rot, root, 120.0)  # INDEX.tsv says 40
    (tmp_path / "mine" / "INDEX.tsv").write_text("file\tnominal_fps\nb.bvh\t40\n")
    write_bvh(tmp_path / "mine" / "c.bvh", rot, root, 30.0)   # no override: header rate
    paths = ml.discover(tmp_path / "mine")
    assert [p.name for p in paths] == ["a.bvh.gz", "b.bvh", "c.bvh"]
    cache = tmp_path / "cache"
    lib = ml.load_library(paths, cache_dir=cache)
    assert [m.source_fps for m in lib] == [60.0, 40.0, 30.0]
    for m in lib:
        assert m.fps == 30.0 and m.local_rot.dtype == np.float32 and m.local_rot.shape[1:] == (22, 4)
        assert m.num_frames == math.floor((m.source_frames - 1) * 30.0 / m.source_fps) + 1
        assert m.root.shape == (m.num_frames, 3) and m.offsets.shape == (22, 3)
    np.testing.assert_allclose(lib[2].root, root, atol=1e-5)  # 30 Hz passes through
    np.testing.assert_allclose(R.quat_angle(lib[2].local_rot, rot), 0.0, atol=1e-3)
    np.testing.assert_allclose(lib[0].root, root[::2][:lib[0].num_frames], atol=1e-5)  # 60 -> 30 Hz
    assert len(list(cache.glob("*.npz"))) == 3
    again = ml.load_library(paths, cache_dir=cache)
    for a, b in zip(lib, again):
        np.testing.assert_array_equal(a.local_rot, b.local_rot)
    os.utime(paths[1], ns=(time.time_ns(), time.time_ns() + 10**9))  # touched file: a new cache entry
    ml.load_library(paths[1:2], cache_dir=cache)
    assert len(list(cache.glob("*.npz"))) == 4


@pytest.mark.data
def test_load_library_real_files(shared_data, tmp_path):
    train = ml.list_split(shared_data, "split-train.txt")
    test = set(ml.list_split(shared_data, "split-test.txt"))
    assert len(train) > 300 and not test & set(train)
    pick = [next(p for p in train if "accad/Female1" in str(p)), next(p for p in train if "/daz/" in str(p)),
            next(p for p in train if "salsa" in str(p))]
    lib = ml.load_library(pick, cache_dir=tmp_path)
    assert [m.source_fps for m in lib] == [30.0, 120.0, 60.0]
    for m in lib:
        assert m.fps == 30.0 and m.num_frames == math.floor((m.source_frames - 1) * 30.0 / m.source_fps) + 1
        assert m.num_frames > 81 and np.all(np.isfinite(m.local_rot))
    fit, val = ml.train_val_split(train, 0.1, seed=0)
    assert 0.07 * len(train) < len(val) < 0.15 * len(train) and not set(val) & set(fit)


def test_wide_camera_preset_looks_down_steeper_and_crops():
    pytest.importorskip("torch")  # the presets live with the training command
    from uplift_mocap.dev.training.train import CAMERA_PRESETS

    cfg = SynthConfig(**CAMERA_PRESETS["wide"])
    lib = tpose_library()
    b = Synthesizer(lib, cfg).batch(256, np.random.default_rng(3), noisy=False)
    r = R.quat_to_matrix(b["local_rot"][:, 0, 0].astype(np.float64))
    elevation = np.degrees(np.arcsin(-r[:, 1, 2]))      # as in test_camera_rotation_and_coverage
    assert elevation.max() > 48 and elevation.max() < 65
    uv = b["landmarks"][..., :2]
    outside = np.any((uv < 0.0) | (uv > 1.0), axis=-1).any(-1).any(-1)
    assert 0.02 < outside.mean() < 0.6          # some windows cut a limb off, most do not
    std = Synthesizer(lib, SynthConfig()).batch(256, np.random.default_rng(3), noisy=False)
    su = std["landmarks"][..., :2]
    assert not np.any((su < 0.0) | (su > 1.0))  # the standard cameras keep the whole body in frame
