"""addon.armature: the canonical armature's rest pose, bone rolls, collections, names and the
canonical-local -> pose-bone change of basis, checked in Blender (one bpy subprocess per module)."""
from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

from uplift_mocap.inference.core import rotations as R
from uplift_mocap.inference.core import skeleton as S

pytestmark = [
    pytest.mark.bpy,
    pytest.mark.skipif(importlib.util.find_spec("bpy") is None, reason="bpy (Blender as a module) not installed"),
]

TALL = 1.12  # offsets scale of the second body

SCRIPT = r'''
import json
import numpy as np
import bpy
from uplift_mocap.inference.core import skeleton as S
from uplift_mocap.addon import armature, keying

bpy.ops.wm.read_factory_settings(use_empty=True)
ctx = bpy.context
args = json.loads(ARGS)
rng = np.random.default_rng(3)
poses = rng.normal(size=(4, S.NUM_JOINTS, 4))
roots = rng.normal(size=(4, 3)) * 0.3 + [0.0, 0.0, 1.0]
out = {}
for key, scale in (("default", None), ("tall", args["tall"])):
    obj = armature.create_canonical_armature(ctx, "Body", None if scale is None else S.REST_OFFSETS * scale)
    bones, mw = obj.data.bones, obj.matrix_world
    rest = np.array([np.array((mw @ b.matrix_local).to_3x3()) for b in bones])
    info = dict(
        name=obj.name, data=obj.data.name, mode=obj.mode, active=ctx.view_layer.objects.active.name,
        names=[b.name for b in bones], parents=[b.parent.name if b.parent else None for b in bones],
        heads=[list(mw @ b.head_local) for b in bones], tails=[list(mw @ b.tail_local) for b in bones],
        rest=rest.tolist(), modes=[pb.rotation_mode for pb in obj.pose.bones],
        collections={c.name: [b.name for b in c.bones] for c in obj.data.collections})
    # canonical local rotations set straight on the pose bones through the change of basis
    root_rest = np.array(bones[0].matrix_local)
    posed = []
    for q, p in zip(poses, roots):
        basis = keying.canonical_to_basis(q[None], rest)[0]
        for pb, b in zip(obj.pose.bones, basis):
            pb.rotation_quaternion = b.tolist()
        obj.pose.bones[0].location = keying.root_to_location(p[None], root_rest)[0].tolist()
        ctx.view_layer.update()
        posed.append(dict(heads=[list(mw @ pb.head) for pb in obj.pose.bones],
                          rots=[np.array((mw @ pb.matrix).to_3x3()).tolist() for pb in obj.pose.bones]))
    info["posed"] = posed
    out[key] = info
out["poses"], out["roots"] = poses.tolist(), roots.tolist()
first = bpy.data.objects["Body"]
out["first_after"] = [len(first.data.bones), [list(first.matrix_world @ b.head_local) for b in first.data.bones]]

# a collection outside the view layer: refused, and nothing is left behind
loose = bpy.data.collections.new("Loose")
n_obj, n_arm = len(bpy.data.objects), len(bpy.data.armatures)
try:
    armature.create_canonical_armature(ctx, "Stray", collection=loose)
    out["loose_error"] = None
except ValueError as exc:
    out["loose_error"] = str(exc)
out["left_behind"] = [len(bpy.data.objects) - n_obj, len(bpy.data.armatures) - n_arm]
print("RESULT " + json.dumps(out))
'''


@pytest.fixture(scope="module")
def made(run_py):
    proc = run_py(f"ARGS = {json.dumps({'tall': TALL})!r}\n" + SCRIPT, timeout=120)
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert line, proc.stdout + proc.stderr
    return json.loads(line[-1][len("RESULT "):])


@pytest.mark.parametrize("key, scale", [("default", 1.0), ("tall", TALL)])
def test_rest_heads_match_skeleton_fk_standing_on_the_floor(made, key, scale):
    info = made[key]
    assert info["names"] == list(S.JOINT_NAMES)
    assert info["parents"] == [None] + [S.JOINT_NAMES[p] for p in S.PARENTS[1:]]
    heads = np.array(info["heads"])
    fk = S.rest_positions(S.REST_OFFSETS * scale)
    assert np.abs((heads - heads[S.ROOT]) - fk).max() <= 1e-4
    feet = [S.JOINT_INDEX["foot_l"], S.JOINT_INDEX["foot_r"]]
    assert np.allclose(heads[feet, 2], S.ANKLE_HEIGHT, atol=1e-4)  # soles on Z = 0
    assert abs(heads[S.ROOT, 0]) < 1e-6 and abs(heads[S.ROOT, 1]) < 1e-6
    tails = np.array(info["tails"])
    for j in range(S.NUM_JOINTS):
        child = S.PRIMARY_CHILD[j]
        if child >= 0:
            assert np.abs(tails[j] - heads[child]).max() <= 1e-4, S.JOINT_NAMES[j]
        else:
            direction = S.LEAF_TAILS[j] / np.linalg.norm(S.LEAF_TAILS[j])
            seg = tails[j] - heads[j]
            assert np.abs(seg / np.linalg.norm(seg) - direction).max() <= 1e-4, S.JOINT_NAMES[j]


@pytest.mark.parametrize("key", ["default", "tall"])
def test_bone_rolls_follow_the_documented_convention(made, key):
    info = made[key]
    rest, heads, tails = np.array(info["rest"]), np.array(info["heads"]), np.array(info["tails"])
    tol = 1e-4  # Blender's float32 bone matrices (bones along -Y come out ~5e-6 off unit length)
    assert np.abs(rest @ np.swapaxes(rest, -1, -2) - np.eye(3)).max() < tol
    for j, name in enumerate(S.JOINT_NAMES):
        d = (tails[j] - heads[j]) / np.linalg.norm(tails[j] - heads[j])
        assert np.abs(rest[j][:, 1] - d).max() < tol, name             # bone Y along the bone
        if abs(d[0]) < 1e-6:                                           # in the YZ plane: X = character's left
            assert np.abs(rest[j][:, 0] - [1, 0, 0]).max() < tol, name
        if abs(abs(d[0]) - 1) < 1e-6:                                  # along +-X (arms): Z = up
            assert np.abs(rest[j][:, 2] - [0, 0, 1]).max() < tol, name


@pytest.mark.parametrize("key, scale", [("default", 1.0), ("tall", TALL)])
def test_canonical_rotations_through_the_change_of_basis_match_fk(made, key, scale):
    info = made[key]
    rest = np.array(info["rest"])
    for q, p, posed in zip(made["poses"], made["roots"], info["posed"]):
        pos, glob = R.forward_kinematics(np.array(q), np.array(p), S.REST_OFFSETS * scale, S.PARENTS)
        assert np.abs(np.array(posed["heads"]) - pos).max() <= 1e-4
        rot = np.array(posed["rots"]) @ np.swapaxes(rest, -1, -2)     # posed bone frame relative to rest
        assert np.degrees(R.quat_angle(R.matrix_to_quat(rot), R.matrix_to_quat(glob))).max() < 0.01


def test_bone_collections_and_quaternion_rotation(made):
    info = made["default"]
    assert info["modes"] == ["QUATERNION"] * S.NUM_JOINTS
    colls = info["collections"]
    assert sorted(colls) == ["Arms", "Legs", "Torso"]
    members = sorted(n for names in colls.values() for n in names)
    assert members == sorted(S.JOINT_NAMES)  # every bone in exactly one collection

    def subtree(root: str) -> set[str]:
        out = {S.JOINT_INDEX[root]}
        for j in range(S.NUM_JOINTS):
            if S.PARENTS[j] in out:
                out.add(j)
        return {S.JOINT_NAMES[j] for j in out}

    assert set(colls["Legs"]) == subtree("thigh_l") | subtree("thigh_r")
    assert set(colls["Arms"]) == subtree("clavicle_l") | subtree("clavicle_r")


def test_unique_names_active_object_and_clean_failure(made):
    assert (made["default"]["name"], made["default"]["data"]) == ("Body", "Body")
    assert (made["tall"]["name"], made["tall"]["data"]) == ("Body.001", "Body.001")
    assert made["tall"]["active"] == "Body.001" and made["tall"]["mode"] == "OBJECT"
    n_bones, heads = made["first_after"]  # the first body is untouched by the second
    assert n_bones == S.NUM_JOINTS and np.array_equal(np.array(heads), np.array(made["default"]["heads"]))
    assert made["loose_error"] and "Loose" in made["loose_error"]
    assert made["left_behind"] == [0, 0]
