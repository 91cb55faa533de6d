"""inference/pipeline/hands.py on the shipped hand bundle, offline: the bundle is reproducible, and the bundled
rendered walk's hands are found around the body's own wrists with plausible, metric hand shapes."""
from __future__ import annotations

import hashlib
import importlib.util
import zipfile
from pathlib import Path

import numpy as np
import pytest

from uplift_mocap.inference.pipeline import detect  # before mediapipe (mediapipe_import._patch_protobuf)
from uplift_mocap.inference.core import skeleton as sk
from uplift_mocap.inference.core.assets import HAND_TASK
from uplift_mocap.inference.pipeline.hands import HandOptions, detect_hands, one_hand_twice, wrist_crop

for _mod in ("cv2", "mediapipe"):
    if importlib.util.find_spec(_mod) is None:
        pytest.skip(f"{_mod} not installed (make venv installs it)", allow_module_level=True)

SAMPLE = Path(__file__).resolve().parents[1] / "inference" / "samples" / "sample_walk.mp4"
H = {n: i for i, n in enumerate(sk.MP_HAND_LANDMARK_NAMES)}


def test_hand_landmark_order_matches_mediapipe():
    detect.import_mediapipe()                         # as the runtime imports it (works without matplotlib)
    from mediapipe.tasks.python.vision.hand_landmarker import HandLandmark

    assert tuple(p.name.lower() for p in sorted(HandLandmark, key=int)) == sk.MP_HAND_LANDMARK_NAMES


def test_build_script_reproduces_the_shipped_hand_bundle(tmp_path):
    from uplift_mocap.dev import build_pose_task

    assert HAND_TASK.is_file(), "models/hand_landmarker_full.task missing: run dev/build_pose_task.py --hands"
    mediapipe = detect.import_mediapipe()[0]
    source = Path(mediapipe.__file__).parent / build_pose_task._HAND_MODELS[0][1]
    if not source.is_file():
        pytest.skip(f"mediapipe {mediapipe.__version__} ships no model files (the bundle is built from 0.10.21's)")
    digest = build_pose_task.build(tmp_path / "hands.task", build_pose_task._HAND_MODELS)
    assert (tmp_path / "hands.task").read_bytes() == HAND_TASK.read_bytes()
    assert digest == hashlib.sha256(HAND_TASK.read_bytes()).hexdigest()
    with zipfile.ZipFile(HAND_TASK) as z:
        assert set(z.namelist()) == {"hand_detector.tflite", "hand_landmarks_detector.tflite"}


def test_wrist_crop_is_inside_the_image_and_needs_the_arm():
    body = np.full((sk.NUM_LANDMARKS, 3), np.nan, np.float32)
    assert wrist_crop(body, 0, 640, 480) is None
    body[sk.MP_INDEX["left_elbow"]] = (0.50, 0.50, 1.0)
    body[sk.MP_INDEX["left_wrist"]] = (0.55, 0.60, 1.0)
    x0, y0, x1, y1 = wrist_crop(body, 0, 640, 480)
    assert 0 <= x0 < 0.55 * 640 < x1 <= 640 and 0 <= y0 < 0.60 * 480 < y1 <= 480
    assert wrist_crop(body, 1, 640, 480) is None                     # the right arm is unknown


@pytest.fixture(scope="module")
def walk():
    det = detect.detect_video(SAMPLE, detect.DetectOptions(workers=1))
    return det, detect_hands(SAMPLE, det)


def test_both_hands_found_at_the_body_wrists(walk):
    det, hands = walk
    n = len(det.times_s)
    assert hands.landmarks.shape == (n, 2, 21, 3) and hands.world.shape == (n, 2, 21, 3)
    assert (hands.found.mean(axis=0) >= 0.5).all(), hands.found.mean(axis=0)
    for side, name in enumerate(("left_wrist", "right_wrist")):
        f = hands.found[:, side]
        gap = np.hypot(*((hands.landmarks[f, side, H["wrist"], :2] - det.landmarks[f, sk.MP_INDEX[name], :2])
                         * [det.width, det.height]).T)
        other = np.hypot(*((hands.landmarks[f, side, H["wrist"], :2]
                            - det.landmarks[f, sk.MP_INDEX[("right_wrist", "left_wrist")[side]], :2])
                           * [det.width, det.height]).T)
        assert np.median(gap) < np.median(other), f"the {name} hand sits nearer the other wrist"
    assert np.isnan(hands.landmarks[~hands.found]).all() and (hands.score[~hands.found] == 0).all()


def test_hand_world_landmarks_have_a_real_hand_size(walk):
    _det, hands = walk
    w = hands.world[hands.found]                                       # (N, 21, 3) metres
    palm = np.linalg.norm(w[:, H["middle_finger_mcp"]] - w[:, H["wrist"]], axis=-1)
    assert 0.06 < np.median(palm) < 0.12, np.median(palm)              # wrist to middle knuckle of an adult


def test_image_points_are_the_same_hand_in_pixels(walk):
    """What finger angles are read from: the image landmarks in pixels, depth in the same unit."""
    det, hands = walk
    px = hands.image_points(det.width, det.height)
    f = hands.found
    assert np.allclose(px[f][..., 0], hands.landmarks[f][..., 0] * det.width)
    assert np.allclose(px[f][..., 2], hands.landmarks[f][..., 2] * det.width)
    assert np.isnan(px[~f]).all()
    for side, (wrist, elbow) in enumerate((("left_wrist", "left_elbow"), ("right_wrist", "right_elbow"))):
        m = f[:, side]
        palm = np.linalg.norm(px[m, side, H["middle_finger_mcp"]] - px[m, side, H["wrist"]], axis=-1)
        forearm = np.linalg.norm((det.landmarks[m, sk.MP_INDEX[wrist], :2] - det.landmarks[m, sk.MP_INDEX[elbow], :2])
                                 * [det.width, det.height], axis=-1)
        assert 0.2 < np.median(palm / forearm) < 0.8, np.median(palm / forearm)    # a palm of the arm it hangs on
        depth, across = np.ptp(px[m, side, :, 2], axis=-1), np.ptp(px[m, side, :, :2], axis=-2).max(axis=-1)
        assert 0.05 < np.median(depth / across) < 1.5, np.median(depth / across)   # depth in the same unit


def test_one_hand_found_on_both_sides_is_kept_on_the_nearer_wrist(walk):
    """When the body pass puts both wrists on one hand (the other hidden), both trackers find that hand: it stays
    only on the side whose body wrist is nearer. Two real hands are left alone."""
    det, hands = walk
    both = np.flatnonzero(hands.found.all(axis=1))
    assert len(both) > 10
    for t in both[:: max(1, len(both) // 10)]:
        body = det.landmarks[t]
        assert one_hand_twice(hands.landmarks[t], body, det.width, det.height) is None
        for side in (0, 1):
            twice = np.stack([hands.landmarks[t, side]] * 2)
            assert one_hand_twice(twice, body, det.width, det.height) == 1 - side


def test_every_other_frame(walk):
    det, _ = walk
    half = detect_hands(SAMPLE, det, HandOptions(every=2))
    assert not half.found[1::2].any() and half.found[::2].mean() > 0.5


def test_chunk_bounds_start_on_looked_at_frames():
    from uplift_mocap.inference.pipeline.hands_parallel import chunk_bounds

    assert chunk_bounds(150, 30.0, 4, 2) == [(0, 150)]                 # 5 s: not enough for two 4 s chunks
    b = chunk_bounds(300, 30.0, 2, 2)
    assert b == [(0, 150), (150, 300)] and all(a % 2 == 0 for a, _ in b)
    b = chunk_bounds(301, 30.0, 3, 3)
    assert [a for a, _ in b] == sorted({a for a, _ in b}) and all(a % 3 == 0 for a, _ in b) and b[-1][1] == 301
    assert sum(y - x for x, y in b) == 301


@pytest.mark.slow
def test_parallel_hand_pass_equals_the_serial_one(tmp_path):
    """Two worker processes over a 10 s clip find the same hands as one pass, frame for frame, except that the
    second chunk's trackers start afresh (its first frames may differ slightly)."""
    from uplift_mocap.dev.evaluation.bench_sections import looped_video
    from uplift_mocap.inference.pipeline.hands_parallel import detect_hands_parallel

    video = looped_video(SAMPLE, tmp_path / "walk10s.mp4", 10.0)
    det = detect.detect_video(video, detect.DetectOptions(workers=1))
    serial = detect_hands(video, det, HandOptions(every=2))
    calls = []
    par = detect_hands_parallel(video, det, HandOptions(every=2), workers=2, progress=lambda d, n: calls.append(d))
    assert par.landmarks.shape == serial.landmarks.shape
    agree = (par.found == serial.found).mean()
    assert agree > 0.95, agree
    both = par.found & serial.found
    px = (par.landmarks[both][..., :2] - serial.landmarks[both][..., :2]) * [det.width, det.height]
    assert np.median(np.abs(px)) < 1.0                                  # the same hands, to a pixel
    assert calls and calls[-1] > 0.9 * len(det.times_s)
