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


def _floor_video(path, centres, tilt_deg=20.0, height=1.5, size=(480, 360), focal=400.0):
    """A camera ``height`` m above a textured floor, looking along +Y tilted down ``tilt_deg``, at world ``centres``
    (T, 3) (its height added). Returns (focal, R_cam_from_world)."""
    import cv2

    w, h = size
    k = np.array([[focal, 0, w / 2], [0, focal, h / 2], [0, 0, 1.0]])
    c, s = np.cos(np.radians(tilt_deg)), np.sin(np.radians(tilt_deg))
    r_cw = np.array([[1.0, 0.0, 0.0], [0.0, -s, -c], [0.0, c, -s]])      # rows: camera x (right), y (down), z
    ppm, x0, y0 = 100.0, -6.0, -1.0                                      # texture: 100 px per metre from (x0, y0)
    rng = np.random.default_rng(2)
    tex = np.full((int(20 * ppm), int(12 * ppm), 3), 110, np.uint8)
    for _ in range(6000):
        x, y, r = rng.integers(0, tex.shape[1]), rng.integers(0, tex.shape[0]), rng.integers(4, 14)
        cv2.circle(tex, (int(x), int(y)), int(r), tuple(int(v) for v in rng.integers(0, 255, 3)), -1)
    from_tex = np.array([[1 / ppm, 0, x0], [0, 1 / ppm, y0], [0, 0, 1.0]])    # texture px -> floor (X, Y, 1)
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (w, h))
    for cw in centres:
        centre = np.asarray(cw, np.float64) + [0.0, 0.0, height]
        t = -r_cw @ centre
        hom = k @ np.column_stack([r_cw[:, 0], r_cw[:, 1], t]) @ from_tex
        out.write(cv2.warpPerspective(tex, hom, (w, h), borderMode=cv2.BORDER_CONSTANT, borderValue=(110, 110, 110)))
    out.release()
    return focal, r_cw


@needs_cv2
def test_a_travelling_camera_is_followed_over_a_textured_floor(tmp_path):
    """A tracking shot over a textured floor (the camera moves 2 m forwards and 1 m sideways): with the floor known
    (its normal in camera 0's axes and the camera's height), the camera's path comes out in metres."""
    n = 40
    path_w = np.linspace(0.0, 1.0, n)[:, None] * [1.0, 2.0, 0.0]
    focal, r_cw = _floor_video(tmp_path / "track.mp4", path_w)
    det = SimpleNamespace(times_s=np.arange(n) / 30.0, stride=1, width=480, height=360,
                          landmarks=np.full((n, 33, 3), np.nan))
    got = camera_rotations(tmp_path / "track.mp4", det, focal, floor=(r_cw @ [0.0, 0.0, 1.0], 1.5))
    assert got.travel_ok.mean() > 0.9
    truth = path_w @ r_cw.T                                              # camera 0's axes
    err = np.linalg.norm(got.centre - truth, axis=1)
    assert err.max() < 0.05 * np.linalg.norm(truth[-1]), (err.max(), got.centre[-1], truth[-1])
    assert got.angles_deg().max() < 1.0                                  # it did not turn
    wrong_height = camera_rotations(tmp_path / "track.mp4", det, focal, floor=(r_cw @ [0.0, 0.0, 1.0], 3.0))
    assert np.linalg.norm(wrong_height.centre[-1]) == pytest.approx(2.0 * np.linalg.norm(got.centre[-1]), rel=0.05)
