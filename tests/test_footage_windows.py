"""dev/footage/windows.py on the bundled rendered sample (video + exact ground truth): targets in the
uplifter's camera frame are self-consistent and agree with the image, the shipped uplifter fed with
MediaPipe's real landmarks lands near them, windows carry the contract keys, and clip plans use only
train-split motions."""
from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest

from uplift_mocap.inference.core import rotations as R
from uplift_mocap.inference.core import skeleton as sk
from uplift_mocap.inference.core.frames import CV_FROM_UPLIFT_CAM
from uplift_mocap.dev.footage import windows as fw

SAMPLES = Path(__file__).resolve().parents[1] / "inference" / "samples"
needs_mp = pytest.mark.skipif(importlib.util.find_spec("mediapipe") is None, reason="mediapipe not installed")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    d = tmp_path_factory.mktemp("footage")
    for suffix in (".mp4", ".npz"):
        shutil.copy(SAMPLES / f"sample_walk{suffix}", d / f"sample_walk{suffix}")
    return d


def test_camera_targets_are_forward_kinematics_of_themselves():
    t = fw.camera_targets(np.load(SAMPLES / "sample_walk.npz"))
    pos, _ = R.forward_kinematics(t["local_rot"].astype(np.float64), np.zeros((len(t["joints"]), 3)),
                                  t["offsets"].astype(np.float64), sk.PARENTS)
    assert np.abs(pos - t["joints"]).max() < 1e-4
    assert np.allclose(t["joints"][:, 0], 0.0)


def test_targets_are_the_rendered_body_that_footage_eval_scores_against():
    from uplift_mocap.dev.evaluation import footage_eval as fe

    gt = np.load(SAMPLES / "sample_walk.npz")
    t = fw.camera_targets(gt)
    cv = fe.camera_points(gt["joints"], gt["cam_from_world"])          # OpenCV camera frame
    ours_in_cv = t["joints"].astype(np.float64) @ CV_FROM_UPLIFT_CAM.T
    assert np.abs(fe.centred(ours_in_cv[:, fe.JOINTS]) - fe.centred(cv[:, fe.JOINTS])).max() < 1e-5
    # the body's own proportions, not the performer's scaled by hip height (those differ by cm)
    bones = np.linalg.norm(t["offsets"], axis=-1)
    measured = np.linalg.norm(np.diff(gt["joints"][:, [sk.JOINT_INDEX["upperarm_l"], sk.JOINT_INDEX["forearm_l"]]],
                                      axis=1), axis=-1).mean()
    assert abs(bones[sk.JOINT_INDEX["forearm_l"]] - measured) < 1e-5
    performer = np.linalg.norm(gt["offsets"][sk.JOINT_INDEX["forearm_l"]]) * float(gt["retarget_scale"])
    assert abs(performer - measured) > 0.01
    # ... but the pelvis sits where the (scaled) performer's does relative to the hips
    tl, tr = sk.JOINT_INDEX["thigh_l"], sk.JOINT_INDEX["thigh_r"]
    perf = gt["offsets"] * float(gt["retarget_scale"])
    assert np.allclose((t["offsets"][tl] + t["offsets"][tr]) / 2, (perf[tl] + perf[tr]) / 2, atol=1e-5)


def test_body_offsets_reject_joints_that_are_not_a_skeleton():
    gt = dict(np.load(SAMPLES / "sample_walk.npz"))
    gt["joints"] = gt["joints"] + np.random.default_rng(0).normal(0, 0.01, gt["joints"].shape)
    with pytest.raises(ValueError, match="not a rigid skeleton"):
        fw.body_offsets(gt)


@needs_mp
@pytest.mark.slow
def test_sequence_agrees_with_the_image_and_the_shipped_model(folder):
    seq = fw.footage_sequence(folder / "sample_walk.mp4")
    assert (folder / "sample_walk.det.npz").is_file()               # detections cached
    lm, j = seq["landmarks"], seq["joints"]
    assert lm.shape == (146, 33, 3) and j.shape == (146, 22, 3)
    # the hip line in the image (u right, v up) points like the target's hip line (x right, z up)
    li, ri = sk.MP_INDEX["left_hip"], sk.MP_INDEX["right_hip"]
    img = np.stack([lm[:, li, 0] - lm[:, ri, 0], -(lm[:, li, 1] - lm[:, ri, 1]) * seq["height"] / seq["width"]], -1)
    tgt = (j[:, sk.JOINT_INDEX["thigh_l"]] - j[:, sk.JOINT_INDEX["thigh_r"]])[:, [0, 2]]
    cos = np.sum(img * tgt, -1) / (np.linalg.norm(img, axis=-1) * np.linalg.norm(tgt, axis=-1))
    assert np.median(cos) > 0.9
    from uplift_mocap.inference.core.normalize import normalize_landmarks
    from uplift_mocap.inference.pipeline.uplifter import Uplifter

    pred = Uplifter().lift(normalize_landmarks(lm, seq["width"], seq["height"]))
    err = np.linalg.norm(pred.joints - j, axis=-1).mean() * 1000
    assert 20.0 < err < 200.0, err


@needs_mp
def test_windows_have_the_contract_keys(folder):
    windows = fw.FootageWindows(folder, window=81)
    b = windows.sample(5, np.random.default_rng(0))
    assert b["kp2d"].shape == (5, 81, 33, 3) and b["joints"].shape == (5, 81, 22, 3)
    assert b["local_rot"].shape == (5, 81, 22, 4) and b["offsets"].shape == (5, 22, 3)
    assert b["bone_lengths"].shape == (5, 22) and np.isfinite(b["kp2d"]).all()
    with pytest.raises(ValueError, match="no rendered clip"):
        fw.FootageWindows(folder, window=500)


def test_train_clip_plan_never_uses_the_test_split_or_the_validation_motions(shared_data):
    from uplift_mocap.dev.training import motion_library as ml
    plan = fw.train_clip_plan(shared_data, 12, seconds=4.0, seed=1)
    test = set((shared_data / "split-test.txt").read_text().split())
    train = set((shared_data / "split-train.txt").read_text().split())
    root = shared_data.resolve()
    val = {str(p.resolve().relative_to(root)) for p in ml.train_val_files(shared_data, 0.1)[1]}
    assert len(plan) == 12 and all(c["bvh"] in train and c["bvh"] not in test | val for c in plan)
    assert plan == fw.train_clip_plan(shared_data, 12, seconds=4.0, seed=1)
    # body sizes come from their own stream: the motions and cameras stay those of the seed
    sized = fw.train_clip_plan(shared_data, 12, seconds=4.0, seed=1, body_scales=(0.85, 1.12))
    assert [{k: v for k, v in c.items() if k != "body_scale"} for c in sized] == plan
    scales = [c["body_scale"] for c in sized]
    assert all(0.85 <= x <= 1.12 for x in scales) and len(set(scales)) == len(scales)


@needs_mp
def test_training_batches_take_a_share_of_real_windows(folder):
    train = pytest.importorskip("uplift_mocap.dev.training.train")    # torch
    windows = fw.FootageWindows(folder, window=81)
    rng = np.random.default_rng(3)
    synth = {k: np.zeros(s, np.float32) for k, s in (("kp2d", (8, 81, 33, 3)), ("joints", (8, 81, 22, 3)),
                                                        ("local_rot", (8, 81, 22, 4)), ("offsets", (8, 22, 3)),
                                                        ("bone_lengths", (8, 22)))}
    mixed = train.mix_real(synth, windows, 0.25, rng)
    assert {k: v.shape for k, v in mixed.items()} == {k: v.shape for k, v in synth.items()}
    assert np.abs(mixed["joints"][:2]).sum() > 0 and not mixed["joints"][2:].any()
    t = train.to_torch(mixed)
    assert t["kp2d"].dtype.is_floating_point


@needs_mp
def test_train_selects_on_footage_validation(three_accad_files, folder, tmp_path):
    train = pytest.importorskip("uplift_mocap.dev.training.train")    # torch
    import json

    data = three_accad_files
    out = tmp_path / "run"
    assert train.main(["--data", str(data), "--out", str(out), "--size", "tiny", "--window", "27", "--batch", "4",
                       "--val-windows", "8", "--val-every", "2", "--log-every", "2", "--threads", "1", "--steps", "4",
                       "--cache-dir", str(tmp_path / "cache"), "--footage-val", str(folder),
                       "--footage-val-windows", "6"]) == 0
    vals = [json.loads(ln) for ln in (out / "train_log.jsonl").read_text().splitlines() if '"val"' in ln]
    assert [v["step"] for v in vals] == [2, 4]
    for v in vals:
        f = v["val_footage"]
        assert np.isfinite(f["mpjpe_mm"]) and f["mpjpe_mm"] != v["val"]["mpjpe_mm"]
        assert v["score"] == pytest.approx(f["mpjpe_mm"] / 45 + f["mpjae_deg"] / 12)


def test_a_clip_whose_video_cannot_be_read_is_left_out(folder, tmp_path, capsys):
    """A render stopped half-way (a stub .mp4 beside its ground truth) costs that clip, not the training run."""
    for suffix in (".mp4", ".npz", ".det.npz"):
        if (folder / f"sample_walk{suffix}").is_file():
            shutil.copy(folder / f"sample_walk{suffix}", tmp_path / f"sample_walk{suffix}")
    (tmp_path / "broken.mp4").write_bytes(b"\x00" * 48)
    shutil.copy(folder / "sample_walk.npz", tmp_path / "broken.npz")
    windows = fw.FootageWindows(tmp_path, window=81)
    assert [s["name"] for s in windows.sequences] == ["sample_walk"]
    assert "broken.mp4 left out" in capsys.readouterr().err


def test_a_clip_where_mediapipe_finds_nobody_is_left_out(folder, tmp_path, capsys):
    """A rendered person too small for MediaPipe gives windows with no input at all: not training material."""
    fw.footage_sequence(folder / "sample_walk.mp4")                       # its detections cached beside it
    for suffix in (".mp4", ".npz", ".det.npz"):
        if (folder / f"sample_walk{suffix}").is_file():
            shutil.copy(folder / f"sample_walk{suffix}", tmp_path / f"sample_walk{suffix}")
            shutil.copy(folder / f"sample_walk{suffix}", tmp_path / f"nobody{suffix}")
    from uplift_mocap.inference.pipeline.detect import Detections

    det = Detections.load_npz(tmp_path / "nobody.det.npz")
    det.landmarks[:] = np.nan
    det.save_npz(tmp_path / "nobody.det.npz")
    windows = fw.FootageWindows(tmp_path, window=81)
    assert [s["name"] for s in windows.sequences] == ["sample_walk"]
    assert "nobody.mp4 left out (person found in 0% of frames)" in capsys.readouterr().err
