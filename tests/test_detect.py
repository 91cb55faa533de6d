"""inference/pipeline/detect.py on the shipped .task bundle, offline: a real walking person, no person, choice."""
from __future__ import annotations

import hashlib
import importlib.util
import socket
import zipfile
from pathlib import Path

import numpy as np
import pytest

# detect must be imported before mediapipe (see mediapipe_import._patch_protobuf), so no importorskip here
from uplift_mocap.inference.pipeline import detect
from uplift_mocap.inference.core import skeleton  # noqa: E402
from uplift_mocap.inference.pipeline.detect import DetectOptions, Detections, choose_person  # noqa: E402

for _mod in ("cv2", "mediapipe"):
    if importlib.util.find_spec(_mod) is None:
        pytest.skip(f"{_mod} not installed (make venv installs it)", allow_module_level=True)

FIXTURES = Path(__file__).resolve().parent / "fixtures"
WALK = FIXTURES / "person_walk.mp4"  # 75 frames, 30 fps, 640x360; see person_walk.LICENSE.md
I = skeleton.MP_INDEX


def test_landmark_order_matches_mediapipe():
    from mediapipe.python.solutions.pose import PoseLandmark

    assert tuple(p.name.lower() for p in sorted(PoseLandmark, key=int)) == skeleton.MP_LANDMARK_NAMES


def test_build_script_reproduces_the_shipped_bundle(tmp_path):
    from uplift_mocap.dev import build_pose_task

    shipped = detect.DEFAULT_MODEL
    assert shipped.is_file(), "models/pose_landmarker_full.task missing: run dev/build_pose_task.py"
    digest = build_pose_task.build(tmp_path / "rebuilt.task")
    assert (tmp_path / "rebuilt.task").read_bytes() == shipped.read_bytes()
    assert digest == hashlib.sha256(shipped.read_bytes()).hexdigest()
    with zipfile.ZipFile(shipped) as z:
        infos = {i.filename: i for i in z.infolist()}
    assert set(infos) == {"pose_detector.tflite", "pose_landmarks_detector.tflite"}
    assert all(i.compress_type == zipfile.ZIP_STORED and i.date_time == (1980, 1, 1, 0, 0, 0)
               for i in infos.values())


@pytest.fixture(scope="module")
def walk() -> tuple[Detections, list]:
    calls = []

    def no_network(*args, **kwargs):
        raise AssertionError("detection tried to use the network")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", no_network)
        d = detect.detect_video(WALK, DetectOptions(), progress=lambda i, n: calls.append((i, n)))
    return d, calls


def test_walk_frames_times_and_progress(walk):
    d, calls = walk
    assert len(d.times_s) == 75 and (d.width, d.height) == (640, 360) and d.fps == pytest.approx(30.0)
    np.testing.assert_array_equal(d.frame_indices, np.arange(75))
    np.testing.assert_allclose(d.times_s, np.arange(75) / 30.0, atol=1e-3)
    assert d.landmarks.shape == d.world_landmarks.shape == (75, 33, 3)
    assert d.landmarks.dtype == d.world_landmarks.dtype == np.float32
    assert [c[0] for c in calls] == list(range(1, 76)) and all(n >= i for i, n in calls)


def test_walk_person_found_inside_the_image(walk):
    d, _ = walk
    ok = d.detected
    assert ok.mean() >= 0.9, f"person in only {ok.mean():.0%} of frames"
    core = [I[n] for n in ("nose", "left_shoulder", "right_shoulder", "left_hip", "right_hip",
                           "left_knee", "right_knee", "left_ankle", "right_ankle")]
    xy = d.landmarks[ok][:, core, :2]
    assert np.all((xy > -0.02) & (xy < 1.02))
    vis = d.landmarks[ok][:, core, 2]
    assert np.all(vis[:, :5] > 0.5)  # head and torso always seen; the far leg is hidden at times
    assert np.all(np.median(vis, axis=0) > 0.8)
    assert np.all(np.isfinite(d.world_landmarks[ok]))
    # missing frames, if any: NaN positions, zero visibility and presence
    assert np.all(np.isnan(d.landmarks[~ok][..., :2])) and np.all(d.landmarks[~ok][..., 2] == 0)
    assert np.all(np.isnan(d.world_landmarks[~ok]))


def _mid(d: Detections, a: str, b: str) -> np.ndarray:
    return (d.landmarks[:, I[a], :2] + d.landmarks[:, I[b], :2]) / 2


def test_walk_anatomy_is_plausible(walk):
    d, _ = walk
    ok = d.detected
    y = d.landmarks[ok][..., 1]
    sh = y[:, [I["left_shoulder"], I["right_shoulder"]]].mean(1)
    hip = y[:, [I["left_hip"], I["right_hip"]]].mean(1)
    knee = y[:, [I["left_knee"], I["right_knee"]]].mean(1)
    ankle = y[:, [I["left_ankle"], I["right_ankle"]]].mean(1)
    nose = y[:, I["nose"]]
    assert np.mean((nose < sh) & (sh < hip) & (hip < knee) & (knee < ankle)) >= 0.95
    wsh = d.world_landmarks[ok][:, I["left_shoulder"]] - d.world_landmarks[ok][:, I["right_shoulder"]]
    assert 0.2 < np.median(np.linalg.norm(wsh, axis=-1)) < 0.6  # shoulder width in metres


def test_walk_left_and_right_are_not_swapped(walk):
    """She walks right to left facing her way, so her LEFT side is toward the camera."""
    d, _ = walk
    ok = d.detected
    hip_x = _mid(d, "left_hip", "right_hip")[ok, 0]
    assert hip_x[-5:].mean() < hip_x[:5].mean() - 0.2  # walks toward image left
    facing_left = d.landmarks[ok, I["nose"], 0] < _mid(d, "left_shoulder", "right_shoulder")[ok, 0]
    assert facing_left.mean() >= 0.8
    w = d.world_landmarks[ok]  # MediaPipe world: z grows away from the camera
    nearer = ((w[:, I["left_shoulder"], 2] < w[:, I["right_shoulder"], 2])
              & (w[:, I["left_hip"], 2] < w[:, I["right_hip"], 2]))
    assert nearer.mean() >= 0.8
    vis = d.landmarks[ok][..., 2]
    left_arm = vis[:, [I["left_elbow"], I["left_wrist"]]].mean()
    right_arm = vis[:, [I["right_elbow"], I["right_wrist"]]].mean()
    assert left_arm > right_arm + 0.2  # the right arm is hidden behind her body


def test_walk_keeps_the_same_person_when_a_second_appears(walk):
    """A man stands on a box in the background (hips near y = 0.26); the woman's are near 0.72."""
    d, _ = walk
    assert (d.num_people == 2).any(), "expected the background person to be detected sometimes"
    hip_y = _mid(d, "left_hip", "right_hip")[d.detected, 1]
    assert np.all(hip_y > 0.55)


def test_detections_npz_round_trip(walk, tmp_path):
    d, _ = walk
    d.save_npz(tmp_path / "walk.npz")
    e = Detections.load_npz(tmp_path / "walk.npz")
    for k in ("times_s", "frame_indices", "landmarks", "presence", "world_landmarks", "num_people"):
        np.testing.assert_array_equal(getattr(e, k), getattr(d, k))
    assert (e.width, e.height, e.fps, e.stride, e.source) == (d.width, d.height, d.fps, d.stride, d.source)


def test_range_and_stride_follow_the_video(walk):
    full, _ = walk
    d = detect.detect_video(WALK, DetectOptions(start_s=0.5, end_s=2.0, stride=5))
    np.testing.assert_array_equal(d.frame_indices, np.arange(15, 60, 5))
    np.testing.assert_allclose(d.times_s, np.arange(15, 60, 5) / 30.0, atol=1e-3)
    assert d.stride == 5 and d.detected.mean() >= 0.8
    both = d.detected & full.detected[d.frame_indices]
    err = np.abs(d.landmarks[both][..., :2] - full.landmarks[d.frame_indices][both][..., :2])
    assert np.median(err) < 0.02


def test_no_person_video(tmp_path):
    import cv2

    path = tmp_path / "empty_room.avi"
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (320, 240))
    yy, xx = np.mgrid[:240, :320]
    for k in range(12):
        img = np.stack([xx * 0.5 + k, yy * 0.8, 128 + 0 * xx], -1).astype(np.uint8)
        img[100:140, 20 + 10 * k:60 + 10 * k] = (40, 200, 40)
        out.write(img)
    out.release()
    d = detect.detect_video(path)
    assert len(d.times_s) == 12 and d.detected_fraction == 0.0
    assert np.all(d.presence == 0) and np.all(d.num_people == 0)
    assert np.all(np.isnan(d.landmarks[..., :2])) and np.all(d.landmarks[..., 2] == 0)


def test_detector_lifecycle_and_repeated_times():
    frame = np.zeros((120, 160, 3), np.uint8)
    with detect.PoseDetector() as det:
        det.detect(frame, 0.0)
        det.detect(frame, 0.0)  # same time again: still strictly increasing for MediaPipe
        det.detect(frame, -1.0)
    with pytest.raises(RuntimeError, match="closed"):
        det.detect(frame, 1.0)
    det.close()  # idempotent


def test_missing_model_names_the_build_script(tmp_path):
    with pytest.raises(FileNotFoundError, match="build_pose_task"):
        detect.PoseDetector(DetectOptions(model_path=tmp_path / "none.task"))


def _person(hip_x: float, hip_y: float, height: float) -> np.ndarray:
    """(33, 2) toy landmarks: a vertical segment of ``height`` with hips at (hip_x, hip_y)."""
    pts = np.zeros((skeleton.NUM_LANDMARKS, 2), np.float32)
    pts[:, 0] = hip_x + np.linspace(-0.1, 0.1, skeleton.NUM_LANDMARKS) * height
    pts[:, 1] = hip_y + np.linspace(-0.5, 0.5, skeleton.NUM_LANDMARKS) * height
    pts[[I["left_hip"], I["right_hip"]]] = (hip_x, hip_y)
    return pts


def test_choose_person_by_size_then_continuity():
    small, big = _person(0.3, 0.3, 0.2), _person(1.0, 0.7, 0.6)
    both = np.stack([small, big])
    assert choose_person(both[:0], None) is None
    assert choose_person(both, None) == 1  # no history: the largest
    assert choose_person(both, _person(0.32, 0.31, 0.2)) == 0  # history: the nearest, not the largest
    assert choose_person(both[::-1], _person(0.32, 0.31, 0.2)) == 1
    assert choose_person(both[1:], _person(0.32, 0.31, 0.2)) is None  # only someone far away
    assert choose_person(both[1:], _person(0.32, 0.31, 0.2), max_jump=10.0) == 0
