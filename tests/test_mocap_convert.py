"""Mocap -> canonical conversion: exact round trip of our own BVH, anatomy on a real clip,
one file per skeleton family from the staged data, and the data-check report."""
from __future__ import annotations

import io

import numpy as np
import pytest

from uplift_mocap.inference.core import skeleton as sk
from uplift_mocap.inference.mocap.bvh import read_bvh
from uplift_mocap.inference.mocap.bvh_writer import write_bvh
from uplift_mocap.cli.datacheck import run as data_check
from uplift_mocap.cli.demo import SAMPLE
from uplift_mocap.inference.mocap.convert import bone_direction_errors, convert_bvh, load_canonical
from uplift_mocap.inference.mocap.families import FAMILIES, detect_family
from uplift_mocap.inference.core.rotations import axis_angle_to_quat, quat_angle, quat_apply, quat_to_axis_angle


def smooth_motion(t_len: int, seed: int = 0, amp: float = 0.6):
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 2 * np.pi, t_len)[:, None, None]
    phase = rng.uniform(0, 2 * np.pi, (1, sk.NUM_JOINTS, 3))
    aa = amp * rng.uniform(0.2, 1.0, (1, sk.NUM_JOINTS, 3)) * np.sin(t + phase)
    root = np.stack([np.linspace(0, 2, t_len), 0.3 * np.sin(t[:, 0, 0]), 0.95 + 0.02 * np.cos(t[:, 0, 0])], -1)
    return axis_angle_to_quat(aa), root


def test_canonical_bvh_round_trip_is_exact(tmp_path):
    quat, root = smooth_motion(90)
    path = tmp_path / "canon.bvh"
    write_bvh(path, quat, root, 30.0)
    motion = load_canonical(path)
    assert motion.family == "uplift-canonical-22"
    assert motion.num_frames == 90 and abs(motion.fps - 30.0) < 1e-3
    assert np.degrees(quat_angle(motion.local_rot.astype(np.float64), quat)).max() < 0.01
    np.testing.assert_allclose(motion.root_translation, root, atol=1e-5)
    np.testing.assert_allclose(motion.offsets, sk.REST_OFFSETS, atol=1e-5)


def _knee_hinge_x(motion) -> float:
    """Angle-weighted mean |x| of the knee rotation axes: 1.0 = a pure hinge about +X."""
    knees = [sk.JOINT_INDEX["shin_l"], sk.JOINT_INDEX["shin_r"]]
    aa = quat_to_axis_angle(motion.local_rot[:, knees].astype(np.float64)).reshape(-1, 3)
    ang = np.linalg.norm(aa, axis=-1)
    return float(np.sum(np.abs(aa[:, 0])) / max(ang.sum(), 1e-9))


def _check_anatomy(motion, walking: bool):
    joints = motion.joints()
    pelvis, head = joints[:, sk.JOINT_INDEX["pelvis"]], joints[:, sk.JOINT_INDEX["head"]]
    assert np.median(head[:, 2] - pelvis[:, 2]) > 0.3, "character is not upright"
    assert motion.offsets[sk.JOINT_INDEX["thigh_l"], 0] > 0.03, "left hip is not on the character's left (+X)"
    assert motion.offsets[sk.JOINT_INDEX["clavicle_l"], 0] > 0.0
    assert _knee_hinge_x(motion) > 0.8, "knees do not bend about the canonical +X axis"
    if walking:  # the pelvis faces where the root goes
        forward = quat_apply(motion.local_rot[:, 0].astype(np.float64), np.array([0.0, -1.0, 0.0]))[:, :2]
        vel = np.gradient(motion.root_translation[:, :2].astype(np.float64), axis=0)
        cos = np.sum(forward * vel, -1) / np.maximum(np.linalg.norm(forward, axis=-1) * np.linalg.norm(vel, axis=-1), 1e-9)
        assert np.median(cos) > 0.9


def test_bundled_walk_converts_with_sound_anatomy():
    bvh = read_bvh(SAMPLE)
    assert bvh.dropped_tpose
    motion = convert_bvh(bvh)
    assert motion.family == "daz-43"
    err = bone_direction_errors(motion, motion.info["source_joints"])
    assert err.mean() < 0.01 and err.max() < 0.1
    _check_anatomy(motion, walking=True)
    feet = motion.joints()[:, [sk.JOINT_INDEX["foot_l"], sk.JOINT_INDEX["foot_r"]], 2]
    assert 0.0 < feet.min() < 0.2


def test_unknown_skeleton_is_named():
    with pytest.raises(ValueError, match="unknown skeleton"):
        detect_family(["root", "joint1", "joint2"])


def test_every_family_maps_every_canonical_joint():
    for fam in FAMILIES:
        assert set(fam.joints) == set(sk.JOINT_NAMES), fam.name


# One training-split file per skeleton family (never the test split).
FAMILY_FILES = {
    "daz-43": "cmu-bvh/daz/07/07_01.bvh.gz",
    "accad-mb-22": "accad/Female1_bvh/Female1_A03_Swing.bvh.gz",
    "accad-male2-ma-24": None,   # first MartialArts file in split-train
    "cmu-amc2bvh-31": "cmu-bvh/amc2bvh-raw/16/16_01.bvh.gz",
    "cmu-mb2-31": "cmu-bvh-more/mb2/05/05_06.bvh.gz",
    "cmu-max-31": "cmu-bvh-more/max/131/131_02.bvh.gz",  # only in the test split: a format check, no model sees it
}


@pytest.mark.data
@pytest.mark.parametrize("family", sorted(FAMILY_FILES))
def test_real_file_per_family(shared_data, family):
    train = (shared_data / "split-train.txt").read_text().split()
    rel = FAMILY_FILES[family] or next(f for f in train if "MartialArts" in f)
    motion = load_canonical(shared_data / rel)
    assert motion.family == family
    err = bone_direction_errors(motion, motion.info["source_joints"])
    # The CMU 31-joint skeletons rotate their hip and clavicle roots (zero-length bones at the
    # pelvis and thorax), which one fixed set of offsets cannot follow exactly.
    assert err.mean() < (3.0 if family.endswith("-31") else 0.5)
    _check_anatomy(motion, walking=rel.endswith("07_01.bvh.gz"))


def test_data_check_reports_failures(tmp_path):
    (tmp_path / "good").mkdir()
    (tmp_path / "good" / SAMPLE.name).write_bytes(SAMPLE.read_bytes())
    quat, root = smooth_motion(30, seed=3)
    write_bvh(tmp_path / "good" / "ours.bvh", quat, root, 30.0)
    (tmp_path / "broken.bvh").write_text("HIERARCHY\nROOT hip\n{\n OFFSET 0 0\n")
    out = io.StringIO()
    code = data_check(tmp_path, workers=1, out=out)
    text = out.getvalue()
    assert code == 1
    assert "FAILED" in text and "broken.bvh" in text and ":4:" in text  # names the file and line
    assert "daz-43" in text and "uplift-canonical-22" in text
    assert text.strip().splitlines()[-1].startswith("FILES_OK=2 FILES_FAILED=1 MEAN_DIR_ERR_DEG=")


@pytest.mark.slow
@pytest.mark.data
def test_data_check_on_all_staged_mocap(shared_data):
    out = io.StringIO()
    assert data_check(shared_data, out=out) == 0
    last = out.getvalue().strip().splitlines()[-1]
    fields = dict(kv.split("=") for kv in last.split())
    assert fields["FILES_OK"] == "476" and fields["FILES_FAILED"] == "0"
    assert float(fields["MEAN_DIR_ERR_DEG"]) <= 2.0
