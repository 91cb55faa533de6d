"""The camera's own turn from the background (inference/pipeline/camera_rotation.py): exact on rays, and on a
video made by turning a camera over a textured picture (every frame a known rotation homography of it)."""
from __future__ import annotations

import importlib.util
from types import SimpleNamespace

import numpy as np
import pytest

from uplift_mocap.inference.core.rotations import axis_angle_to_matrix
from uplift_mocap.inference.pipeline.camera_rotation import camera_rotations, rays_rotation

needs_cv2 = pytest.mark.skipif(importlib.util.find_spec("cv2") is None, reason="opencv not installed")


def test_rays_rotation_is_exact_for_a_turned_camera():
    rng = np.random.default_rng(0)
    before = rng.normal(size=(50, 3)) + [0.0, 0.0, 4.0]
    before /= np.linalg.norm(before, axis=1, keepdims=True)
    turn = axis_angle_to_matrix(np.array([0.05, -0.3, 0.02]))
    np.testing.assert_allclose(rays_rotation(before, before @ turn.T), turn, atol=1e-9)


def _turning_video(path, turns, size=(480, 360), focal=400.0, plain=False):
    import cv2

    w, h = size
    k = np.array([[focal, 0, w / 2], [0, focal, h / 2], [0, 0, 1.0]])
    rng = np.random.default_rng(1)
    base = np.full((h, w, 3), 128, np.uint8)
    if not plain:
        for _ in range(300):                                       # blobs of colour: corners to follow
            x, y, r = rng.integers(0, w), rng.integers(0, h), rng.integers(3, 12)
            cv2.circle(base, (int(x), int(y)), int(r), tuple(int(c) for c in rng.integers(0, 255, 3)), -1)
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (w, h))
    for r in turns:
        out.write(cv2.warpPerspective(base, k @ r @ np.linalg.inv(k), (w, h), borderMode=cv2.BORDER_REFLECT))
    out.release()
    return focal


@needs_cv2
def test_a_turning_camera_is_followed_and_a_plain_picture_gives_no_turn(tmp_path):
    n = 40
    turns = [axis_angle_to_matrix(np.array([0.0, -0.004 * t, 0.001 * t])) for t in range(n)]    # pan, a little roll
    det = SimpleNamespace(times_s=np.arange(n) / 30.0, stride=1, width=480, height=360,
                          landmarks=np.full((n, 33, 3), np.nan))
    focal = _turning_video(tmp_path / "turn.mp4", turns)
    got = camera_rotations(tmp_path / "turn.mp4", det, focal)
    assert got.ok.mean() > 0.9 and np.median(got.features[1:]) >= 50
    cos = (np.einsum("tij,tij->t", got.rot, np.array(turns)) - 1.0) / 2.0
    err = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
    assert err.max() < 1.0, err.max()                               # 9.2 degrees turned in all
    assert got.angles_deg()[-1] == pytest.approx(np.degrees(np.linalg.norm([0.0, -0.156, 0.039])), abs=1.0)
    _turning_video(tmp_path / "plain.mp4", turns, plain=True)
    plain = camera_rotations(tmp_path / "plain.mp4", det, focal)
    assert plain.angles_deg().max() < 1.0                           # nothing to follow: no turn read
