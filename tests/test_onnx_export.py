"""dev/training/export_onnx.py: ONNX Runtime matches torch (<= 1e-4) for every output at two time
lengths and batch sizes, metadata per the contract, 9D without SVD, checkpoint -> CLI export."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from uplift_mocap.inference.core import skeleton as sk  # noqa: E402
from uplift_mocap.dev.training import export_onnx as E  # noqa: E402
from uplift_mocap.dev.training import uplifter_net as U  # noqa: E402


def _tiny(repr_: str, head_scale: float = 40.0) -> U.UplifterNet:
    torch.manual_seed(1)
    model = U.UplifterNet(U.make_config("tiny", rotation_repr=repr_, window=27))
    with torch.no_grad():  # move the outputs well away from the rest-pose initialisation
        for head in (model.head_joints, model.head_rot, model.head_bones):
            head.weight.mul_(head_scale)
    return model.eval()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    model = _tiny("6d")
    path = E.export_model(model, tmp_path_factory.mktemp("onnx") / "tiny.onnx",
                          {"fps": 30, "model_version": "9.9.9", "normalisation": "norm-x"})
    return model, path


def test_onnx_matches_torch_with_dynamic_batch_and_time(exported):
    model, path = exported
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == ["keypoints"]
    assert [o.name for o in sess.get_outputs()] == ["joints", "rotations", "bone_lengths"]
    rng = np.random.default_rng(0)
    for b, t in ((2, 27), (3, 11)):
        x = rng.normal(0, 0.7, (b, t, 33, 3)).astype(np.float32)
        with torch.no_grad():
            ref = model(torch.from_numpy(x))
        got = dict(zip(["joints", "rotations", "bone_lengths"], sess.run(None, {"keypoints": x})))
        assert got["joints"].shape == (b, t, 22, 3) and got["rotations"].shape == (b, t, 22, 4)
        assert got["bone_lengths"].shape == (b, t, 22)
        for name, key in (("joints", "joints"), ("rotations", "quat"), ("bone_lengths", "bone_lengths")):
            diff = np.abs(got[name] - ref[key].numpy()).max()
            assert diff <= 1e-4, (name, b, t, diff)
        q = got["rotations"]
        assert np.allclose(np.linalg.norm(q, axis=-1), 1.0, atol=1e-5) and (q[..., 0] >= 0).all()
        assert np.degrees(2 * np.arccos(np.clip(q[..., 0], -1, 1))).mean() > 10  # not just identities
    diffs = E.verify(model, path)
    assert max(diffs.values()) <= 1e-4, diffs


def test_metadata_and_size(exported):
    from uplift_mocap.inference.core.normalize import NORMALISATION_ID  # noqa: F401  (module exists)

    _, path = exported
    meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert meta["uplift.window"] == "27" and meta["uplift.fps"] == "30"
    assert meta["uplift.joint_order_hash"] == sk.joint_order_hash()
    assert meta["uplift.landmarks"] == "mediapipe33"
    assert meta["uplift.normalisation"] == "norm-x" and meta["uplift.model_version"] == "9.9.9"
    assert meta["uplift.rotation_repr"] == "6d"
    assert path.stat().st_size < 1_000_000
    dims = onnx.load(str(path)).graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["batch", "time", 33, 3]


def test_9d_exports_without_svd(tmp_path):
    model = _tiny("9d", head_scale=5.0)
    path = E.export_model(model, tmp_path / "nine.onnx")
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert not any("svd" in op.lower() for op in ops)
    diffs = E.verify(model, path)  # ONNX (Horn iteration) vs torch (SVD)
    assert diffs["rotations_up_to_sign"] <= 1e-4 and diffs["joints"] <= 1e-4, diffs


def test_export_from_checkpoint_cli(tmp_path, capsys):
    model = _tiny("6d")
    ckpt = tmp_path / "best.pt"
    torch.save({"config": model.config.to_dict(), "model": model.state_dict(), "fps": 30.0,
                "metrics": {"val_noisy": {"mpjpe_mm": 1.0}}}, ckpt)
    out = tmp_path / "m.onnx"
    assert E.main([str(ckpt), str(out)]) == 0
    text = capsys.readouterr().out
    assert "max abs diff" in text and out.is_file()
    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    from uplift_mocap.inference.core.normalize import NORMALISATION_ID
    assert meta["uplift.normalisation"] == NORMALISATION_ID
    assert "mpjpe_mm" in meta["uplift.metrics"] and meta["uplift.model_version"] == "0.1.0"
    assert E.main([str(ckpt), str(out), "--model-version", "1.2.3"]) == 0
    assert {p.key: p.value for p in onnx.load(str(out)).metadata_props}["uplift.model_version"] == "1.2.3"


def test_warm_start_recovers_the_exported_weights(tmp_path):
    from uplift_mocap.dev.training import warm_start as W

    model = _tiny("6d")
    with torch.no_grad():  # like a trained model: no two parameters equal (the exporter merges equal ones)
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))
    path = E.export_model(model, tmp_path / "trained.onnx", {"fps": 30, "model_version": "9.9.9",
                                                              "normalisation": "norm-x"})
    back = W.model_from_onnx(path)   # raises unless the outputs are reproduced within 1e-4
    assert back.config == model.config
    for (name, a), (_, b) in zip(model.named_parameters(), back.named_parameters()):
        assert torch.allclose(a, b, atol=1e-6), name
    fresh = U.build_model(model.config)
    with torch.no_grad():
        for p in fresh.parameters():
            p.add_(0.5)
    W.load_onnx_weights(fresh, path)
    assert all(torch.allclose(a, b) for a, b in zip(model.parameters(), fresh.parameters()))


def test_warm_start_rejects_a_model_of_another_shape(exported):
    from uplift_mocap.dev.training import warm_start as W

    _, path = exported
    other = U.build_model(U.make_config("small", window=9))
    with pytest.raises((ValueError, RuntimeError)):
        W.load_onnx_weights(other, path)
