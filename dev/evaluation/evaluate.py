"""``uplift-dev evaluate``: score the ONNX uplifter on held-out mocap with fixed-seed cameras and noise.

    uplift-dev evaluate --data ../shared/data --split test [--model PATH] [--windows N] [--seed S]

The split's motions are loaded as canonical motion at the model's frame rate
(``motion_library.load_library``, cached), and ``Synthesizer.fixed_eval_set`` renders N windows of
the model's length with random bodies and cameras from ``seed``: once with MediaPipe-like noise and
once clean (same geometry). Every window goes through the ONNX model (``inference.pipeline.uplifter``) and
is scored with ``inference.metrics``: MPJPE, N-MPJPE (scale-fitted) and PA-MPJPE (mm, root-relative,
camera frame), MPJAE (deg, all 22 local rotations, the root orientation in the camera frame
included) and acceleration error (mm/frame^2), overall and per source (the first folder below DIR: accad, cmu-bvh, ...).
A "keyed rotations" line adds the MPJAE of the rotations the pipeline keys: the same network output
with the limbs aimed between its two heads (``inference.pipeline.limb_fusion``, on in ``ConvertOptions``).
The last printed line is ``MPJPE_mm=<x> PA_MPJPE_mm=<x> MPJAE_deg=<x> ACCEL_mm=<x>`` (noisy, the
network's own rotations).

Splits: "test" = split-test.txt (this module is the only code that reads it, for final numbers
only); "val" = the validation carve-out of split-train.txt used by ``dev.training.train``; "all" = every
BVH under DIR (any folder of BVH files, e.g. a user's own mocap).
numpy + onnxruntime only (no torch).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from ...inference.core import skeleton as sk
from ..paths import DEFAULT_DATA
from ...inference.pipeline.limb_fusion import fuse_limb_directions
from .metrics import METRIC_KEYS, mpjae, mpjpe, pose_metrics
from ..training import motion_library as ml
from ..training.synth import SynthConfig, Synthesizer

SPLITS = ("test", "val", "all")
VAL_FRACTION = 0.1  # as training's carve-out (motion_library.train_val_files)

SETTINGS = ("noisy", "clean")
_LAST_LINE_KEYS = (("MPJPE_mm", "mpjpe_mm"), ("PA_MPJPE_mm", "pa_mpjpe_mm"), ("MPJAE_deg", "mpjae_deg"),
                   ("ACCEL_mm", "accel_mm"))


def split_files(data_dir: str | Path, split: str) -> list[Path]:
    """BVH paths of a split under data_dir (see module docstring)."""
    data_dir = Path(data_dir)
    if split == "test":
        return ml.list_split(data_dir, data_dir / "split-test.txt")
    if split == "val":
        return ml.train_val_files(data_dir, VAL_FRACTION)[1]
    if split == "all":
        return ml.discover(data_dir)
    raise ValueError(f"split must be one of {SPLITS}, got {split!r}")


def source_of(path: str | Path, data_dir: str | Path) -> str:
    """First path component of ``path`` below ``data_dir`` (e.g. "accad"), "." for files directly in it."""
    rel = Path(path).resolve().relative_to(Path(data_dir).resolve())
    return rel.parts[0] if len(rel.parts) > 1 else "."


def predict_windows(uplifter, kp2d: np.ndarray, batch: int | None = None,
                    mirror_average: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(N, W, 33, 3) normalised windows (W <= the model window) -> joints (N, W, 22, 3), rotations
    (N, W, 22, 4), one ``uplifter.run`` per ``batch`` windows (default uplifter.batch_windows);
    ``mirror_average`` as in ``Uplifter.run`` (the pipeline's default)."""
    step = batch or getattr(uplifter, "batch_windows", 16)
    joints, rots = [], []
    for i in range(0, len(kp2d), step):
        j, q, _ = uplifter.run(kp2d[i:i + step], mirror_average)
        joints.append(j)
        rots.append(q)
    return np.concatenate(joints), np.concatenate(rots)


def score_windows(pred_joints: np.ndarray, pred_rot: np.ndarray, data: dict,
                  groups: np.ndarray | None = None) -> dict[str, dict[str, float]]:
    """Metrics over all windows and per group: {"all": {...}, group: {...}}; each has the four
    ``METRIC_KEYS`` and "windows". pred_*: (N, W, 22, 3|4); data: ``fixed_eval_set`` dict with
    "joints" and "local_rot"; groups: (N,) labels (e.g. the source of each window's clip)."""
    out = {}
    labels = [("all", np.ones(len(pred_joints), bool))]
    if groups is not None:
        groups = np.asarray(groups)
        labels += [(str(g), groups == g) for g in sorted(set(groups.tolist()))]
    for name, m in labels:
        res = pose_metrics(pred_joints[m], data["joints"][m], pred_rot[m], data["local_rot"][m])
        res["windows"] = int(m.sum())
        out[name] = res
    return out


def keyed_mpjae(pred_joints: np.ndarray, pred_rot: np.ndarray, gt_rot: np.ndarray) -> float:
    """MPJAE (deg) of the rotations as the pipeline keys them: ``fuse_limb_directions`` (default
    weight) on (N, W, 22, 3) joints and (N, W, 22, 4) wxyz rotations, scored against (N, W, 22, 4).
    Only the limb offsets' directions matter to the fusion, and those are canonical for every body."""
    n, w = pred_rot.shape[:2]
    fused = fuse_limb_directions(pred_joints.reshape(n * w, sk.NUM_JOINTS, 3),
                                 pred_rot.reshape(n * w, sk.NUM_JOINTS, 4), sk.REST_OFFSETS)
    return mpjae(fused.reshape(pred_rot.shape), gt_rot)


def evaluate(data_dir: str | Path = DEFAULT_DATA, split: str = "test", model_path: str | Path | None = None,
             windows: int = 512, seed: int = 0, cache_dir: str | Path | None = ml.DEFAULT_CACHE_DIR,
             workers: int = 1, uplifter=None, log=None, mirror_average: bool = True) -> dict:
    """Run the evaluation and return {"split", "files", "minutes", "windows", "window", "seed",
    "model", "seconds_uplift", "height_floor_mm", "keyed_mpjae_deg": {setting: deg},
    "noisy": {"all": metrics, source: metrics, ...}, "clean": {...}}; ``height_floor_mm``: see
    ``height_floor_mm``; ``keyed_mpjae_deg``: see ``keyed_mpjae``.
    ``uplifter`` (an ``inference.pipeline.uplifter.Uplifter``) overrides ``model_path``; ``log`` is a
    callable for progress lines; ``mirror_average``: score the network as the pipeline runs it
    (averaged with its mirrored pass), False for a single pass."""
    from ...inference.pipeline.uplifter import Uplifter

    say = log or (lambda s: None)
    data_dir = Path(data_dir)
    up = uplifter if uplifter is not None else Uplifter(model_path, providers=["CPUExecutionProvider"])
    paths = split_files(data_dir, split)
    if not paths:
        raise ValueError(f"no BVH files in split {split!r} under {data_dir}")
    t0 = time.perf_counter()
    library = ml.load_library(paths, fps=up.fps, cache_dir=cache_dir, workers=workers)
    say(f"loaded {len(library)} motions in {time.perf_counter() - t0:.1f} s")
    sources = np.array([source_of(m.name, data_dir) for m in library])
    synth = Synthesizer(library, SynthConfig(window=up.window, fps=up.fps, seed=seed))
    result = {"split": split, "files": len(library), "minutes": sum(m.num_frames for m in library) / up.fps / 60.0,
              "windows": int(windows), "window": int(up.window), "seed": int(seed),
              "model": str(getattr(up, "model_path", "")), "seconds_uplift": 0.0,
              "mirror_average": bool(mirror_average), "keyed_mpjae_deg": {}}
    for setting in SETTINGS:
        data = synth.fixed_eval_set(windows, seed, noisy=setting == "noisy")
        t1 = time.perf_counter()
        joints, rots = predict_windows(up, data["kp2d"], mirror_average=mirror_average)
        result["seconds_uplift"] += time.perf_counter() - t1
        result[setting] = score_windows(joints, rots, data, sources[data["clip"]])
        result["keyed_mpjae_deg"][setting] = keyed_mpjae(joints, rots, data["local_rot"])
    result["height_floor_mm"] = height_floor_mm(data)
    return result


def last_line(result: dict, setting: str = "noisy") -> str:
    m = result[setting]["all"]
    return " ".join(f"{name}={m[key]:.2f}" for name, key in _LAST_LINE_KEYS)


def format_table(result: dict) -> list[str]:
    """Human-readable table lines (no final summary line)."""
    head = (f"{'setting':<8} {'source':<16} {'windows':>7} {'MPJPE_mm':>9} {'N_MPJPE_mm':>10} {'PA_MPJPE_mm':>11} "
            f"{'MPJAE_deg':>9} {'ACCEL_mm':>8}")
    lines = [head, "-" * len(head)]
    for setting in SETTINGS:
        for name, m in result[setting].items():
            lines.append(f"{setting:<8} {name:<16} {m['windows']:>7d} {m['mpjpe_mm']:>9.2f} {m['n_mpjpe_mm']:>10.2f} "
                         f"{m['pa_mpjpe_mm']:>11.2f} {m['mpjae_deg']:>9.2f} {m['accel_mm']:>8.2f}")
    return lines


def height_floor_mm(data: dict) -> float:
    """MPJPE (mm) of the true poses redrawn at one height, the set's mean: what a perfect pose
    estimate scores when it cannot know the body's size (2D alone cannot: a taller body further away
    projects the same). data: ``fixed_eval_set`` dict with "joints" (N, W, 22, 3) and "height" (N,)."""
    h = np.asarray(data["height"], np.float64)
    return mpjpe(data["joints"] * (h.mean() / h)[:, None, None, None], data["joints"])


def run(data_dir: str | Path = DEFAULT_DATA, split: str = "test", model_path: str | Path | None = None,
        windows: int = 512, seed: int = 0, cache: bool = True, workers: int = 1, out=None,
        mirror_average: bool = True) -> int:
    """CLI entry: evaluate, print the table and the summary line; exit code 0 (1 without the data
    folder or the model file)."""
    out = out or sys.stdout
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        print(f"error: data folder not found: {data_dir}", file=sys.stderr)
        return 1
    from ...inference.pipeline.uplifter import DEFAULT_MODEL_PATH
    model = Path(model_path) if model_path else DEFAULT_MODEL_PATH
    if not model.is_file():
        print(f"error: no uplifter model at {model} (export one with dev/training/export_onnx.py or pass --model)",
              file=sys.stderr)
        return 1
    result = evaluate(data_dir, split, model_path, windows, seed, ml.DEFAULT_CACHE_DIR if cache else None,
                      workers, log=lambda s: print(s, file=out), mirror_average=mirror_average)
    frames = 2 * result["windows"] * result["window"]
    print(f"split {split}: {result['files']} files, {result['minutes']:.1f} min; {result['windows']} windows x "
          f"{result['window']} frames per setting, seed {seed}; model {result['model']}"
          f"{' (averaged with the mirrored pass)' if mirror_average else ' (single pass)'}", file=out)
    print(f"uplifted {frames} frames in {result['seconds_uplift']:.1f} s "
          f"({frames / max(result['seconds_uplift'], 1e-9):.0f} fps, ONNX Runtime CPU)", file=out)
    for line in format_table(result):
        print(line, file=out)
    print(f"height floor: the true poses at one height (the mean) score {result['height_floor_mm']:.2f} mm MPJPE "
          "(body size is not in the 2D input; N-MPJPE fits it per pose)", file=out)
    keyed = result["keyed_mpjae_deg"]
    print(f"keyed rotations (limbs aimed between both heads, as the pipeline keys them): MPJAE "
          f"{keyed['noisy']:.2f} deg noisy, {keyed['clean']:.2f} deg clean", file=out)
    print(last_line(result, "noisy"), file=out)
    return 0


__all__ = ["SPLITS", "split_files", "source_of", "predict_windows", "score_windows", "evaluate", "format_table",
           "height_floor_mm", "keyed_mpjae", "last_line", "run"]
