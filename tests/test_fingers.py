"""inference/pipeline/fingers.py: finger angles from 21 hand landmarks, round trips on posed hands, limits,
mirror symmetry, and plausible angles on MediaPipe's real hand landmarks of the bundled sample walk."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from uplift_mocap.inference.core import rotations as R
from uplift_mocap.inference.pipeline import fingers as F

LENGTHS = np.array([[0.040, 0.032, 0.027], [0.040, 0.024, 0.020], [0.044, 0.027, 0.021],
                    [0.041, 0.026, 0.020], [0.033, 0.019, 0.018]])


def knuckles(side: int) -> np.ndarray:
    """First joints of thumb..pinky in the hand frame (x, y, p): middle knuckle on +y; index towards +x for a
    right hand (x radial there) and towards -x for a left hand."""
    s = 1.0 if side == 1 else -1.0
    return np.array([[0.025 * s, 0.025, 0.01], [0.022 * s, 0.088, 0.0], [0.0, 0.090, 0.0],
                     [-0.020 * s, 0.084, 0.0], [-0.038 * s, 0.076, 0.0]])


def random_angles(rng, n: int) -> np.ndarray:
    lo, hi = F.JOINT_LIMITS[..., 0], F.JOINT_LIMITS[..., 1]
    return rng.uniform(lo + 1e-3 * (hi > lo), hi - 1e-3 * (hi > lo), size=(n, 5, 3, 2))


@pytest.mark.parametrize("side", [0, 1])
def test_round_trip_recovers_the_angles(side):
    rng = np.random.default_rng(side)
    for ang in random_angles(rng, 50):
        pts = F.hand_points(ang, side, LENGTHS, knuckles(side))
        turn = R.quat_to_matrix(R.quat_normalize(rng.normal(size=4)))        # any orientation, anywhere
        seen = pts @ turn.T + rng.normal(size=3)
        np.testing.assert_allclose(F.finger_angles(seen, side), ang, atol=1e-6)


def test_mirror_hands_give_the_same_angles():
    rng = np.random.default_rng(3)
    ang = random_angles(rng, 1)[0]
    right = F.hand_points(ang, 1, LENGTHS, knuckles(1))
    left = right * [-1.0, 1.0, 1.0]                                           # its mirror image
    np.testing.assert_allclose(F.finger_angles(left, 0), ang, atol=1e-6)


def test_fingers_never_bend_backwards():
    ang = np.zeros((5, 3, 2))
    ang[1:, 1, 0] = np.deg2rad(-40.0)                                          # middle joints bent backwards
    ang[1, 0, 1] = np.deg2rad(60.0)                                            # index spread far beyond its range
    pts = F.hand_points(ang, 1, LENGTHS, knuckles(1))
    got = F.finger_angles(pts, 1)
    assert np.all(got[1:, 1, 0] == 0.0)
    assert got[1, 0, 1] == pytest.approx(np.deg2rad(25.0))
    raw = F.finger_angles(pts, 1, limits=False)
    assert raw[1, 1, 0] == pytest.approx(np.deg2rad(-40.0), abs=1e-6)


def test_quaternions_are_the_rotations_of_the_angles():
    ang = random_angles(np.random.default_rng(5), 1)[0]
    q = F.angles_to_quats(ang, 0)
    assert q.shape == (5, 3, 4)
    np.testing.assert_allclose(R.quat_to_matrix(q), F.angles_to_matrices(ang, 0), atol=1e-9)
    straight = F.angles_to_quats(np.zeros((5, 3, 2)), 1)
    np.testing.assert_allclose(np.abs(straight[..., 0]), 1.0)                  # rest: identity


def test_real_hand_landmarks_give_plausible_angles():
    """MediaPipe's hand world landmarks of the bundled rendered walk (the MakeHuman body's relaxed hands, 30-40 px
    tall): the middle joints curl slightly towards the palm (the sign convention), nothing near a fist."""
    import importlib.util

    if importlib.util.find_spec("mediapipe") is None:
        pytest.skip("mediapipe not installed")
    from uplift_mocap.inference.pipeline import detect
    from uplift_mocap.inference.pipeline.hands import detect_hands

    sample = Path(__file__).resolve().parents[1] / "inference" / "samples" / "sample_walk.mp4"
    det = detect.detect_video(sample, detect.DetectOptions(workers=1))
    hands = detect_hands(sample, det)
    for side in (0, 1):
        w = hands.world[hands.found[:, side], side]
        raw = np.rad2deg(F.finger_angles(w, side, limits=False))
        assert np.median(raw[:, 1:, 1, 0]) > 0.0                               # middle joints: towards the palm
        kept = np.rad2deg(F.finger_angles(w, side))
        assert -10.0 < np.median(kept[:, 1:, :, 0]) < 45.0                      # relaxed, not a fist
