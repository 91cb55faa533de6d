"""dev/training/uplifter_net.py, dev/training/losses.py, dev/training/train.py: shapes, valid rotations for every
representation, the 9D orthogonalisation, losses at the target, a tiny model that learns, and the
training CLI end to end (tiny, a few steps, resume)."""
from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from uplift_mocap.inference.core import rotations as R  # noqa: E402
from uplift_mocap.inference.core import skeleton as sk  # noqa: E402
from uplift_mocap.dev.training import losses as L  # noqa: E402
from uplift_mocap.dev.training import motion_library as ml  # noqa: E402
from uplift_mocap.dev.training import torch_rotations as tr  # noqa: E402
from uplift_mocap.dev.training import train as T  # noqa: E402
from uplift_mocap.dev.training import uplifter_net as U  # noqa: E402

REPRS = ["6d", "9d", "quat", "axis_angle"]


def random_batch(b: int, w: int, seed: int) -> dict:
    """Consistent random batch (contract keys): smooth random local rotations, a random root
    orientation, scaled rest offsets, joints = FK, kp2d = orthographic (x, z) landmarks, normalised."""
    rng = np.random.default_rng(seed)
    t = np.arange(w)[None, :, None, None] / 30.0
    amp = rng.uniform(0.0, 0.6, (b, 1, sk.NUM_JOINTS, 3))
    freq = rng.uniform(0.2, 1.5, (b, 1, sk.NUM_JOINTS, 3))
    phase = rng.uniform(0.0, 2 * np.pi, (b, 1, sk.NUM_JOINTS, 3))
    q = R.axis_angle_to_quat(amp * np.sin(2 * np.pi * freq * t + phase))
    base = R.quat_normalize(rng.normal(size=(b, 1, 4)))
    q[:, :, 0] = R.quat_multiply(base, q[:, :, 0])
    offsets = sk.REST_OFFSETS[None] * rng.uniform(0.85, 1.15, (b, sk.NUM_JOINTS, 1))
    pos, glob = R.forward_kinematics(q, np.zeros(3), offsets[:, None], sk.PARENTS)
    lm = pos[..., sk.MP_ANCHOR_JOINT, :] + (glob[..., sk.MP_ANCHOR_JOINT, :, :] @ sk.MP_ANCHOR_OFFSET[..., None])[..., 0]
    uv = lm[..., [0, 2]]
    hips = [sk.MP_INDEX["left_hip"], sk.MP_INDEX["right_hip"]]
    uv = uv - uv[..., hips, :].mean(-2, keepdims=True)
    uv = uv / np.sqrt((uv ** 2).sum(-1).mean((-1, -2)))[:, None, None, None]
    kp2d = np.concatenate([uv, np.ones(uv.shape[:-1] + (1,))], -1)
    f = np.float32
    return {"kp2d": kp2d.astype(f), "joints": pos.astype(f), "local_rot": R.quat_canonical(q).astype(f),
            "offsets": offsets.astype(f), "bone_lengths": sk.bone_lengths(offsets).astype(f)}


def _tiny(repr_: str = "6d", window: int = 27, seed: int = 0, head_scale: float = 1.0) -> U.UplifterNet:
    torch.manual_seed(seed)
    model = U.UplifterNet(U.make_config("tiny", rotation_repr=repr_, window=window))
    with torch.no_grad():
        model.head_rot.weight.mul_(head_scale)
    return model.eval()


def test_parameter_budget_and_sizes():
    n = {s: U.UplifterNet(U.make_config(s)).num_parameters() for s in U.SIZES}
    assert n["default"] <= 5_000_000
    assert n["tiny"] < n["small"] < n["default"]
    with pytest.raises(ValueError, match="rotation_repr"):
        U.make_config("tiny", rotation_repr="euler")


@pytest.mark.parametrize("repr_", REPRS)
def test_outputs_are_valid_rotations(repr_):
    model = _tiny(repr_, head_scale=400.0)  # large head weights: far from the identity init
    x = torch.from_numpy(random_batch(3, 27, 1)["kp2d"])
    with torch.no_grad():
        out = model(x)
    m, q = out["rot_mat"].double(), out["quat"].double()
    assert out["joints"].shape == (3, 27, 22, 3) and m.shape == (3, 27, 22, 3, 3)
    assert q.shape == (3, 27, 22, 4) and out["bone_lengths"].shape == (3, 27, 22)
    eye = torch.eye(3, dtype=torch.float64)
    assert torch.allclose(m.transpose(-1, -2) @ m, eye.expand_as(m), atol=2e-5)
    assert torch.allclose(torch.linalg.det(m), torch.ones(m.shape[:-2], dtype=torch.float64), atol=2e-5)
    assert torch.allclose(q.norm(dim=-1), torch.ones(q.shape[:-1], dtype=torch.float64), atol=1e-5)
    assert (q[..., 0] >= 0).all()
    assert torch.allclose(tr.quat_to_matrix(q), m, atol=1e-4)
    # non-trivial rotations, the pelvis at the origin, positive bone lengths (root: 0)
    assert tr.matrix_angle(m, eye).mean() > 0.3
    assert torch.equal(out["joints"][:, :, 0], torch.zeros(3, 27, 3))
    assert (out["bone_lengths"][..., 1:] > 0).all() and (out["bone_lengths"][..., 0] == 0).all()


def test_starts_at_rest_pose_and_accepts_shorter_windows():
    model = _tiny("6d", window=27)
    with torch.no_grad():
        out = model(torch.zeros(1, 10, 33, 3))  # any T <= window
    assert out["joints"].shape == (1, 10, 22, 3)
    rest = torch.tensor(sk.rest_positions(), dtype=torch.float32)
    assert (out["joints"] - rest).norm(dim=-1).mean() < 0.05
    assert torch.allclose(out["bone_lengths"][0, 0], torch.tensor(sk.bone_lengths(), dtype=torch.float32), rtol=0.05)
    with pytest.raises(ValueError, match="window"):
        model(torch.zeros(1, 28, 33, 3))


def test_9d_orthogonalisation_matches_svd_and_has_stable_gradients():
    g = torch.Generator().manual_seed(0)
    m = tr.quat_to_matrix(torch.randn(200, 4, generator=g, dtype=torch.float64))
    noisy = m + 0.3 * torch.randn(200, 3, 3, generator=g, dtype=torch.float64)
    ref = torch.from_numpy(R.kabsch(np.broadcast_to(np.eye(3), (200, 3, 3)), noisy.transpose(-1, -2).numpy()))
    # kabsch(src=I, dst=M^T) maximises tr(R^T M): the nearest rotation to M
    svd = U.svd_special_orthogonalize(noisy)
    assert torch.allclose(svd, ref, atol=1e-10)
    assert torch.allclose(U.horn_special_orthogonalize(noisy), svd, atol=1e-9)
    # exact rotations have three equal singular values: the gradient must still be finite
    exact = m[:4].clone().requires_grad_(True)
    U.svd_special_orthogonalize(exact).sum().backward()
    assert torch.isfinite(exact.grad).all()
    x = noisy[:3].clone().requires_grad_(True)
    assert torch.autograd.gradcheck(U.svd_special_orthogonalize, (x,))


def test_losses_vanish_at_the_target_and_ablation_drops_rotation_term():
    batch = {k: torch.from_numpy(v) for k, v in random_batch(2, 9, 3).items()}
    rot = tr.quat_to_matrix(batch["local_rot"])
    perfect = {"joints": batch["joints"], "rot_mat": rot,
               "bone_lengths": batch["bone_lengths"][:, None].expand(2, 9, 22)}
    terms = L.compute_losses(perfect, batch)
    for k in ("joints", "rotation", "fk", "velocity", "bones"):
        assert float(terms[k]) < 1e-4, (k, float(terms[k]))
    # wrong rotations: FK and rotation terms grow; the FK-only ablation ignores the rotation term
    wrong = dict(perfect, rot_mat=tr.quat_to_matrix(batch["local_rot"][..., [0, 2, 1, 3]]))
    full = L.compute_losses(wrong, batch, L.LossWeights())
    ablate = L.compute_losses(wrong, batch, L.LossWeights(rotation_supervision=False))
    assert float(full["rotation"]) > 0.1 and float(full["fk"]) > 0.01
    assert float(full["total"] - ablate["total"]) == pytest.approx(0.3 * float(full["rotation"]), rel=1e-5)
    m = L.metrics(wrong, batch)
    assert m["mpjae_deg"] > 5 and m["mpjpe_mm"] < 1e-1 and m["fk_mpjpe_mm"] > 10


def test_tiny_model_loss_drops():
    torch.manual_seed(0)
    model = U.UplifterNet(U.make_config("tiny", window=27))
    opt = T.make_optimizer(model, lr=3e-3)
    batches = [T.to_torch(random_batch(16, 27, seed)) for seed in range(4)]

    def loss() -> float:
        model.eval()
        with torch.no_grad():
            return float(np.mean([float(L.compute_losses(model(b["kp2d"]), b)["total"]) for b in batches]))

    initial = loss()
    steps = [T.train_step(model, opt, batches[i % 4], L.LossWeights()) for i in range(30)]
    assert all(np.isfinite(s["total"]) and np.isfinite(s["grad_norm"]) for s in steps)
    final = loss()
    assert final < 0.7 * initial, (initial, final)


def test_lr_schedule():
    assert T.lr_at(0, 0.0, 1e-3, warmup=10) == pytest.approx(1e-4)
    assert T.lr_at(9, 0.0, 1e-3, warmup=10) == pytest.approx(1e-3)
    assert T.lr_at(50, 0.5, 1e-3, warmup=10) == pytest.approx(1e-3 * (0.02 + 0.98 * 0.5))
    assert T.lr_at(99, 1.0, 1e-3, warmup=10) == pytest.approx(2e-5)


def test_train_cli_tiny_run_and_resume(three_accad_files, tmp_path):
    pytest.importorskip("uplift_mocap.dev.training.synth")
    data = three_accad_files
    out = tmp_path / "run"
    common = ["--data", str(data), "--out", str(out), "--size", "tiny", "--window", "27", "--batch", "4",
              "--val-windows", "8", "--val-every", "3", "--log-every", "2", "--threads", "1",
              "--cache-dir", str(tmp_path / "cache")]
    assert T.main(common + ["--steps", "4"]) == 0
    assert (out / "best.pt").is_file() and (out / "last.pt").is_file()
    assert T.main(common + ["--steps", "6", "--resume"]) == 0
    recs = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    vals = [r for r in recs if r["kind"] == "val"]
    assert [r["step"] for r in vals] == [3, 4, 6]
    assert all(np.isfinite(r["val"]["mpjpe_mm"]) and r["val"]["mpjae_deg"] > 0 for r in vals)
    assert [r["step"] for r in recs if r["kind"] == "train"] == [2, 4, 6]
    model, ckpt = U.load_checkpoint(out / "last.pt")
    assert ckpt["step"] == 6 and ckpt["normalisation"] and model.config.window == 27


def test_split_uses_split_train_only(tmp_path):
    pytest.importorskip("uplift_mocap.dev.training.motion_library")
    for name in ("a/01_01.bvh", "a/02_01.bvh", "a/03_01.bvh", "b/99_01.bvh"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("not read\n")
    (tmp_path / "split-train.txt").write_text("a/01_01.bvh\na/02_01.bvh\na/03_01.bvh\n")
    (tmp_path / "split-test.txt").write_text("b/99_01.bvh\n")
    train, val = ml.train_val_files(tmp_path, val_fraction=0.34)
    names = sorted(p.name for p in train + val)
    assert names == ["01_01.bvh", "02_01.bvh", "03_01.bvh"] and len(val) == 1
    (tmp_path / "split-train.txt").unlink()  # no split files: every BVH under the folder
    (tmp_path / "split-test.txt").unlink()
    train, val = ml.train_val_files(tmp_path, val_fraction=0.0)
    assert len(train) == 4 and val == train


def test_more_data_joins_training_and_keeps_validation(tmp_path):
    pytest.importorskip("uplift_mocap.dev.training.motion_library")
    data, more = tmp_path / "data", tmp_path / "more"
    for name in ("a/01_01.bvh", "a/02_01.bvh", "a/03_01.bvh", "b/04_01.bvh"):
        (data / name).parent.mkdir(parents=True, exist_ok=True)
        (data / name).write_text("not read\n")
    for name in ("s1/81_01.bvh.gz", "s2/82_01.bvh"):
        (more / name).parent.mkdir(parents=True, exist_ok=True)
        (more / name).write_text("not read\n")
    train0, val0 = ml.train_val_files(data, val_fraction=0.34)
    train, val = ml.train_val_files(data, val_fraction=0.34, more=(more,))
    assert val == val0 and train[:len(train0)] == train0
    assert sorted(p.name for p in train[len(train0):]) == ["81_01.bvh.gz", "82_01.bvh"]
    (more / "s1/81_01.bvh.gz").unlink()
    (more / "s2/82_01.bvh").unlink()
    with pytest.raises(SystemExit, match="no BVH files"):
        ml.train_val_files(data, more=(more,))


def test_compact_checkpoint_resumes_with_a_fresh_optimizer(three_accad_files, tmp_path):
    out = tmp_path / "run"
    common = ["--data", str(three_accad_files), "--out", str(out), "--size", "tiny", "--window", "27", "--batch", "4",
              "--val-windows", "8", "--val-every", "3", "--log-every", "3", "--threads", "1",
              "--cache-dir", str(tmp_path / "cache")]
    compact = tmp_path / "compact" / "c.pt"
    assert T.main(common + ["--steps", "3", "--compact", str(compact)]) == 0
    full = torch.load(out / "last.pt", weights_only=False)
    small = torch.load(compact, weights_only=False)
    assert "optimizer" in full and "optimizer" not in small and small["step"] == 3
    assert all(v.dtype == torch.float16 for v in small["model"].values() if v.is_floating_point())
    assert compact.stat().st_size < 0.7 * (out / "last.pt").stat().st_size
    # the weights survive the round trip to float16 (to its precision)
    model, _ = U.load_checkpoint(compact)
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, full["model"][k].float(), atol=2e-3, rtol=2e-3)
    out2 = tmp_path / "run2"
    common2 = [a if a != str(out) else str(out2) for a in common]
    assert T.main(common2 + ["--steps", "6", "--resume", str(compact)]) == 0
    recs = [json.loads(line) for line in (out2 / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in recs if r["kind"] == "val"] == [6]
    first = next(r for r in recs if r["kind"] == "train")
    assert first["step"] == 6 and first["lr"] < 1e-3 * 4 / 300   # warming up again: (6 - 3 + 1) / 300 of the rate
