"""inference/pipeline/run.py on real video, offline: a walking person to a MotionClip; errors; cancel."""
from __future__ import annotations

import importlib.util
import socket
import threading
from pathlib import Path

import numpy as np
import pytest

from uplift_mocap.inference.pipeline import detect  # noqa: F401  (before mediapipe: protobuf patch)
from uplift_mocap.inference.pipeline import motion_clip as mc
from uplift_mocap.inference.core import rotations as R
from uplift_mocap.inference.core import skeleton as S
from uplift_mocap.inference.pipeline.proportions import BRANCH_JOINTS
from uplift_mocap.inference.pipeline.run import (Cancelled, ConvertOptions, NoPersonError, PipelineError, convert_video, lift_detections, resolve_provider)

for _mod in ("cv2", "mediapipe", "onnxruntime"):
    if importlib.util.find_spec(_mod) is None:
        pytest.skip(f"{_mod} not installed (make venv installs it)", allow_module_level=True)

WALK = Path(__file__).resolve().parent / "fixtures" / "person_walk.mp4"  # 75 frames, 30 fps, walks right to left


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the pipeline tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)


@pytest.fixture(scope="module")
def walk_det():
    return detect.detect_video(WALK)


@pytest.fixture(scope="module")
def walk_clip(walk_det):
    calls = []
    clip = lift_detections(walk_det, ConvertOptions(), progress=lambda *a: calls.append(a))
    return clip, calls


def blank_video(path: Path, frames: int = 10) -> Path:
    """A video without anyone in it: smooth gradients and a moving green box."""
    import cv2

    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (160, 120))
    yy, xx = np.mgrid[:120, :160]
    for k in range(frames):
        img = np.stack([xx + 3 * k, yy * 2, 100 + 0 * xx], -1).astype(np.uint8)
        img[40:70, 10 + 8 * k:40 + 8 * k] = (40, 200, 40)
        out.write(img)
    out.release()
    return path


def test_walk_clip_shapes_and_consistency(walk_clip, walk_det):
    clip, _ = walk_clip
    n, j = 75, S.NUM_JOINTS
    assert clip.num_frames == n and clip.fps == pytest.approx(30.0) and clip.joint_names == S.JOINT_NAMES
    assert clip.local_rot.shape == (n, j, 4) and clip.local_rot.dtype == np.float32
    assert clip.joints.shape == (n, j, 3) and clip.root_translation.shape == (n, 3) and clip.offsets.shape == (j, 3)
    np.testing.assert_array_equal(clip.times_s, walk_det.times_s)
    np.testing.assert_array_equal(clip.frame_indices, np.arange(n))
    np.testing.assert_allclose(np.linalg.norm(clip.local_rot, axis=-1), 1.0, atol=1e-5)
    fk = R.forward_kinematics(clip.local_rot, clip.root_translation, clip.offsets, S.PARENTS)[0]
    np.testing.assert_allclose(clip.joints, fk, atol=1e-4)
    # the body: canonical directions along limbs and spine, measured (symmetric) branch attachments,
    # a plausible adult size
    dirs = S.REST_OFFSETS / np.maximum(np.linalg.norm(S.REST_OFFSETS, axis=-1, keepdims=True), 1e-12)
    got = clip.offsets / np.maximum(np.linalg.norm(clip.offsets, axis=-1, keepdims=True), 1e-12)
    chain = [k for k in range(1, S.NUM_JOINTS) if k not in BRANCH_JOINTS]
    np.testing.assert_allclose(got[chain], dirs[chain], atol=1e-5)
    branch = list(BRANCH_JOINTS)
    assert np.all(np.sum(got[branch] * dirs[branch], axis=-1) > np.cos(np.radians(45.0)))
    np.testing.assert_allclose(clip.offsets[S.MIRROR[branch]] * [-1, 1, 1], clip.offsets[branch], atol=1e-6)
    assert 1.4 < clip.info["body_height_m"] < 2.1
    assert clip.keyed.all() and clip.info["detected_fraction"] >= 0.9
    assert np.all(clip.confidence[walk_det.detected] > 0) and np.all(clip.confidence[~walk_det.detected] == 0)


def test_walk_clip_is_placed_in_the_world(walk_clip):
    clip, _ = walk_clip
    sole = clip.joints[:, [S.JOINT_INDEX["foot_l"], S.JOINT_INDEX["foot_r"]], 2].min(axis=1) - S.ANKLE_HEIGHT
    assert abs(np.median(sole)) < 0.1, "feet should stand on the floor Z = 0"
    head_above_pelvis = clip.joints[:, S.JOINT_INDEX["head"], 2] - clip.root_translation[:, 2]
    assert np.all(head_above_pelvis > 0.3), "upright"
    travel = clip.root_translation[-1] - clip.root_translation[0]
    assert travel[0] < -1.0 and abs(travel[2]) < 0.3  # she walks toward image left, i.e. world -X


def test_walk_clip_info_timings_and_progress(walk_clip):
    clip, calls = walk_clip
    for k in ("flips", "gaps", "lift", "world", "smooth", "total"):
        assert clip.timings[k] >= 0.0
    info = clip.info
    assert (info["width"], info["height"], info["frames"]) == (640, 360, 75)
    assert info["jitter_rot_deg_after"] < info["jitter_rot_deg_before"]
    assert info["jitter_pos_mm_after"] < info["jitter_pos_mm_before"]
    assert info["focal_px"] > 0 and info["contacts"].shape == (75, 2) and info["contacts"].dtype == bool
    assert all(g["filled"] for g in info["gaps"])
    # MediaPipe swaps this walker's legs for single frames (and the first 7); repaired, never most of the clip
    assert 0 < info["swapped_frames"] <= 15
    assert info["devices"] == {"detect": "CPU (MediaPipe)", "lift": "CPU"}   # what this CPU-only build ran on
    # the man on a box in the background: others seen, the largest person followed, and the clip says so
    assert info["max_people"] == 2 and len(info["warnings"]) == 1
    assert info["warnings"][0].startswith("2 people seen at once in ") and "--person N" in info["warnings"][0]
    assert [c[0] for c in calls if c[1] == c[2]] == ["flips", "gaps", "lift", "world", "smooth"]


def test_no_smoothing_keeps_the_raw_jitter(walk_det, walk_clip):
    raw = lift_detections(walk_det, ConvertOptions(smoothing=0.0))
    assert raw.info["jitter_rot_deg_after"] == pytest.approx(raw.info["jitter_rot_deg_before"])
    assert raw.info["jitter_rot_deg_before"] == pytest.approx(walk_clip[0].info["jitter_rot_deg_before"], rel=1e-4)


def test_limb_fusion_turns_only_the_limbs(walk_det, walk_clip):
    plain = lift_detections(walk_det, ConvertOptions(fuse_limbs=False, smoothing=0.0))
    fused = lift_detections(walk_det, ConvertOptions(smoothing=0.0))
    angle = np.degrees(R.quat_angle(fused.local_rot, plain.local_rot))  # (T, J)
    limbs = list(S.LIMB_JOINTS)
    others = [j for j in range(S.NUM_JOINTS) if j not in S.LIMB_JOINTS]
    assert angle[:, others].max() < 0.05
    assert 0.5 < angle[:, limbs].mean() < 20.0  # the two heads disagree by a few degrees, not more
    np.testing.assert_allclose(fused.offsets, plain.offsets)
    np.testing.assert_allclose(fused.root_translation, plain.root_translation, atol=1e-6)


def test_in_place_keeps_only_vertical_motion(walk_det):
    clip = lift_detections(walk_det, ConvertOptions(in_place=True))
    np.testing.assert_allclose(clip.root_translation[:, :2], 0.0, atol=1e-6)
    assert np.ptp(clip.root_translation[:, 2]) > 0.0


def test_long_gap_is_left_unkeyed_and_bvh_stays_dense(walk_det, tmp_path):
    det = detect.Detections(**{**walk_det.__dict__})
    det.landmarks = walk_det.landmarks.copy()
    det.presence = walk_det.presence.copy()
    det.landmarks[20:50, :, :2] = np.nan   # one second without the person
    det.landmarks[20:50, :, 2] = 0.0
    det.presence[20:50] = 0.0
    clip = lift_detections(det)
    assert not clip.keyed[20:50].any() and clip.keyed[:20].all()
    assert np.all(clip.confidence[20:50] == 0)
    assert any(g["start"] == 20 and g["stop"] == 50 and not g["filled"] for g in clip.info["gaps"])
    (path,) = mc.write_clip(clip, tmp_path, "gap", ["bvh"])
    from uplift_mocap.inference.mocap.bvh import read_bvh
    bvh = read_bvh(path, drop_tpose=False)
    assert bvh.num_frames == 75 and np.all(np.isfinite(bvh.motion))


def test_convert_video_range_and_stride():
    clip = convert_video(WALK, ConvertOptions(start_s=0.5, end_s=1.5, stride=2))
    assert clip.fps == pytest.approx(15.0)
    np.testing.assert_array_equal(clip.frame_indices, np.arange(15, 45, 2))
    assert clip.times_s[0] == pytest.approx(0.5, abs=1e-3) and clip.times_s[-1] < 1.5
    for k in ("read", "detect", "lift", "world", "smooth", "total"):
        assert k in clip.timings
    assert clip.timings["total"] >= clip.timings["detect"] + clip.timings["read"]
    assert clip.source == str(WALK)


def test_cancel_stops_detection_between_frames():
    stop = threading.Event()
    seen = []

    def progress(stage, done, total):
        seen.append((stage, done))
        if stage == "detect" and done == 5:
            stop.set()

    with pytest.raises(Cancelled):
        convert_video(WALK, progress=progress, cancel=stop)
    assert seen[-1] == ("detect", 5)
    with pytest.raises(Cancelled):  # already set: nothing runs
        convert_video(WALK, cancel=stop)


def test_cancel_during_post_processing(walk_det):
    stop = threading.Event()
    stages = []

    def progress(stage, done, total):
        stages.append(stage)
        if stage == "lift":
            stop.set()

    with pytest.raises(Cancelled):
        lift_detections(walk_det, progress=progress, cancel=stop)
    assert "world" not in stages and "smooth" not in stages


def test_no_person(tmp_path):
    path = blank_video(tmp_path / "empty_room.avi")
    with pytest.raises(NoPersonError, match=r"empty_room.avi: no person found in 10 frames"):
        convert_video(path)


def test_unreadable_videos_raise_one_line_pipeline_errors(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(np.random.default_rng(1).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    cases = {tmp_path / "missing.mp4": "no such file", empty: "zero-length video", junk: "cannot open",
             tmp_path: "is a directory"}
    for path, reason in cases.items():
        with pytest.raises(PipelineError) as err:
            convert_video(path)
        assert reason in str(err.value) and str(path) in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(PipelineError, match="no frames between 9 s and the end"):
        convert_video(WALK, ConvertOptions(start_s=9.0))


@pytest.mark.parametrize("options, message", [
    (ConvertOptions(stride=0), "stride"), (ConvertOptions(start_s=2.0, end_s=1.0), "must be after start"),
    (ConvertOptions(smoothing=1.5), "smoothing"), (ConvertOptions(focal_mm=-3.0), "focal length"),
])
def test_bad_options(options, message):
    with pytest.raises(PipelineError, match=message):
        convert_video(WALK, options)


def test_models_and_providers(tmp_path, walk_det):
    assert resolve_provider(None) is None
    assert resolve_provider("cpu") == ["CPUExecutionProvider"]
    assert resolve_provider("cuda", ["CUDAExecutionProvider", "CPUExecutionProvider"]) == [
        "CUDAExecutionProvider", "CPUExecutionProvider"]
    with pytest.raises(PipelineError, match="provider 'TPUExecutionProvider' is not available"):
        lift_detections(walk_det, ConvertOptions(provider="TPUExecutionProvider"))
    with pytest.raises(PipelineError, match="uplifter model not found"):
        lift_detections(walk_det, ConvertOptions(model_path=tmp_path / "none.onnx"))
    with pytest.raises(PipelineError, match="pose model not found"):
        convert_video(WALK, ConvertOptions(task_path=tmp_path / "none.task"))


def test_no_detections_at_all(walk_det):
    det = detect.Detections(**{**walk_det.__dict__})
    det.presence = np.zeros_like(walk_det.presence)
    with pytest.raises(NoPersonError, match="no person found in 75 frames"):
        lift_detections(det)


def test_other_frame_rates_are_lifted_at_the_model_rate(walk_det):
    """Every 2nd frame (15 fps) is resampled to the model's 30 fps for the network and back: the
    result matches the full-rate lift at those frames (without resampling it is ~3 deg off)."""
    full = lift_detections(walk_det, ConvertOptions(smoothing=0.0))
    half = detect.Detections(**{**walk_det.__dict__})
    for k in ("times_s", "frame_indices", "landmarks", "presence", "world_landmarks", "num_people"):
        setattr(half, k, getattr(walk_det, k)[::2])
    half.stride = 2
    clip = lift_detections(half, ConvertOptions(smoothing=0.0))
    assert clip.fps == pytest.approx(15.0) and clip.num_frames == 38
    assert clip.info["resampled_for_lift"] and not full.info["resampled_for_lift"]
    angle = np.degrees(R.quat_angle(clip.local_rot[:, 1:], full.local_rot[::2, 1:]))
    assert np.median(angle) < 1.5, f"median {np.median(angle):.2f} deg from the full-rate lift"


def _retimed(det, fps):
    """The same detections re-sampled at ``fps`` (landmarks interpolated in time)."""
    import dataclasses

    t = np.arange(0.0, det.times_s[-1] + 1e-9, 1.0 / fps)
    lm = np.stack([np.stack([np.interp(t, det.times_s, det.landmarks[:, j, c]) for c in range(3)], -1)
                   for j in range(det.landmarks.shape[1])], 1).astype(np.float32)
    return dataclasses.replace(det, times_s=t, frame_indices=np.arange(len(t)), landmarks=lm,
                               presence=np.ones(len(t), np.float32), num_people=np.ones(len(t), np.int16),
                               world_landmarks=np.zeros_like(lm), fps=float(fps), stride=1)


def test_any_frame_rate_gives_the_same_contacts_and_travel(monkeypatch):
    """Foot contacts, planting and smoothing work in seconds at the clip's own rate (they assumed 30 fps: at
    60 fps a walk was in contact 30 % of the time instead of 5 %)."""
    from uplift_mocap.inference.pipeline import detect
    from uplift_mocap.inference.pipeline import run as run_mod

    det = detect.detect_video(WALK, detect.DetectOptions())
    seen = []
    real_solve = run_mod.solve_world
    monkeypatch.setattr(run_mod, "solve_world", lambda *a, **k: seen.append(k["fps"]) or real_solve(*a, **k))
    tt = np.linspace(0.2, det.times_s[-1] - 0.2, 30)
    out = {}
    for fps in (24, 25, 30, 50, 60):
        clip = lift_detections(_retimed(det, fps))
        root = np.stack([np.interp(tt, clip.times_s, clip.root_translation[:, k]) for k in range(3)], -1)
        out[fps] = (float(clip.info["contacts"].mean()), root[-1] - root[0])
    assert seen == [24.0, 25.0, 30.0, 50.0, 60.0]
    c30, travel30 = out[30]
    for fps, (c, travel) in out.items():
        assert c < 0.2, (fps, c)          # a few short contacts in this 2.5 s clip, at every rate
        assert abs(travel[0] - travel30[0]) < 0.1 and abs(travel[2] - travel30[2]) < 0.05, (fps, travel, travel30)


def test_foot_planting_can_be_turned_off():
    from uplift_mocap.inference.pipeline import detect

    det = detect.detect_video(WALK, detect.DetectOptions())
    on, off = lift_detections(det), lift_detections(det, ConvertOptions(plant_feet=False))
    assert on.info["contacts"].any()
    assert np.abs(on.root_translation - off.root_translation).max() > 1e-3   # planting moved the root
    np.testing.assert_allclose(on.local_rot, off.local_rot, atol=1e-6)       # and nothing else


def test_device_labels_name_the_hardware():
    from uplift_mocap.inference.pipeline.run import device_label

    assert device_label("CUDAExecutionProvider") == "GPU (CUDA)"
    assert device_label("DmlExecutionProvider") == "GPU (DirectML)"
    assert device_label("CPUExecutionProvider") == "CPU"
    assert device_label("AzureExecutionProvider") == "Azure"
