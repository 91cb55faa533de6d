"""inference/pipeline/zoom.py: people too small for MediaPipe's full-frame detector are found in tiles and followed
in a crop. Real data: the bundled sample walk shrunk to 45 % into a grey frame (the body ~80 px of 480), where the
full frame finds nobody; with zoom the person is found in every frame, where the walk's own detections put them."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from uplift_mocap.inference.pipeline import detect  # before mediapipe (mediapipe_import._patch_protobuf)
from uplift_mocap.inference.pipeline.zoom import crop_around, tile_boxes, to_full_frame

for _mod in ("cv2", "mediapipe"):
    if importlib.util.find_spec(_mod) is None:
        pytest.skip(f"{_mod} not installed (make venv installs it)", allow_module_level=True)

SAMPLE = Path(__file__).resolve().parents[1] / "inference" / "samples" / "sample_walk.mp4"
SCALE, OFFSET = 0.45, (0.55, 0.3)            # the shrunk walk's size and its top-left corner (share of the frame)


def test_tiles_cover_the_frame_and_map_back():
    boxes = tile_boxes(640, 480)
    assert len(boxes) == 9 and all(x1 - x0 == 320 and y1 - y0 == 240 for x0, y0, x1, y1 in boxes)
    covered = np.zeros((480, 640), bool)
    for x0, y0, x1, y1 in boxes:
        covered[y0:y1, x0:x1] = True
    assert covered.all()
    pose = np.zeros((1, 33, 4), np.float32)
    pose[..., 0], pose[..., 1] = 0.5, 0.25                      # centre of the tile, a quarter down
    full = to_full_frame(pose, (320, 240, 640, 480), 640, 480)
    assert np.allclose(full[0, 0, :2], [0.75, 0.625]) and np.allclose(full[..., 2:], pose[..., 2:])


def test_crop_follows_a_small_person_and_gives_way_to_the_full_frame():
    pose = np.zeros((33, 4), np.float32)
    pose[:, 2] = 1.0
    pose[:, 0] = np.linspace(0.90, 0.98, 33)                    # a small person at the right edge
    pose[:, 1] = np.linspace(0.50, 0.70, 33)
    x0, y0, x1, y1 = crop_around(pose, 640, 480)
    assert 0 <= x0 < x1 <= 640 and 0 <= y0 < y1 <= 480 and x1 - x0 == y1 - y0      # square, inside the frame
    assert x0 <= 0.90 * 640 and x1 >= 0.98 * 640 and y0 <= 0.5 * 480 and y1 >= 0.7 * 480
    pose[:, 1] = np.linspace(0.05, 0.95, 33)                    # a person nearly as tall as the frame
    assert crop_around(pose, 640, 480) is None


@pytest.fixture(scope="module")
def small_walk(tmp_path_factory):
    import cv2

    cap = cv2.VideoCapture(str(SAMPLE))
    fps = cap.get(cv2.CAP_PROP_FPS)
    path = tmp_path_factory.mktemp("zoom") / "small_walk.avi"
    out = None
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        h, w = frame.shape[:2]
        if out is None:
            out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
        canvas = np.full_like(frame, 128)
        small = cv2.resize(frame, None, fx=SCALE, fy=SCALE, interpolation=cv2.INTER_AREA)
        x0, y0 = int(OFFSET[0] * w), int(OFFSET[1] * h)
        canvas[y0:y0 + small.shape[0], x0:x0 + small.shape[1]] = small[:h - y0, :w - x0]
        out.write(canvas)
    out.release()
    return path


def test_small_person_found_with_zoom_where_the_full_frame_finds_nobody(small_walk):
    plain = detect.detect_video(small_walk, detect.DetectOptions(workers=1, zoom=False))
    zoomed = detect.detect_video(small_walk, detect.DetectOptions(workers=1))
    assert plain.detected.mean() < 0.1                          # why zoom exists
    assert zoomed.detected.mean() > 0.95
    big = detect.detect_video(SAMPLE, detect.DetectOptions(workers=1))
    both = zoomed.detected & big.detected
    w, h = zoomed.width, zoomed.height
    expected = big.landmarks[both, :, :2] * [w, h] * SCALE + [int(OFFSET[0] * w), int(OFFSET[1] * h)]
    err = np.linalg.norm(zoomed.landmarks[both, :, :2] * [w, h] - expected, axis=-1)
    vis = big.landmarks[both, :, 2] > 0.5
    assert np.median(err[vis]) < 3.0, np.median(err[vis])       # px, on a body ~80 px tall
    assert np.isfinite(zoomed.world_landmarks[zoomed.detected]).all()
