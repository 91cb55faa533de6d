"""Start training from an exported model: torch weights back from ``uplifter.onnx``.

The exporter keeps named initializers for biases, norms and the position embedding
(``model.<param>``); Linear weights become anonymous MatMul initializers (``onnx::MatMul_<n>``,
the weight transposed) in the order the graph uses them, which is the order of the 2-D weights in
``named_parameters()``. ``load_onnx_weights`` assigns both and then checks the result: the torch
model must reproduce the ONNX model's outputs (max abs difference <= 1e-4) or it raises.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from ...inference.pipeline.uplifter import META_CONFIG
from .uplifter_net import UplifterNet, UplifterConfig, build_model


def onnx_config(path: str | Path) -> UplifterConfig:
    """The UplifterConfig stored in an exported model's metadata (``uplift.config``)."""
    import onnx

    meta = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
    if META_CONFIG not in meta:
        raise ValueError(f"{path}: no uplift.config metadata (not an exported uplifter)")
    return UplifterConfig.from_dict(json.loads(meta[META_CONFIG]))


def load_onnx_weights(model: UplifterNet, path: str | Path, check: bool = True) -> UplifterNet:
    """Copy the weights of exported model ``path`` into ``model`` (same config); returns it."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    # anonymous weights in the order the nodes consume them
    anon = []
    for node in graph.node:
        for name in node.input:
            if name in inits and not name.startswith("model.") and name not in anon:
                anon.append(name)
    params = dict(model.named_parameters())
    state = {}
    pending = []
    for name, p in params.items():
        key = f"model.{name}"
        if key in inits:
            state[name] = torch.from_numpy(inits[key].reshape(p.shape).copy())
        else:
            pending.append(name)
    weights = [n for n in anon if inits[n].ndim == 2]
    if len(weights) != len(pending):
        raise ValueError(f"{path}: {len(weights)} anonymous weights for {len(pending)} parameters {pending} (the "
                         f"exporter merges equal initializers, e.g. of an untrained model; warm-start trained ones)")
    for name, w in zip(pending, weights):
        arr = inits[w]
        if arr.T.shape != tuple(params[name].shape):
            raise ValueError(f"{path}: {w} {arr.shape} does not fit {name} {tuple(params[name].shape)}")
        state[name] = torch.from_numpy(arr.T.copy())
    missing = model.load_state_dict(state, strict=False)
    if missing.missing_keys:  # buffers only may be missing
        buffers = dict(model.named_buffers())
        bad = [k for k in missing.missing_keys if k not in buffers]
        if bad:
            raise ValueError(f"{path}: no weights for {bad}")
    if check:
        _check_same_outputs(model, path)
    return model


def _check_same_outputs(model: UplifterNet, path: str | Path, tol: float = 1e-4) -> None:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    x = np.random.default_rng(0).normal(size=(2, model.config.window, *inp.shape[2:])).astype(np.float32)
    ref = sess.run(None, {inp.name: x})
    model.eval()
    with torch.no_grad():
        out = model(torch.from_numpy(x))
    names = [o.name for o in sess.get_outputs()]
    diffs = {}
    for name, r in zip(names, ref):
        if name in out:
            diffs[name] = float(np.abs(out[name].numpy() - r).max())
    if not diffs or max(diffs.values()) > tol:
        raise ValueError(f"{path}: warm-started torch model does not reproduce the ONNX outputs ({diffs})")


def model_from_onnx(path: str | Path) -> UplifterNet:
    """A torch UplifterNet with the config and weights of an exported model."""
    return load_onnx_weights(build_model(onnx_config(path)), path)


__all__ = ["onnx_config", "load_onnx_weights", "model_from_onnx"]
