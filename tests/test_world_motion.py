"""solve_world on the bundled CMU walk seen by a known pinhole camera (exact and perturbed input)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from uplift_mocap.inference.core import rotations as R
from uplift_mocap.inference.core import skeleton as sk
from uplift_mocap.inference.mocap.convert import load_canonical
from uplift_mocap.inference.pipeline.world_motion import (DEFAULT_FOCAL_MM, WorldOptions, focal_length_px, foot_sliding, solve_world, world_from_cam)
from uplift_mocap.dev.training.synth import camera_rotation

SAMPLE = Path(__file__).resolve().parents[1] / "inference" / "samples" / "cmu_02_01_walk.bvh.gz"
W, H = 1920, 1080
FEET = [sk.JOINT_INDEX["foot_l"], sk.JOINT_INDEX["foot_r"]]


@pytest.fixture(scope="module")
def scene():
    """The walk in its own world, a camera 5 m away (yaw 60 deg, 12 deg down, 3 deg roll, 28 mm),
    the 33 landmarks projected through it, and the uplifter-style camera-frame inputs."""
    m = load_canonical(SAMPLE)
    rot, root, off = (m.local_rot.astype(np.float64), m.root_translation.astype(np.float64),
                      m.offsets.astype(np.float64))
    pos, glob = R.forward_kinematics(rot, root, off, sk.PARENTS)
    lm_w = pos[:, sk.MP_ANCHOR_JOINT] + (glob[:, sk.MP_ANCHOR_JOINT] @ sk.MP_ANCHOR_OFFSET[None, :, :, None])[..., 0]
    r_cw = camera_rotation(np.radians([60.0]), np.radians([12.0]), np.radians([3.0]))[0]
    cam = pos[:, 0].mean(0) - 5.0 * r_cw[1]
    f = focal_length_px(W, H, 28.0)
    return dict(fps=m.fps, rot=rot, root=root, off=off, r_cw=r_cw, cam=cam, f=f, lm_cam=(lm_w - cam) @ r_cw.T,
                joints_cam=(pos - root[:, None]) @ r_cw.T, root_cam=(root - cam) @ r_cw.T,
                root_rot_cam=R.quat_multiply(R.matrix_to_quat(r_cw)[None], rot[:, 0]))


def project(lm_cam, f, vis=1.0):
    u = W / 2 + f * lm_cam[..., 0] / lm_cam[..., 1]
    v = H / 2 - f * lm_cam[..., 2] / lm_cam[..., 1]
    return np.stack([u / W, v / H, np.broadcast_to(vis, u.shape)], -1)


def solve(s, lm=None, joints_cam=None, **opts):
    lm = project(s["lm_cam"], s["f"]) if lm is None else lm
    jc = s["joints_cam"] if joints_cam is None else joints_cam
    return solve_world(lm, W, H, jc, s["root_rot_cam"], s["off"], WorldOptions(focal_mm=28.0, **opts), fps=s["fps"])


def root_error(s, wm):
    """(T,) distance of the solved root from the true one expressed in the solved world frame (both
    relative to frame 0, then the mean offset removed: the origin is a convention)."""
    r_wc = wm.camera["cam_from_world"].T
    exp = s["root_cam"] @ r_wc.T
    d = (wm.root_translation - wm.root_translation[0]) - (exp - exp[0])
    return np.linalg.norm(d - d.mean(0), axis=1)


def world_joints(s, wm):
    rot = np.concatenate([wm.root_rot[:, None], s["rot"][:, 1:]], axis=1)
    return R.forward_kinematics(rot, wm.root_translation, s["off"], sk.PARENTS)[0]


def test_focal_length_and_level_camera():
    assert focal_length_px(1920, 1080, 36.0) == pytest.approx(1920.0)
    assert focal_length_px(1080, 1920, None) == pytest.approx(DEFAULT_FOCAL_MM / 36.0 * 1920)
    np.testing.assert_allclose(world_from_cam([0.0, 0.0, 1.0]), np.eye(3), atol=1e-12)
    with pytest.raises(ValueError, match="focal"):
        focal_length_px(1920, 1080, -5.0)


def test_recovers_root_camera_and_up(scene):
    wm = solve(scene, plant_feet=False)
    err = root_error(scene, wm)
    assert err.mean() < 0.02 and err.max() < 0.10, (err.mean(), err.max())
    r_wc = wm.camera["cam_from_world"].T
    up_true = scene["r_cw"] @ [0.0, 0.0, 1.0]                     # world +Z in camera coordinates
    assert np.degrees(np.arccos(np.clip(r_wc[2] @ up_true, -1, 1))) < 3.0
    # the true camera's horizontal viewing direction becomes +Y
    fwd = scene["r_cw"][1] * [1.0, 1.0, 0.0]
    np.testing.assert_allclose(r_wc @ (scene["r_cw"] @ (fwd / np.linalg.norm(fwd))), [0, 1, 0], atol=0.06)
    # camera centre: horizontal distance to the first root as in the true scene
    true_d = np.linalg.norm((scene["cam"] - scene["root"][0])[:2])
    got_d = np.linalg.norm((wm.camera["cam_position"] - wm.root_translation[0])[:2])
    assert abs(got_d - true_d) < 0.1
    np.testing.assert_allclose(wm.root_translation[0, :2], 0.0, atol=1e-6)   # motion starts at the origin
    assert wm.camera["focal_px"] == pytest.approx(scene["f"])


def test_upright_floor_and_contacts(scene):
    wm = solve(scene, plant_feet=False)
    j = world_joints(scene, wm)
    spine = j[:, sk.JOINT_INDEX["neck"]] - j[:, 0]
    assert np.median(spine[:, 2] / np.linalg.norm(spine, axis=1)) > 0.97
    lowest_ankle = j[:, FEET, 2].min(axis=1)
    assert abs(np.median(lowest_ankle) - sk.ANKLE_HEIGHT) < 0.03
    assert lowest_ankle.min() > 0.0                                           # nothing under the floor
    c = wm.contacts
    assert c.shape == (len(j), 2) and c.dtype == bool
    for k in range(2):
        assert 0.2 < c[:, k].mean() < 0.8
        starts = np.flatnonzero(np.diff(c[:, k].astype(int)) == 1)
        assert len(starts) >= 1                                              # at least two steps per foot
    speed = np.linalg.norm(np.gradient(j[:, FEET], axis=0), axis=-1) * scene["fps"]
    assert np.median(speed[c]) < 0.3 < np.median(speed[~c])
    assert (c.any(axis=1)).mean() > 0.9                                      # walking: a foot is almost always down


def test_planting_reduces_sliding_of_a_wobbling_root(scene):
    t = np.arange(len(scene["root"])) / scene["fps"]
    wobble = np.zeros((len(t), 1, 3))
    wobble[:, 0, 1] = 0.06 * np.sin(2 * np.pi * 1.0 * t)                       # depth error, m
    wobble[:, 0, 0] = 0.03 * np.sin(2 * np.pi * 0.7 * t + 1.0)
    lm = project(scene["lm_cam"] + wobble, scene["f"])
    before, after = solve(scene, lm, plant_feet=False), solve(scene, lm, plant_feet=True)
    slide = [foot_sliding(world_joints(scene, wm)[:, FEET], wm.contacts, scene["fps"]) for wm in (before, after)]
    assert slide[1] < 0.75 * slide[0], slide
    assert root_error(scene, after).mean() <= root_error(scene, before).mean() + 0.01
    np.testing.assert_allclose(after.root_translation[:, 2], before.root_translation[:, 2], atol=1e-5)


def test_in_place_keeps_only_vertical_motion(scene):
    free, fixed = solve(scene), solve(scene, in_place=True)
    assert np.all(fixed.root_translation[:, :2] == 0.0)
    np.testing.assert_allclose(fixed.root_translation[:, 2], free.root_translation[:, 2], atol=1e-6)
    np.testing.assert_allclose(fixed.root_rot, free.root_rot, atol=1e-6)
    assert np.ptp(free.root_translation[:, 1]) > 1.0                        # the walk covers ground otherwise


def test_noisy_input_and_unkeyed_frames(scene):
    rng = np.random.default_rng(0)
    jc = scene["joints_cam"] + rng.normal(0.0, 0.02, scene["joints_cam"].shape)
    lm = project(scene["lm_cam"], scene["f"], rng.uniform(0.5, 1.0, scene["lm_cam"].shape[:2]))
    lm[..., :2] += rng.normal(0.0, 3.0, lm.shape[:2] + (2,)) / [W, H]
    keyed = np.ones(len(lm), dtype=bool)
    keyed[40:50] = False
    lm[40:50] = np.nan                                                        # gap left unkeyed upstream
    wm = solve_world(lm, W, H, jc, scene["root_rot_cam"], scene["off"], WorldOptions(focal_mm=28.0),
                     fps=scene["fps"], keyed=keyed)
    assert np.all(np.isfinite(wm.root_translation)) and not wm.contacts[40:50].any()
    assert root_error(scene, wm).mean() < 0.06
    feet = wm.root_translation[:, None] + jc[:, FEET] @ wm.camera["cam_from_world"]
    assert abs(np.median(feet[keyed, :, 2].min(axis=1)) - sk.ANKLE_HEIGHT) < 0.03


def test_bad_input(scene):
    lm = project(scene["lm_cam"], scene["f"])
    with pytest.raises(ValueError, match="joints_cam"):
        solve(scene, lm, joints_cam=scene["joints_cam"][:, :5])
    lm[..., 2] = 0.0
    with pytest.raises(ValueError, match="enough visible landmarks"):
        solve(scene, lm)


def test_a_turning_camera_is_taken_out_with_its_turn(scene):
    """The same walk filmed by a camera that pans 25 degrees (and rolls a little) as it goes: with that turn given
    (``cam_turn``, R_t<-0 in the camera axes), the world motion is the static camera's; without it, it is not."""
    s = scene
    n = len(s["lm_cam"])
    turn = R.axis_angle_to_matrix(np.stack([np.zeros(n), np.zeros(n), np.zeros(n)], -1)
                                  + np.linspace(0.0, 1.0, n)[:, None] * np.radians([2.0, 0.0, 25.0]))
    lm = project(np.einsum("tij,tkj->tki", turn, s["lm_cam"]), s["f"])
    jc = np.einsum("tij,tkj->tki", turn, s["joints_cam"])
    qc = R.quat_multiply(R.matrix_to_quat(turn), s["root_rot_cam"])
    static = solve(s)
    opts = WorldOptions(focal_mm=28.0, camera_motion="static")
    turned = solve_world(lm, W, H, jc, qc, s["off"], opts, fps=s["fps"], cam_turn=turn)
    np.testing.assert_allclose(turned.root_translation, static.root_translation, atol=2e-3)
    assert np.degrees(R.quat_angle(turned.root_rot, static.root_rot)).max() < 0.1
    ignored = solve_world(lm, W, H, jc, qc, s["off"], opts, fps=s["fps"])
    assert np.abs(ignored.root_translation - static.root_translation).max() > 0.2


def test_a_travelling_camera_is_taken_out_with_its_path(scene):
    """The same walk filmed by a camera that travels 1.2 m sideways and 0.3 m forwards while it pans: with its turn
    and its centre given (``cam_turn``, ``cam_centre`` in camera 0's axes), the world motion is the static
    camera's; with the turn alone, it is not."""
    s = scene
    n = len(s["lm_cam"])
    frac = np.linspace(0.0, 1.0, n)[:, None]
    turn = R.axis_angle_to_matrix(frac * np.radians([1.0, 0.0, 10.0]))
    centre = frac * np.array([1.2, 0.3, 0.0])
    lm = project(np.einsum("tij,tkj->tki", turn, s["lm_cam"] - centre[:, None]), s["f"])
    jc = np.einsum("tij,tkj->tki", turn, s["joints_cam"])
    qc = R.quat_multiply(R.matrix_to_quat(turn), s["root_rot_cam"])
    static = solve(s)
    opts = WorldOptions(focal_mm=28.0, camera_motion="static")
    moved = solve_world(lm, W, H, jc, qc, s["off"], opts, fps=s["fps"], cam_turn=turn, cam_centre=centre)
    np.testing.assert_allclose(moved.root_translation, static.root_translation, atol=3e-3)
    assert np.degrees(R.quat_angle(moved.root_rot, static.root_rot)).max() < 0.1
    turn_only = solve_world(lm, W, H, jc, qc, s["off"], opts, fps=s["fps"], cam_turn=turn)
    assert np.abs(turn_only.root_translation - static.root_translation).max() > 0.5
