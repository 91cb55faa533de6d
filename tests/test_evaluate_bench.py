"""`uplift-dev evaluate` and `uplift-dev bench` end to end on a tiny untrained exported model.

No ../shared/data needed: the evaluation data is a temporary folder with the bundled sample clip
under two "sources" and its own split-test.txt. Tests marked ``data`` use the staged mocap.
"""
from __future__ import annotations

import math
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from uplift_mocap.dev import cli
from uplift_mocap.inference.core import skeleton as sk

SAMPLE = Path(__file__).resolve().parents[1] / "inference" / "samples" / "cmu_02_01_walk.bvh.gz"
LAST_LINE = re.compile(r"^MPJPE_mm=(\S+) PA_MPJPE_mm=(\S+) MPJAE_deg=(\S+) ACCEL_mm=(\S+)$")
BENCH_KEYS = ("uplift_fps", "ik_fps", "uplift_vs_ik_ratio", "uplift_mpjae_deg", "ik_mpjae_deg")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    """A tiny untrained uplifter (window 27) exported with dev/training/export_onnx.py."""
    torch = pytest.importorskip("torch")
    from uplift_mocap.dev.training.export_onnx import export_model
    from uplift_mocap.dev.training.uplifter_net import build_model, make_config

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "tiny.onnx"
    return export_model(build_model(make_config("tiny", window=27)), path)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    """A mocap folder with the sample clip under two sources and a split-test.txt listing both."""
    root = tmp_path_factory.mktemp("mocap")
    for rel in ("srcA/a_01.bvh.gz", "srcB/sub/b_01.bvh.gz"):
        (root / rel).parent.mkdir(parents=True)
        shutil.copy(SAMPLE, root / rel)
    (root / "split-test.txt").write_text("# test split\nsrcA/a_01.bvh.gz\nsrcB/sub/b_01.bvh.gz\n")
    return root


def _kv_lines(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#")
                and " " not in line)


def test_evaluate_cli_prints_table_and_last_line(tiny_model, data_dir, capsys):
    code = cli.main(["evaluate", "--data", str(data_dir), "--split", "test", "--model", str(tiny_model),
                     "--windows", "12", "--seed", "3", "--no-cache"])
    out = capsys.readouterr().out
    assert code == 0
    lines = out.strip().splitlines()
    m = LAST_LINE.match(lines[-1])
    assert m, lines[-1]
    values = [float(v) for v in m.groups()]
    assert all(math.isfinite(v) and v > 0 for v in values)
    # per-source rows for both settings; the noisy "all" row is the last line's numbers
    rows = {tuple(line.split()[:2]): line.split()[2:] for line in lines if line.split()[:1] in (["noisy"], ["clean"])}
    assert {("noisy", "all"), ("noisy", "srcA"), ("noisy", "srcB"), ("clean", "all"), ("clean", "srcA"),
            ("clean", "srcB")} <= set(rows)
    cols = [float(v) for v in rows[("noisy", "all")][1:]]  # MPJPE, N-MPJPE, PA-MPJPE, MPJAE, accel
    assert [cols[0]] + cols[2:] == pytest.approx(values, abs=0.006)
    assert 0.0 < cols[1] <= cols[0]  # the best-fitting scale can only lower the error
    floor = [line for line in lines if line.startswith("height floor:")]
    assert len(floor) == 1 and float(floor[0].split(" score ")[1].split()[0]) > 0.0
    assert int(rows[("noisy", "srcA")][0]) + int(rows[("noisy", "srcB")][0]) == int(rows[("noisy", "all")][0]) == 12
    keyed = [line for line in lines if line.startswith("keyed rotations")]
    assert len(keyed) == 1 and re.search(r"MPJAE (\d+\.\d+) deg noisy, (\d+\.\d+) deg clean", keyed[0]), keyed


def test_evaluate_is_deterministic_and_splits_by_source(tiny_model, data_dir):
    from uplift_mocap.dev.evaluation.evaluate import evaluate

    a = evaluate(data_dir, "test", tiny_model, windows=8, seed=5, cache_dir=None)
    b = evaluate(data_dir, "test", tiny_model, windows=8, seed=5, cache_dir=None)
    c = evaluate(data_dir, "test", tiny_model, windows=8, seed=6, cache_dir=None)
    assert a["noisy"] == b["noisy"] and a["clean"] == b["clean"]
    assert a["noisy"]["all"] != c["noisy"]["all"]
    assert a["files"] == 2 and a["window"] == 27
    assert set(a["noisy"]) == {"all", "srcA", "srcB"}
    # the noise changes the input: noisy and clean scores differ
    assert a["noisy"]["all"]["mpjpe_mm"] != a["clean"]["all"]["mpjpe_mm"]
    # by default the network is scored as the pipeline runs it: averaged with its mirrored pass
    single = evaluate(data_dir, "test", tiny_model, windows=8, seed=5, cache_dir=None, mirror_average=False)
    assert a["mirror_average"] and not single["mirror_average"]
    assert single["noisy"]["all"]["mpjpe_mm"] != a["noisy"]["all"]["mpjpe_mm"]


def test_score_windows_of_ground_truth_is_zero_and_grouped():
    from uplift_mocap.inference.mocap.convert import load_canonical
    from uplift_mocap.dev.evaluation.evaluate import score_windows
    from uplift_mocap.dev.training.motion_library import Motion, resample
    from uplift_mocap.dev.training.synth import SynthConfig, Synthesizer

    m = load_canonical(SAMPLE)
    rot, root = resample(m.local_rot, m.root_translation, m.fps, 30.0)
    lib = [Motion(rot, root, m.offsets, "a"), Motion(rot[::-1].copy(), root[::-1].copy(), m.offsets, "b")]
    data = Synthesizer(lib, SynthConfig(window=15)).fixed_eval_set(6, seed=0, noisy=True)
    groups = np.array(["a", "b"])[data["clip"]]
    perfect = score_windows(data["joints"], data["local_rot"], data, groups)
    assert set(perfect) == {"all"} | set(groups.tolist())
    for res in perfect.values():
        for key in ("mpjpe_mm", "n_mpjpe_mm", "pa_mpjpe_mm", "mpjae_deg", "accel_mm"):
            assert res[key] == pytest.approx(0.0, abs=1e-3)
    # 1 cm off on every non-root joint: 10 * 21 / 22 mm
    off = data["joints"].copy()
    off[:, :, 1:, 2] += 0.01
    assert score_windows(off, data["local_rot"], data)["all"]["mpjpe_mm"] == pytest.approx(
        10.0 * (sk.NUM_JOINTS - 1) / sk.NUM_JOINTS, rel=1e-4)


@pytest.mark.slow
def test_bench_cli_prints_required_lines(tiny_model, capsys):
    code = cli.main(["bench", "--model", str(tiny_model), "--sample", "--frames", "120", "--ik-frames", "3"])
    out = capsys.readouterr().out
    assert code == 0
    kv = _kv_lines(out)
    for key in BENCH_KEYS:
        assert key in kv, out
        assert math.isfinite(float(kv[key])) and float(kv[key]) > 0
    keys_in_order = [line.split("=")[0] for line in out.splitlines() if "=" in line]
    assert keys_in_order[:5] == list(BENCH_KEYS)
    ratio = float(kv["uplift_fps"]) / float(kv["ik_fps"])
    assert float(kv["uplift_vs_ik_ratio"]) == pytest.approx(ratio, rel=2e-3)
    assert int(kv["ik_frames"]) == 3 and int(kv["uplift_frames"]) == 120
    # IK is fed the ground-truth joints: it must fit them closely
    assert float(kv["ik_residual_mm"]) < 5.0


@pytest.mark.slow
def test_bench_sections_can_be_appended(tiny_model, monkeypatch, capsys):
    from uplift_mocap.dev.evaluation import bench

    monkeypatch.setattr(bench, "SECTIONS", list(bench.SECTIONS))

    @bench.bench_section("extra stage")
    def _extra(ctx):
        return {"extra_frames": ctx.clip.num_frames, "extra_sees_ratio": ctx.results["uplift_vs_ik_ratio"] > 0}

    assert bench.run(bench.BenchOptions(model=tiny_model, frames=60, ik_frames=2, sample=True)) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-3] == "# extra stage"
    assert lines[-2:] == ["extra_frames=60", "extra_sees_ratio=True"]


def test_bench_clip_is_consistent():
    from uplift_mocap.inference.core import rotations as R
    from uplift_mocap.dev.evaluation.bench import make_clip

    clip = make_clip(200, sample=True, seed=1)
    assert clip.num_frames == 200 and clip.landmarks.shape == (200, sk.NUM_LANDMARKS, 3)
    # the ground truth is FK of the rotations with the rendered body (root-relative, camera frame)
    pos = R.forward_kinematics(clip.local_rot.astype(np.float64), np.zeros(3), clip.offsets.astype(np.float64),
                               sk.PARENTS)[0]
    assert np.abs(pos - clip.joints).max() < 1e-4
    # played forwards then backwards: continuous (no jump bigger than a normal frame step)
    step = np.linalg.norm(np.diff(clip.joints, axis=0), axis=-1).max(-1)
    assert step.max() < 3 * np.median(step) + 0.01


@pytest.mark.data
def test_val_split_matches_training_carve_out(shared_data):
    pytest.importorskip("torch")
    from uplift_mocap.dev.evaluation.evaluate import split_files
    from uplift_mocap.dev.training.motion_library import train_val_files

    val = split_files(shared_data, "val")
    train, train_val = train_val_files(shared_data)
    assert val == train_val and val
    assert not set(val) & set(train)


def test_missing_model_is_a_clear_error(tmp_path, data_dir, capsys):
    missing = tmp_path / "none.onnx"
    assert cli.main(["bench", "--model", str(missing), "--sample"]) == 1
    assert cli.main(["evaluate", "--data", str(data_dir), "--model", str(missing)]) == 1
    err = capsys.readouterr().err
    assert err.count("no uplifter model") == 2 and str(missing) in err


def test_height_floor_is_the_error_of_true_poses_at_the_mean_height():
    from uplift_mocap.dev.evaluation.evaluate import height_floor_mm

    rng = np.random.default_rng(0)
    joints = rng.normal(0, 0.3, (4, 5, sk.NUM_JOINTS, 3))
    joints -= joints[:, :, :1]
    same = {"joints": joints, "height": np.full(4, 1.7)}
    assert height_floor_mm(same) == pytest.approx(0.0, abs=1e-9)
    # heights 1.5 and 2.1 (mean 1.8): scaled by 1.2 and 6/7, every joint is off by 20 % or 1/7 of its distance
    two = {"joints": joints[:2], "height": np.array([1.5, 2.1])}
    dist = np.linalg.norm(joints[:2], axis=-1)
    expected = 1000.0 * np.mean(np.concatenate([0.2 * dist[0].ravel(), dist[1].ravel() / 7.0]))
    assert height_floor_mm(two) == pytest.approx(expected, rel=1e-9)


def test_keyed_mpjae_scores_the_fused_limbs():
    """With joints that show the true limb directions, aiming the limbs at them lowers the angle
    error of the limb joints only; with joints that agree with the rotations nothing changes."""
    from uplift_mocap.inference.core import rotations as R
    from uplift_mocap.inference.pipeline.limb_fusion import fuse_limb_directions
    from uplift_mocap.dev.evaluation.metrics import joint_angle_errors, mpjae
    from uplift_mocap.dev.evaluation.evaluate import keyed_mpjae

    rng = np.random.default_rng(4)
    n, w, j = 3, 5, sk.NUM_JOINTS
    gt = R.axis_angle_to_quat(rng.normal(0.0, 0.4, (n, w, j, 3)))
    noisy = R.quat_multiply(gt, R.axis_angle_to_quat(rng.normal(0.0, 0.15, (n, w, j, 3))))
    fk = lambda q: R.forward_kinematics(q.reshape(n * w, j, 4), np.zeros((n * w, 3)), sk.REST_OFFSETS,
                                        sk.PARENTS)[0].reshape(n, w, j, 3)
    plain = mpjae(noisy, gt)
    assert keyed_mpjae(fk(noisy), noisy, gt) == pytest.approx(plain, abs=1e-3)
    assert keyed_mpjae(fk(gt), noisy, gt) < plain - 0.3  # 8 of the 22 joints move halfway to the truth
    fused = fuse_limb_directions(fk(gt).reshape(n * w, j, 3), noisy.reshape(n * w, j, 4), sk.REST_OFFSETS)
    before, after = joint_angle_errors(noisy.reshape(n * w, j, 4), gt.reshape(n * w, j, 4)), \
        joint_angle_errors(fused, gt.reshape(n * w, j, 4))
    others = [k for k in range(j) if k not in sk.LIMB_JOINTS]
    np.testing.assert_allclose(after[:, others], before[:, others], atol=1e-3)
    assert after[:, list(sk.LIMB_JOINTS)].mean() < before[:, list(sk.LIMB_JOINTS)].mean()
