"""A camera that travels with the actor: the root's travel from the planted feet (world_motion step 7), and the
root-path scores of ``uplift-dev eval-camera``, on the bundled CMU walk (real mocap)."""
from __future__ import annotations

import numpy as np
import pytest

from uplift_mocap.dev.evaluation.root_path import align_path_2d, root_path_scores
from uplift_mocap.dev.paths import SAMPLE_BVH
from uplift_mocap.inference.core import skeleton as sk
from uplift_mocap.inference.core.rotations import forward_kinematics
from uplift_mocap.inference.mocap.convert import load_canonical
from uplift_mocap.inference.pipeline import world_motion as wm
from uplift_mocap.inference.pipeline.smoothing import gaussian_filter_time

FEET = [sk.JOINT_INDEX["foot_l"], sk.JOINT_INDEX["foot_r"]]
TOES = [sk.JOINT_INDEX["toe_l"], sk.JOINT_INDEX["toe_r"]]


@pytest.fixture(scope="module")
def walk():
    """The CMU 02_01 walk at 30 fps: (T, J, 3) world joints (m, floor at Z = 0), the root path, fps."""
    m = load_canonical(SAMPLE_BVH)
    step = max(1, int(round(m.fps / 30.0)))
    joints = forward_kinematics(m.local_rot[::step], m.root_translation[::step], m.offsets, sk.PARENTS)[0]
    joints = np.asarray(joints, np.float64)
    joints[..., 2] -= joints[:, FEET, 2].min() - sk.ANKLE_HEIGHT
    return joints, joints[:, sk.ROOT].copy(), m.fps / step


def _tracked(joints, root, fps):
    """What a camera travelling with the actor sees: everything minus the (smoothed) horizontal root path."""
    follow = gaussian_filter_time(root, 0.5 * fps)
    follow[:, 2] = 0.0
    return joints - follow[:, None], root - follow


def test_static_camera_is_not_taken_for_a_moving_one(walk):
    joints, root, fps = walk
    cand = wm.height_contacts(joints[:, FEET], fps)
    by_feet, stance = wm.feet_path(root, joints[:, TOES], cand, fps)
    moving, travel = wm._camera_moves(root, by_feet, np.ones(len(root), bool))
    assert not moving and travel["travel_camera_m"] > 2.0
    assert stance.any(axis=1).mean() > 0.8                      # nearly always a foot in stance


def test_tracking_camera_travel_comes_back_from_the_feet(walk):
    joints, root, fps = walk
    seen, root_seen = _tracked(joints, root, fps)
    cand = wm.height_contacts(seen[:, FEET], fps)
    by_feet, _ = wm.feet_path(root_seen, seen[:, TOES], cand, fps)
    moving, travel = wm._camera_moves(root_seen, by_feet, np.ones(len(root), bool))
    assert moving and travel["travel_camera_m"] < 0.5
    scores = root_path_scores(by_feet, root)
    assert scores["travel_truth_m"] > 3.0
    assert 0.85 < scores["travel_ratio"] < 1.15, scores
    assert scores["path_err_m"] < 0.3, scores
    # what the camera-frame root alone gives: hardly any travel
    assert root_path_scores(root_seen, root)["travel_ratio"] < 0.1


def test_root_path_alignment_ignores_heading_and_origin_but_not_scale():
    rng = np.random.default_rng(0)
    truth = np.cumsum(rng.normal(size=(50, 3)) * [0.1, 0.1, 0.0], axis=0)
    a = np.deg2rad(70)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    ours = truth.copy()
    ours[:, :2] = truth[:, :2] @ rot.T + [3.0, -2.0]
    np.testing.assert_allclose(align_path_2d(ours[:, :2], truth[:, :2]), truth[:, :2], atol=1e-9)
    assert root_path_scores(ours, truth)["path_err_m"] < 1e-9
    half = root_path_scores(ours * [0.5, 0.5, 1.0], truth)
    assert half["travel_ratio"] == pytest.approx(0.5) and half["path_err_m"] > 0.01
