"""inference/pipeline/uplifter.py: metadata checks, provider choice, and windowed inference of any length.

A hand-built per-frame ONNX model (numpy weights, no torch) makes windowed blending checkable
exactly: its output for a long sequence in one call must equal the windowed, blended result.
A tiny exported transformer checks the T == window, T < window and single-coverage cases."""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from uplift_mocap.inference.core import skeleton as sk  # noqa: E402
from uplift_mocap.inference.core.normalize import NORMALISATION_ID  # noqa: E402
from uplift_mocap.inference.pipeline import uplifter as up  # noqa: E402


def _meta(window: int, **override) -> dict[str, str]:
    meta = {"uplift.window": str(window), "uplift.fps": "30", "uplift.joint_order_hash": sk.joint_order_hash(),
            "uplift.landmarks": "mediapipe33", "uplift.model_version": "0.0.1", "uplift.rotation_repr": "quat",
            "uplift.normalisation": NORMALISATION_ID}
    meta.update(override)
    return {k: v for k, v in meta.items() if v is not None}


def per_frame_model(path, window: int = 16, seed: int = 0, **meta_override):
    """ONNX model applying the same random linear map to every frame: joints, normalised w >= 0
    quaternions, |linear| bone lengths; dynamic batch and time."""
    rng = np.random.default_rng(seed)
    f = np.float32
    inits = [numpy_helper.from_array(a, n) for a, n in (
        (rng.normal(0, 0.3, (99, 66)).astype(f), "wj"), (rng.normal(0, 0.5, (99, 88)).astype(f), "wq"),
        (np.tile([0.6, 0, 0, 0], 22).astype(f), "bq"), (rng.normal(0, 0.3, (99, 22)).astype(f), "wb"),
        (np.array([0], np.int64), "zero"), (np.array([2], np.int64), "two"), (np.array([99], np.int64), "c99"),
        (np.array([22, 3], np.int64), "c223"), (np.array([22, 4], np.int64), "c224"),
        (np.array([22], np.int64), "c22"), (np.array([1], np.int64), "one"), (np.array([3], np.int64), "three"))]
    n = helper.make_node
    nodes = [
        n("Shape", ["keypoints"], ["shape"]), n("Slice", ["shape", "zero", "two"], ["bt"]),
        n("Concat", ["bt", "c99"], ["s99"], axis=0), n("Reshape", ["keypoints", "s99"], ["flat"]),
        n("MatMul", ["flat", "wj"], ["j"]), n("Concat", ["bt", "c223"], ["s223"], axis=0),
        n("Reshape", ["j", "s223"], ["joints"]),
        n("MatMul", ["flat", "wq"], ["q0"]), n("Add", ["q0", "bq"], ["q1"]),
        n("Concat", ["bt", "c224"], ["s224"], axis=0), n("Reshape", ["q1", "s224"], ["q2"]),
        n("ReduceL2", ["q2"], ["qn"], axes=[-1], keepdims=1), n("Div", ["q2", "qn"], ["q3"]),
        n("Slice", ["q3", "zero", "one", "three"], ["w"]), n("Constant", [], ["fzero"], value_float=0.0),
        n("Less", ["w", "fzero"], ["neg"]), n("Neg", ["q3"], ["q3n"]), n("Where", ["neg", "q3n", "q3"], ["rotations"]),
        n("MatMul", ["flat", "wb"], ["b0"]), n("Concat", ["bt", "c22"], ["s22"], axis=0),
        n("Reshape", ["b0", "s22"], ["b1"]), n("Abs", ["b1"], ["bone_lengths"]),
    ]
    io = lambda name, dims: helper.make_tensor_value_info(name, TensorProto.FLOAT, dims)  # noqa: E731
    graph = helper.make_graph(nodes, "per_frame", [io("keypoints", ["batch", "time", 33, 3])],
                              [io("joints", ["batch", "time", 22, 3]), io("rotations", ["batch", "time", 22, 4]),
                               io("bone_lengths", ["batch", "time", 22])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    for k, v in _meta(window, **meta_override).items():
        p = model.metadata_props.add()
        p.key, p.value = k, v
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def _keypoints(t: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(0, 1, (t, 33, 3)).astype(np.float32)


@pytest.mark.parametrize("t", [1, 7, 16, 17, 40, 203])
def test_windowed_lift_equals_one_call_for_a_per_frame_model(tmp_path, t):
    path = per_frame_model(tmp_path / "pf.onnx", window=16)
    lifter = up.Uplifter(path, batch_windows=3)
    x = _keypoints(t)
    res = lifter.lift(x)
    joints, quats, bones = lifter.run(x[None])  # the whole sequence in one call
    assert res.joints.shape == (t, 22, 3) and res.rotations.shape == (t, 22, 4) and res.bone_lengths.shape == (t, 22)
    assert res.joints.dtype == np.float32
    np.testing.assert_allclose(res.joints, joints[0], atol=1e-5)
    np.testing.assert_allclose(res.bone_lengths, bones[0], atol=1e-5)
    np.testing.assert_allclose(res.rotations, quats[0], atol=1e-5)


def test_mirror_average_of_the_shipped_model_is_mirror_symmetric(tmp_path):
    """Lifting the mirror image with ``mirror_average`` gives exactly the mirrored result (the plain
    network does not), on the shipped model and noisy synthetic landmarks of the bundled CMU walk."""
    from uplift_mocap.inference.core.rotations import quat_angle, quat_reflect_x
    from uplift_mocap.dev.training.motion_library import load_library
    from uplift_mocap.dev.training.synth import Synthesizer

    sample = up.DEFAULT_MODEL_PATH.parents[1] / "inference" / "samples" / "cmu_02_01_walk.bvh.gz"
    x = Synthesizer(load_library([sample], cache_dir=tmp_path)).sequence(0, seed=3, noisy=True)["kp2d"][0]
    flip = np.array([-1.0, 1.0, 1.0], np.float32)
    lifter = up.Uplifter()
    xm = x[:, sk.MP_MIRROR] * flip

    def mirrored(r):
        return r.joints[:, sk.MIRROR] * flip, quat_reflect_x(r.rotations[:, sk.MIRROR]), r.bone_lengths[:, sk.MIRROR]

    a, b = lifter.lift(x, mirror_average=True), lifter.lift(xm, mirror_average=True)
    j, q, lengths = mirrored(a)
    np.testing.assert_allclose(b.joints, j, atol=1e-5)
    np.testing.assert_allclose(b.bone_lengths, lengths, atol=1e-5)
    assert np.degrees(quat_angle(b.rotations, q)).max() < 1e-2
    plain_a, plain_b = lifter.lift(x), lifter.lift(xm)
    assert np.abs(plain_b.joints - mirrored(plain_a)[0]).max() > 1e-3
    np.testing.assert_allclose(a.joints, (plain_a.joints + mirrored(plain_b)[0]) / 2, atol=1e-5)


def test_window_layout_and_weights():
    assert up.window_starts(16, 16, 11) == [0]
    assert up.window_starts(40, 16, 11) == [0, 11, 22, 24]
    w = up.blend_weights(16, 5)
    assert w.shape == (16,) and (w > 0).all() and w[5:11].min() == 1.0 and w[0] < w[1] < w[5]
    assert np.allclose(w, w[::-1])


@pytest.fixture(scope="module")
def tiny_transformer(tmp_path_factory):
    torch = pytest.importorskip("torch")
    from uplift_mocap.dev.training import export_onnx as E
    from uplift_mocap.dev.training import uplifter_net as U

    torch.manual_seed(3)
    model = U.UplifterNet(U.make_config("tiny", window=27)).eval()
    with torch.no_grad():
        for head in (model.head_joints, model.head_rot, model.head_bones):
            head.weight.mul_(40.0)
    return E.export_model(model, tmp_path_factory.mktemp("tiny") / "tiny.onnx", {"fps": 30})


def test_temporal_model_windows(tiny_transformer):
    lifter = up.Uplifter(tiny_transformer, overlap=6, batch_windows=4)
    win = lifter.window
    assert win == 27
    # exactly one window: the direct session output
    x = _keypoints(win, seed=2)
    res = lifter.lift(x)
    direct = lifter.run(x[None])
    np.testing.assert_allclose(res.joints, direct[0][0], atol=1e-6)
    np.testing.assert_allclose(res.rotations, direct[1][0], atol=1e-6)
    # shorter than a window: edge padding around the clip
    short = _keypoints(10, seed=3)
    pad = (win - 10) // 2
    padded = np.pad(short, ((pad, win - 10 - pad), (0, 0), (0, 0)), mode="edge")
    np.testing.assert_allclose(lifter.lift(short).joints, lifter.run(padded[None])[0][0, pad:pad + 10], atol=1e-6)
    # long: frames covered by a single window equal that window's output; all finite, unit quats
    long = _keypoints(130, seed=4)
    res = lifter.lift(long)
    starts = up.window_starts(130, win, win - 6)
    for s in starts[:-2]:
        j, q, b = lifter.run(long[None, s:s + win])
        inner = slice(6, win - 6)
        np.testing.assert_allclose(res.joints[s + 6:s + win - 6], j[0, inner], atol=1e-5)
        np.testing.assert_allclose(res.rotations[s + 6:s + win - 6], q[0, inner], atol=1e-5)
        np.testing.assert_allclose(res.bone_lengths[s + 6:s + win - 6], b[0, inner], atol=1e-5)
    assert np.isfinite(res.joints).all() and (res.rotations[..., 0] >= 0).all()
    assert np.allclose(np.linalg.norm(res.rotations, axis=-1), 1.0, atol=1e-5)
    with pytest.raises(ValueError, match="keypoints"):
        lifter.lift(np.zeros((5, 17, 3), np.float32))


@pytest.mark.parametrize("key, value", [
    ("uplift.joint_order_hash", "0123456789ab"),
    ("uplift.landmarks", "coco17"),
    ("uplift.fps", "25"),
    ("uplift.normalisation", "some-other-norm"),
    ("uplift.window", None),
])
def test_metadata_mismatch_raises(tmp_path, key, value):
    if key == "uplift.normalisation" and "uplift.normalisation" not in up.expected_metadata():
        pytest.skip("inference/core/normalize.py is absent: the normalisation id is not checked")
    path = per_frame_model(tmp_path / "bad.onnx", **{key: value})
    with pytest.raises(up.ModelMismatchError) as err:
        up.Uplifter(path)
    assert isinstance(err.value, ValueError)
    assert key in str(err.value)
    if value is not None:
        assert value in str(err.value) and str(up.expected_metadata()[key]) in str(err.value)


def test_provider_selection_falls_back_to_cpu(tmp_path):
    assert up.select_providers(["AzureExecutionProvider", "CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    assert up.select_providers([]) == ["CPUExecutionProvider"]
    avail = ["CPUExecutionProvider", "CoreMLExecutionProvider", "CUDAExecutionProvider", "DmlExecutionProvider"]
    assert up.select_providers(avail) == ["CUDAExecutionProvider", "DmlExecutionProvider",
                                          "CoreMLExecutionProvider", "CPUExecutionProvider"]
    assert up.select_providers(avail, preferred=["CoreMLExecutionProvider"]) == ["CoreMLExecutionProvider",
                                                                                  "CPUExecutionProvider"]
    lifter = up.Uplifter(per_frame_model(tmp_path / "pf.onnx"))
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        assert lifter.session.get_providers() == ["CPUExecutionProvider"]
    lifter = up.Uplifter(tmp_path / "pf.onnx", providers=["CPUExecutionProvider"])
    assert lifter.providers == ["CPUExecutionProvider"]


def test_missing_model_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.onnx"):
        up.Uplifter(tmp_path / "nothere.onnx")
