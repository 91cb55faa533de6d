"""Export an uplifter checkpoint to ONNX (the contract of ``inference/pipeline/uplifter.py``) and verify it.

    python -m uplift_mocap.dev.training.export_onnx CHECKPOINT [OUT.onnx]   (default: models/uplifter.onnx)

Graph: input "keypoints" (batch, time, 33, 3) float32 -> "joints" (batch, time, 22, 3) metres,
"rotations" (batch, time, 22, 4) wxyz unit w >= 0 (computed in the graph), "bone_lengths"
(batch, time, 22) metres; dynamic batch and time (time <= window). Legacy TorchScript exporter
(dynamo=False), opset 17. metadata_props: uplift.window, uplift.fps, uplift.joint_order_hash,
uplift.landmarks, uplift.normalisation, uplift.model_version, uplift.rotation_repr (+ uplift.config,
uplift.metrics as JSON).
"""
from __future__ import annotations

import argparse
import io
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ...inference.core import skeleton as sk
from ...inference.core.assets import UPLIFTER_MODEL
from ...inference.core.normalize import NORMALISATION_ID
from ...inference.pipeline import uplifter as rt
from ...inference.pipeline.uplifter import INPUT_NAME, OUTPUT_NAMES
from .uplifter_net import UplifterNet, build_model

OPSET = 17
MAX_BYTES = 20 * 1024 * 1024
DEFAULT_OUT = UPLIFTER_MODEL


class _Graph(nn.Module):
    """keypoints -> (joints, rotations as w-first quaternions, bone_lengths)."""

    def __init__(self, model: UplifterNet):
        super().__init__()
        self.model = model

    def forward(self, keypoints):
        out = self.model(keypoints)
        return out["joints"], out["quat"], out["bone_lengths"]


def _normalisation_id(ckpt: dict) -> str:
    return str(ckpt.get("normalisation") or NORMALISATION_ID)


def metadata_for(model: UplifterNet, ckpt: dict) -> dict[str, str]:
    """The metadata_props written into the ONNX file (all values strings)."""
    cfg = model.config
    return {
        rt.META_WINDOW: str(int(cfg.window)),
        rt.META_FPS: str(int(round(float(ckpt.get("fps", rt.MODEL_FPS))))),
        rt.META_JOINT_ORDER: sk.joint_order_hash(),
        rt.META_LANDMARKS: rt.LANDMARKS_ID,
        rt.META_NORMALISATION: _normalisation_id(ckpt),
        rt.META_MODEL_VERSION: str(ckpt.get("model_version", "0.1.0")),
        rt.META_ROTATION_REPR: cfg.rotation_repr,
        rt.META_CONFIG: json.dumps(cfg.to_dict(), sort_keys=True),
        rt.META_METRICS: json.dumps(ckpt.get("metrics", {}), sort_keys=True),
    }


def export_model(model: UplifterNet, out_path: str | Path, ckpt: dict | None = None,
                 metadata: dict[str, str] | None = None) -> Path:
    """Write ``model`` (any rotation repr; 9D uses the SVD-free Horn iteration) as ONNX with metadata.
    ``metadata`` entries override/extend ``metadata_for(model, ckpt)``."""
    import onnx

    ckpt = ckpt or {}
    out_path = Path(out_path)
    model = model.eval()
    model.export_mode = True
    try:
        dummy = torch.zeros(1, model.config.window, sk.NUM_LANDMARKS, 3)
        buf = io.BytesIO()
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _Graph(model), (dummy,), buf, dynamo=False, opset_version=OPSET,
                input_names=[INPUT_NAME], output_names=list(OUTPUT_NAMES),
                dynamic_axes={INPUT_NAME: {0: "batch", 1: "time"},
                              **{n: {0: "batch", 1: "time"} for n in OUTPUT_NAMES}})
    finally:
        model.export_mode = False
    proto = onnx.load_from_string(buf.getvalue())
    meta = {**metadata_for(model, ckpt), **(metadata or {})}
    del proto.metadata_props[:]
    for k, v in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, str(v)
    proto.producer_name = "uplift_mocap"
    out_path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(proto, str(out_path))
    size = out_path.stat().st_size
    if size > MAX_BYTES:
        raise ValueError(f"exported model is {size / 2**20:.1f} MiB, over the {MAX_BYTES / 2**20:.0f} MiB limit")
    return out_path


def verify(model: UplifterNet, onnx_path: str | Path, times: tuple[int, ...] | None = None, batch: int = 2,
           seed: int = 0) -> dict[str, float]:
    """Max abs difference ONNX Runtime (CPU) vs torch on random inputs, per output, over the time
    lengths ``times`` (default: the window and about half of it). "rotations" compares the quaternions
    as they are; "rotations_up_to_sign" treats q and -q as equal (where w ~ 0 either may be output)."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    win = model.config.window
    times = times or (win, max(1, win // 2 + 1))
    rng = np.random.default_rng(seed)
    diffs = {n: 0.0 for n in (*OUTPUT_NAMES, "rotations_up_to_sign")}
    model = model.eval()
    for t in times:
        x = rng.normal(0.0, 0.6, size=(batch, t, sk.NUM_LANDMARKS, 3)).astype(np.float32)
        x[..., 2] = rng.uniform(0.0, 1.0, size=(batch, t, sk.NUM_LANDMARKS))
        with torch.no_grad():
            ref = _Graph(model)(torch.from_numpy(x))
        got = sess.run(list(OUTPUT_NAMES), {INPUT_NAME: x})
        for name, r, g in zip(OUTPUT_NAMES, ref, got):
            if g.shape != tuple(r.shape):
                raise AssertionError(f"{name}: ONNX shape {g.shape} != torch {tuple(r.shape)} for T={t}")
            diffs[name] = max(diffs[name], float(np.abs(g - r.numpy()).max()))
            if name == "rotations":
                r = r.numpy() * np.where(np.sum(g * r.numpy(), axis=-1, keepdims=True) < 0, -1.0, 1.0)
                diffs["rotations_up_to_sign"] = max(diffs["rotations_up_to_sign"], float(np.abs(g - r).max()))
    return diffs


def export(checkpoint: str | Path, out_path: str | Path = DEFAULT_OUT, check: bool = True,
           model_version: str | None = None) -> dict:
    """Checkpoint (``dev.training.train``) -> ONNX file; returns {"path", "bytes", "max_abs_diff": {...}}.
    ``model_version`` overrides the checkpoint's (e.g. a fine-tune that started from an older run)."""
    from .uplifter_net import load_checkpoint

    model, ckpt = load_checkpoint(checkpoint)
    if model_version:
        ckpt = {**ckpt, "model_version": model_version}
    path = export_model(model, out_path, ckpt)
    result = {"path": str(path), "bytes": path.stat().st_size}
    if check:
        result["max_abs_diff"] = verify(model, path)
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m uplift_mocap.dev.training.export_onnx", description=__doc__.split("\n")[0])
    p.add_argument("checkpoint", type=Path, help="best.pt / last.pt written by dev.training.train")
    p.add_argument("out", type=Path, nargs="?", default=DEFAULT_OUT, help=f"output .onnx (default {DEFAULT_OUT})")
    p.add_argument("--tolerance", type=float, default=1e-4, help="max abs ONNX vs torch difference allowed")
    p.add_argument("--model-version", default=None, help="version written to the metadata (default: the checkpoint's)")
    args = p.parse_args(argv)
    res = export(args.checkpoint, args.out, model_version=args.model_version)
    worst = max(v for k, v in res["max_abs_diff"].items() if k != "rotations")
    print(f"wrote {res['path']} ({res['bytes'] / 2**20:.2f} MiB)")
    print("onnxruntime vs torch max abs diff: " + " ".join(f"{k}={v:.2e}" for k, v in res["max_abs_diff"].items()))
    if worst > args.tolerance:
        print(f"error: difference {worst:.2e} exceeds {args.tolerance:.0e}", file=sys.stderr)
        return 1
    return 0


__all__ = ["export", "export_model", "verify", "metadata_for", "build_model", "DEFAULT_OUT"]

if __name__ == "__main__":
    sys.exit(main())
