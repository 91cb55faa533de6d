"""addon.keying: a canonical clip keyed onto the canonical armature plays back as its forward
kinematics; frame placement across scene frame rates, strip offsets and variable frame rate;
new Actions never replace existing ones; unkeyed samples; clean failure; the generic writer.

All Blender work runs in one bpy subprocess (module fixture) on the bundled CMU walk.
"""
from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

from uplift_mocap.inference.core import rotations as R
from uplift_mocap.inference.core import skeleton as S
from uplift_mocap.inference.mocap.convert import load_canonical

pytestmark = [
    pytest.mark.bpy,
    pytest.mark.skipif(importlib.util.find_spec("bpy") is None, reason="bpy (Blender as a module) not installed"),
]

STRIP_START = 101
CLIP_START_S = 0.5  # the clip begins 0.5 s into its video
FPS_CASES = {"24": (24, 1.0), "60": (60, 1.0), "29.97": (30, 1.001)}
GAP = slice(20, 40)  # unkeyed samples

SCRIPT = r'''
import json
from types import SimpleNamespace
import numpy as np
import bpy
from uplift_mocap.inference.core import skeleton as S
from uplift_mocap.inference.mocap.convert import load_canonical
from uplift_mocap.addon import armature, compat, keying

a = json.loads(ARGS)
m = load_canonical(a["walk"])
T = m.num_frames
bpy.ops.wm.read_factory_settings(use_empty=True)
ctx, scene = bpy.context, bpy.context.scene
out = {"T": T, "layered": compat.LAYERED_ACTIONS}


def clip(times, keyed=None):
    return SimpleNamespace(local_rot=m.local_rot, root_translation=m.root_translation, times_s=np.asarray(times),
                           keyed=keyed, joint_names=S.JOINT_NAMES)


def keys(obj):
    """{data_path[index]: (x, y, interpolation)} of the F-curves obj plays."""
    res = {}
    for fc in compat.object_fcurves(obj):
        n = len(fc.keyframe_points)
        co = np.zeros(2 * n, np.float32)
        fc.keyframe_points.foreach_get("co", co)
        res[f"{fc.data_path}[{fc.array_index}]"] = (co[0::2].tolist(), co[1::2].tolist(),
                                                   sorted({k.interpolation for k in fc.keyframe_points}))
    return res


def pose(obj, frame):
    """(J, 3) heads and (J, 3, 3) bone rotations relative to rest, world, at a (fractional) frame."""
    scene.frame_set(int(np.floor(frame)), subframe=float(frame - np.floor(frame)))
    mw = obj.matrix_world
    heads = [list(mw @ pb.head) for pb in obj.pose.bones]
    rots = [(np.array((mw @ pb.matrix).to_3x3()) @ np.array((mw @ pb.bone.matrix_local).to_3x3()).T).tolist()
            for pb in obj.pose.bones]
    return heads, rots


def new_body(name):
    return armature.create_canonical_armature(ctx, name, m.offsets)

# 1. the walk at the scene's rate (30 fps), every frame evaluated
scene.render.fps, scene.render.fps_base, scene.frame_start = 30, 1.0, 1
obj = new_body("Walker")
old_action, old_slot = compat.new_object_action("Walk", "Other")   # an existing Action of that name
fc = compat.new_fcurve(old_action, old_slot, "location", 2, "")
fc.keyframe_points.add(3)
fc.keyframe_points.foreach_set("co", [1.0, 5.0, 2.0, 6.0, 7.0, 8.0])
fc.update()
action = keying.key_motion_clip(obj, clip(np.arange(T) / 30.0), "Walk")
act, slot = compat.object_action(obj)
out["walk"] = dict(action=action.name, playing=act.name, slot_ok=(slot is not None) == compat.LAYERED_ACTIONS,
                   keys=keys(obj), modes=sorted({pb.rotation_mode for pb in obj.pose.bones}),
                   poses=[pose(obj, 1 + f) for f in range(T)])
old = compat.action_fcurves(old_action)
out["old"] = dict(name=old_action.name, paths=[(f.data_path, f.array_index) for f in old],
                  co=[list(k.co) for k in old[0].keyframe_points])

# 2. keyed again: another new Action, Walk.001 stays
second = keying.key_motion_clip(obj, clip(np.arange(T) / 30.0), "Walk")
out["second"] = dict(name=second.name, playing=compat.object_action(obj)[0].name,
                     actions=sorted(x.name for x in bpy.data.actions))

# 3. scene rates and a movie strip of the source video
times = a["clip_start"] + np.arange(T) / 30.0
out["fps"] = {}
for key, (fps, base) in a["fps_cases"].items():
    scene.render.fps, scene.render.fps_base = fps, base
    strip = compat.new_movie_strip(scene, "video" + key, a["video"], channel=1, frame_start=a["strip_start"])
    body = new_body("Body" + key)
    keying.key_motion_clip(body, clip(times), "Clip" + key, frame_start=strip.frame_start, time_origin_s=0.0)
    x = keys(body)['pose.bones["pelvis"].rotation_quaternion[0]'][0]
    samples = list(range(0, T, 5))
    out["fps"][key] = dict(strip_start=strip.frame_start, movie=compat.is_movie_strip(strip),
                           in_vse=strip.name in [s.name for s in compat.vse_strips(scene)], x=x, samples=samples,
                           poses=[pose(body, x[k]) for k in samples])

# 4. variable frame rate: timestamps decide
scene.render.fps, scene.render.fps_base = 30, 1.0
rng = np.random.default_rng(0)
vfr = np.cumsum(rng.uniform(0.6, 1.4, T) / 30.0)
body = new_body("BodyVFR")
keying.key_motion_clip(body, clip(vfr), "VFR", frame_start=10)
x = keys(body)['pose.bones["pelvis"].rotation_quaternion[0]'][0]
out["vfr"] = dict(times=vfr.tolist(), x=x, poses=[pose(body, x[k]) for k in (3, 40, T - 1)])

# 5. unkeyed samples get no keys
keyed = np.ones(T, bool)
keyed[a["gap"][0]:a["gap"][1]] = False
body = new_body("BodyGap")
keying.key_motion_clip(body, clip(np.arange(T) / 30.0, keyed), "Gap", frame_start=1)
out["gap"] = {p: k[0] for p, k in keys(body).items()}

# 6. failure midway: nothing new stays, the object keeps what it played
obj.pose.bones["hand_l"].rotation_mode = "XYZ"
before = sorted(x.name for x in bpy.data.actions)
playing = compat.object_action(obj)[0].name
calls = {"n": 0}
real_new_fcurve = compat.new_fcurve
def failing(*args, **kwargs):
    calls["n"] += 1
    if calls["n"] > 30:
        raise RuntimeError("injected failure")
    return real_new_fcurve(*args, **kwargs)
compat.new_fcurve = failing
try:
    keying.key_motion_clip(obj, clip(np.arange(T) / 30.0), "Broken")
    error = None
except RuntimeError as exc:
    error = str(exc)
compat.new_fcurve = real_new_fcurve
try:
    keying.key_motion_clip(obj, clip(np.arange(T - 1) / 30.0), "Broken")  # times/rotations disagree
    bad_shape = None
except ValueError as exc:
    bad_shape = str(exc)
out["fail"] = dict(error=error, calls=calls["n"], bad_shape=bad_shape, before=before,
                   after=sorted(x.name for x in bpy.data.actions), playing=compat.object_action(obj)[0].name,
                   playing_before=playing, hand_mode=obj.pose.bones["hand_l"].rotation_mode)

# 7. the generic writer on another rig: a 3-bone chain, sign-flipped quaternions, root location
data = bpy.data.armatures.new("Chain")
chain = bpy.data.objects.new("Chain", data)
scene.collection.objects.link(chain)
ctx.view_layer.update()
ctx.view_layer.objects.active = chain
bpy.ops.object.mode_set(mode="EDIT")
parent = None
for i, nm in enumerate(("root", "mid", "tip")):
    eb = data.edit_bones.new(nm)
    eb.head, eb.tail, eb.parent = (0.0, 0.0, float(i)), (0.0, 0.3, float(i) + 1.0), parent
    parent = eb
bpy.ops.object.mode_set(mode="OBJECT")
n = 12
q = rng.normal(size=(n, 3, 4))
q /= np.linalg.norm(q, axis=-1, keepdims=True)
q[1::2] *= -1.0
loc = rng.normal(size=(n, 3))
frames = 5.0 + 2.0 * np.arange(n)
keying.write_bone_keys(chain, "Generic", ["root", "mid", "tip"], frames, q, loc)
try:
    keying.write_bone_keys(chain, "Generic", ["root", "mid", "tip"], frames, q, loc, root_bone="nope")
    no_root = None
except ValueError as exc:
    no_root = str(exc)
stored = keys(chain)
evald = []
for f in frames:
    scene.frame_set(int(f))
    evald.append([[list(chain.pose.bones[b].rotation_quaternion) for b in ("root", "mid", "tip")],
                  list(chain.pose.bones["root"].location)])
out["generic"] = dict(q=q.tolist(), loc=loc.tolist(), frames=frames.tolist(), stored=stored, evald=evald,
                      modes=[chain.pose.bones[b].rotation_mode for b in ("root", "mid", "tip")], no_root=no_root,
                      generic_actions=sorted(x.name for x in bpy.data.actions if x.name.startswith("Generic")))

# 8. the benchmark cleans up after itself
counts = lambda: [len(bpy.data.actions), len(bpy.data.objects), len(bpy.data.armatures)]
before = counts()
out["bench"] = dict(seconds=keying.bench_keying(4, 50, repeats=2), before=before, after=counts())
print("RESULT " + json.dumps(out))
'''


@pytest.fixture(scope="module")
def walk(repo_root):
    return load_canonical(repo_root / "inference" / "samples" / "cmu_02_01_walk.bvh.gz")


@pytest.fixture(scope="module")
def fk(walk):
    """(T, J, 3) positions and (T, J, 3, 3) global rotations of the walk."""
    return R.forward_kinematics(walk.local_rot.astype(np.float64), walk.root_translation.astype(np.float64),
                                walk.offsets.astype(np.float64), S.PARENTS)


@pytest.fixture(scope="module")
def res(run_py, repo_root):
    args = dict(walk=str(repo_root / "inference" / "samples" / "cmu_02_01_walk.bvh.gz"),
                video=str(repo_root / "tests" / "fixtures" / "person_walk.mp4"), strip_start=STRIP_START,
                clip_start=CLIP_START_S, fps_cases=FPS_CASES, gap=[GAP.start, GAP.stop])
    proc = run_py(f"ARGS = {json.dumps(args)!r}\n" + SCRIPT, timeout=300)
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert line, proc.stdout + proc.stderr
    return json.loads(line[-1][len("RESULT "):])


def assert_pose_matches(pose, pos, glob, what):
    heads, rots = np.array(pose[0]), np.array(pose[1])
    err_mm = 1000 * np.linalg.norm(heads - pos, axis=-1).max()
    err_deg = np.degrees(R.quat_angle(R.matrix_to_quat(rots), R.matrix_to_quat(glob))).max()
    assert err_mm <= 1.0 and err_deg <= 0.1, f"{what}: {err_mm:.3f} mm, {err_deg:.4f} deg"


def test_keyed_walk_plays_back_as_its_forward_kinematics(res, fk):
    walk = res["walk"]
    pos, glob = fk
    assert len(walk["poses"]) == res["T"] == len(pos)
    for f, pose in enumerate(walk["poses"]):
        assert_pose_matches(pose, pos[f], glob[f], f"frame {f + 1}")
    assert walk["slot_ok"] and walk["playing"] == walk["action"]
    assert walk["modes"] == ["QUATERNION"]
    expected = {f'pose.bones["{n}"].rotation_quaternion[{i}]' for n in S.JOINT_NAMES for i in range(4)}
    expected |= {f'pose.bones["{S.JOINT_NAMES[S.ROOT]}"].location[{i}]' for i in range(3)}
    assert set(walk["keys"]) == expected
    for path, (x, y, ipo) in walk["keys"].items():
        assert np.allclose(x, 1 + np.arange(res["T"])), path
        assert ipo == ["LINEAR"], path
    # hemisphere continuity: consecutive quaternion keys never jump to the opposite sign
    for name in S.JOINT_NAMES:
        q = np.array([walk["keys"][f'pose.bones["{name}"].rotation_quaternion[{i}]'][1] for i in range(4)]).T
        assert (np.sum(q[1:] * q[:-1], axis=-1) > 0).all(), name


def test_existing_action_untouched_and_new_ones_numbered(res):
    assert res["walk"]["action"] == "Walk.001"
    old = res["old"]
    assert old["name"] == "Walk" and old["paths"] == [["location", 2]]
    assert np.allclose(old["co"], [[1, 5], [2, 6], [7, 8]])
    second = res["second"]
    assert second["name"] == "Walk.002" and second["playing"] == "Walk.002"
    assert {"Walk", "Walk.001", "Walk.002"} <= set(second["actions"])


@pytest.mark.parametrize("key", list(FPS_CASES))
def test_frame_placement_follows_scene_rate_and_strip_start(res, fk, key):
    case = res["fps"][key]
    fps = FPS_CASES[key][0] / FPS_CASES[key][1]
    assert case["movie"] and case["in_vse"] and case["strip_start"] == STRIP_START
    times = CLIP_START_S + np.arange(res["T"]) / 30.0
    assert np.allclose(case["x"], STRIP_START + times * fps, atol=1e-3)
    pos, glob = fk
    for k, pose in zip(case["samples"], case["poses"]):
        assert_pose_matches(pose, pos[k], glob[k], f"{key} fps, sample {k}")


def test_variable_frame_rate_keeps_timestamps(res, fk):
    vfr = res["vfr"]
    t = np.array(vfr["times"])
    assert np.allclose(vfr["x"], 10 + (t - t[0]) * 30.0, atol=1e-3)
    assert np.ptp(np.diff(vfr["x"])) > 0.3  # really irregular
    pos, glob = fk
    for k, pose in zip((3, 40, res["T"] - 1), vfr["poses"]):
        assert_pose_matches(pose, pos[k], glob[k], f"VFR sample {k}")


def test_unkeyed_samples_have_no_keys(res):
    keyed = np.ones(res["T"], bool)
    keyed[GAP] = False
    want = (1 + np.arange(res["T"]))[keyed]
    assert len(res["gap"]) == 4 * S.NUM_JOINTS + 3
    for path, x in res["gap"].items():
        assert np.allclose(x, want), path


def test_failure_leaves_no_new_action_and_changes_nothing(res):
    fail = res["fail"]
    assert fail["error"] == "injected failure" and fail["calls"] == 31
    assert fail["bad_shape"] and "quats" in fail["bad_shape"]
    assert fail["after"] == fail["before"]
    assert fail["playing"] == fail["playing_before"] == "Walk.002"
    assert fail["hand_mode"] == "XYZ"


def test_generic_writer_keys_any_rig(res):
    gen = res["generic"]
    q, loc, frames = np.array(gen["q"]), np.array(gen["loc"]), np.array(gen["frames"])
    assert gen["modes"] == ["QUATERNION"] * 3
    stored = gen["stored"]
    assert len(stored) == 3 * 4 + 3
    for b, name in enumerate(("root", "mid", "tip")):
        sq = np.array([stored[f'pose.bones["{name}"].rotation_quaternion[{i}]'][1] for i in range(4)]).T
        assert np.allclose(stored[f'pose.bones["{name}"].rotation_quaternion[0]'][0], frames)
        assert (np.sum(sq[1:] * sq[:-1], axis=-1) > 0).all(), name        # made continuous
        assert np.degrees(R.quat_angle(sq, q[:, b])).max() < 1e-3, name  # same rotations
        ev = np.array([e[0][b] for e in gen["evald"]])
        assert np.degrees(R.quat_angle(ev, q[:, b])).max() < 1e-3, name
    assert np.abs(np.array([e[1] for e in gen["evald"]]) - loc).max() < 1e-5
    assert 'pose.bones["mid"].location[0]' not in stored
    assert gen["no_root"] and "nope" in gen["no_root"] and gen["generic_actions"] == ["Generic"]


def test_bench_keying_reports_seconds_and_cleans_up(res):
    bench = res["bench"]
    assert bench["seconds"] > 0 and bench["after"] == bench["before"]
