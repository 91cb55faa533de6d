"""Train the uplifter on synthetic 2D/3D windows from mocap (CPU, time-budgeted, resumable).

    python -m uplift_mocap.dev.training.train --data ../shared/data --out runs/x --minutes 180 [--size default]
        [--repr 6d|9d|quat|axis_angle] [--no-rot-sup] [--steps N] [--seed S] [--batch B] [--threads 2]
        [--resume [CKPT]] [--init MODEL.onnx] [--footage DIR [--footage-fraction 0.25]]

Data: with ``DATA/split-train.txt`` the listed files, else every BVH under DATA; a validation set
is carved out by ``motion_library.train_val_split`` (whole subjects/trials). split-test.txt is
never read. Batches come from ``dev.training.synth.Synthesizer``; batch ``s`` uses the generator seeded
``(seed, s)``, so a resumed run continues the same stream.

Schedule: AdamW, linear warm-up then cosine decay over the run's progress = max(step / steps,
elapsed / minutes) (``--minutes`` is the total budget, time before a resume included), gradient
clipping. Every ``--val-every`` steps (and at the end): metrics on a fixed noisy and a fixed clean
validation set, ``last.pt`` (with optimiser state) and, when the noisy score improves,
``best.pt``. Score = MPJPE_mm / 45 + MPJAE_deg / 12 (the acceptance limits), of the noisy set or, with
``--footage-val DIR``, of fixed windows of rendered validation-motion clips with MediaPipe's real
landmarks. ``train_log.jsonl``
gets one JSON object per log line: {"kind": "train" | "val", "step", "elapsed_s", ...}.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import deque
from pathlib import Path

import numpy as np
import torch

from .losses import LossWeights, compute_losses, metrics
from .uplifter_net import REPR_DIMS, SIZES, UplifterNet, UplifterConfig, build_model, make_config

MODEL_VERSION = "0.5.0"
FPS = 30.0
BATCH_KEYS = ("kp2d", "joints", "local_rot", "offsets", "bone_lengths")
# Training camera ranges (``SynthConfig`` overrides). "wide": cameras mounted higher and lower, more roll,
# as in real footage (high mounts looking down at a stage or sports field, tilted phones), and partial
# crops: a negative margin lets up to 10 % of the frame size of the body leave the image (hands, feet).
CAMERA_PRESETS = {
    "standard": {},
    "wide": dict(elevation_range=(-15.0, 60.0), roll_max=10.0, span_range=(0.30, 1.05), margin=-0.10),
}


# --- pieces shared with tests -------------------------------------------------------------------
def to_torch(batch: dict, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """Numpy batch (contract keys) -> float32 tensors on ``device``."""
    return {k: torch.from_numpy(np.ascontiguousarray(batch[k], dtype=np.float32)).to(device) for k in BATCH_KEYS}


def make_optimizer(model: UplifterNet, lr: float, weight_decay: float = 0.05) -> torch.optim.AdamW:
    """AdamW; no weight decay on biases, norms and the position embedding."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if p.ndim < 2 or name == "pos" else decay).append(p)
    return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.99))


def lr_at(step: int, progress: float, base_lr: float, warmup: int, final_frac: float = 0.02) -> float:
    """Linear warm-up over ``warmup`` steps (or the first 5 % of the run, whichever ends first), then
    cosine over the run's progress (0..1) from base_lr to final_frac * base_lr."""
    warm = min(1.0, max((step + 1) / max(warmup, 1), progress / 0.05))
    cos = final_frac + (1.0 - final_frac) * 0.5 * (1.0 + math.cos(math.pi * min(max(progress, 0.0), 1.0)))
    return base_lr * warm * cos


def mix_real(batch: dict, real, fraction: float, rng: np.random.Generator) -> dict:
    """Replace the first ``fraction`` of a synthetic batch's windows with windows of rendered footage
    (``FootageWindows``: real MediaPipe input, exact targets); the contract keys only."""
    b = batch["kp2d"].shape[0]
    k = min(b, max(1, int(round(fraction * b))))
    rb = real.sample(k, rng)
    return {key: np.concatenate([rb[key], np.asarray(batch[key], np.float32)[k:]]) for key in BATCH_KEYS}


def train_step(model: UplifterNet, opt: torch.optim.Optimizer, batch: dict[str, torch.Tensor],
               weights: LossWeights, clip: float = 1.0) -> dict[str, float]:
    """One optimisation step; returns the loss terms as floats (plus "grad_norm")."""
    model.train()
    terms = compute_losses(model(batch["kp2d"]), batch, weights)
    opt.zero_grad(set_to_none=True)
    terms["total"].backward()
    gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    opt.step()
    out = {k: float(v.detach()) for k, v in terms.items()}
    out["grad_norm"] = float(gnorm)
    return out


@torch.no_grad()
def evaluate(model: UplifterNet, data: dict[str, torch.Tensor], chunk: int = 128) -> dict[str, float]:
    """Metrics (see ``losses.metrics``) over a whole validation set, window-weighted."""
    model.eval()
    n = data["kp2d"].shape[0]
    acc: dict[str, float] = {}
    for i in range(0, n, chunk):
        part = {k: v[i:i + chunk] for k, v in data.items()}
        m = metrics(model(part["kp2d"]), part)
        for k, v in m.items():
            acc[k] = acc.get(k, 0.0) + v * part["kp2d"].shape[0]
    return {k: v / n for k, v in acc.items()}


def score(m: dict[str, float]) -> float:
    return m["mpjpe_mm"] / 45.0 + m["mpjae_deg"] / 12.0


# --- data ---------------------------------------------------------------------------------------


class BatchSource:
    """Training batches by step number (deterministic), optionally prefetched by worker processes."""

    def __init__(self, synth, batch_size: int, seed: int, workers: int = 0, prefetch: int = 4):
        self.synth, self.batch_size, self.seed = synth, batch_size, seed
        self.pool = None
        self.pending: deque = deque()
        if workers > 0:
            import multiprocessing as mp
            ctx = mp.get_context("fork" if sys.platform.startswith("linux") else "spawn")
            self.pool = ctx.Pool(workers, initializer=_worker_init, initargs=(synth, batch_size, seed))
            self.prefetch = max(prefetch, workers)

    def get(self, step: int) -> dict:
        if self.pool is None:
            return _make_batch(self.synth, self.batch_size, self.seed, step)
        while self.pending and self.pending[0][0] < step:
            self.pending.popleft()
        nxt = self.pending[-1][0] + 1 if self.pending else step
        while len(self.pending) < self.prefetch:
            self.pending.append((nxt, self.pool.apply_async(_worker_batch, (nxt,))))
            nxt += 1
        s, res = self.pending.popleft()
        assert s == step, (s, step)
        return res.get()

    def close(self):
        if self.pool is not None:
            self.pool.terminate()
            self.pool = None


def _make_batch(synth, batch_size: int, seed: int, step: int) -> dict:
    b = synth.batch(batch_size, np.random.default_rng([seed, step]), noisy=True)
    return {k: b[k] for k in BATCH_KEYS}


_W: dict = {}


def _worker_init(synth, batch_size, seed):
    torch.set_num_threads(1)
    _W.update(synth=synth, batch_size=batch_size, seed=seed)


def _worker_batch(step: int) -> dict:
    return _make_batch(_W["synth"], _W["batch_size"], _W["seed"], step)


# --- main loop ------------------------------------------------------------------------------------
def _save(path: Path, model: UplifterNet, extra: dict):
    tmp = path.with_suffix(".tmp")
    weights = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save({"config": model.config.to_dict(), "model": weights, **extra}, tmp)
    tmp.replace(path)


def build_arg_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m uplift_mocap.dev.training.train", description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=None, help="folder of BVH files (../shared/data)")
    p.add_argument("--pack", type=Path, default=None, metavar="DIR",
                   help="train.npz / val.npz from motion_pack.py instead of --data / --more-data (GPU machine)")
    p.add_argument("--device", default="auto", help="torch device: auto (cuda if available), cpu, cuda, ...")
    p.add_argument("--more-data", type=Path, action="append", default=[], metavar="DIR",
                   help="more training-only BVH folders (../shared/data-more); repeatable")
    p.add_argument("--cameras", default="standard", choices=sorted(CAMERA_PRESETS),
                   help="training camera ranges (validation always uses the standard ones)")
    p.add_argument("--out", type=Path, required=True, help="output folder (checkpoints, train_log.jsonl)")
    p.add_argument("--minutes", type=float, help="total training time budget (resumes included)")
    p.add_argument("--steps", type=int, help="total number of optimisation steps")
    p.add_argument("--repr", default="6d", choices=sorted(REPR_DIMS), help="rotation representation")
    p.add_argument("--no-rot-sup", action="store_true", help="FK-only ablation: no direct rotation loss")
    p.add_argument("--size", default="default", choices=sorted(SIZES))
    p.add_argument("--window", type=int, default=81, help="frames per window (30 fps)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=0.05)
    p.add_argument("--warmup", type=int, default=300, help="warm-up steps")
    p.add_argument("--clip", type=float, default=1.0, help="gradient norm clip")
    p.add_argument("--threads", type=int, default=2, help="torch threads (and library-loading processes)")
    p.add_argument("--workers", type=int, default=0, help="batch-synthesis worker processes (0: in the loop)")
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--val-windows", type=int, default=512)
    p.add_argument("--val-every", type=int, default=250, help="steps between validations")
    p.add_argument("--log-every", type=int, default=25)
    p.add_argument("--cache-dir", type=Path, default=None, help="motion cache (default ~/.cache/uplift_mocap)")
    p.add_argument("--footage", type=Path, default=None, metavar="DIR",
                   help="rendered train-split clips (dev/footage/windows.py): MediaPipe's real detections as input")
    p.add_argument("--footage-fraction", type=float, default=0.25, help="share of each batch taken from --footage")
    p.add_argument("--footage-val", type=Path, default=None, metavar="DIR",
                   help="rendered clips of VALIDATION motions (never train or test): scored at each validation, "
                        "and the score that picks best.pt")
    p.add_argument("--footage-val-windows", type=int, default=256)
    p.add_argument("--init", type=Path, default=None, metavar="MODEL.onnx",
                   help="start from an exported model's weights and config (--size/--repr/--window ignored)")
    p.add_argument("--resume", nargs="?", const="auto", default=None,
                   help="continue from a checkpoint (default OUT/last.pt; a compact one restarts the optimizer)")
    p.add_argument("--compact", type=Path, default=None, metavar="PATH",
                   help="at the end, also write a compact copy of last.pt here (float16 weights, no optimizer)")
    for name, default in LossWeights().to_dict().items():
        if isinstance(default, float):
            p.add_argument(f"--w-{name}", type=float, default=default, help=f"loss weight ({default})")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_arg_parser().parse_args(argv)
    if args.minutes is None and args.steps is None:
        raise SystemExit("give --minutes and/or --steps")
    if (args.data is None) == (args.pack is None):
        raise SystemExit("give --data (BVH folders) or --pack (a motion pack), not both")
    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device)
    torch.set_num_threads(max(1, args.threads))
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    from . import motion_library as ml
    from .synth import SynthConfig, Synthesizer
    from ...inference.core.normalize import NORMALISATION_ID

    ckpt = None
    if args.resume:
        path = out / "last.pt" if args.resume == "auto" else Path(args.resume)
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
        config = UplifterConfig.from_dict(ckpt["config"])
        weights = LossWeights(**ckpt["loss_weights"])
    else:
        if args.init:
            from .warm_start import onnx_config

            config = onnx_config(args.init)
        else:
            config = make_config(args.size, rotation_repr=args.repr, window=args.window)
        weights = LossWeights(**{n: getattr(args, f"w_{n}") for n, v in LossWeights().to_dict().items()
                                 if isinstance(v, float)}, rotation_supervision=not args.no_rot_sup)
    torch.manual_seed(args.seed)
    model = build_model(config).to(device)
    if args.init and ckpt is None:
        from .warm_start import load_onnx_weights

        load_onnx_weights(model, args.init)
        print(f"initialised from {args.init} (outputs reproduced)", flush=True)

    t_load = time.time()
    if args.pack is not None:
        from .motion_pack import read_pack

        train_lib, val_lib = read_pack(args.pack / "train.npz", FPS), read_pack(args.pack / "val.npz", FPS)
    else:
        train_paths, val_paths = ml.train_val_files(args.data, args.val_fraction, tuple(args.more_data))
        cache = args.cache_dir if args.cache_dir is not None else ml.DEFAULT_CACHE_DIR
        train_lib = ml.load_library(train_paths, fps=FPS, cache_dir=cache, workers=args.threads)
        val_lib = ml.load_library(val_paths, fps=FPS, cache_dir=cache, workers=args.threads)
    synth = Synthesizer(train_lib, SynthConfig(window=config.window, fps=FPS, seed=args.seed,
                                               **CAMERA_PRESETS[args.cameras]))
    val_synth = Synthesizer(val_lib, SynthConfig(window=config.window, fps=FPS, seed=0))
    val_noisy = to_torch(val_synth.fixed_eval_set(args.val_windows, seed=1234, noisy=True), device)
    val_clean = to_torch(val_synth.fixed_eval_set(args.val_windows, seed=1234, noisy=False), device)
    print(f"data: {len(train_lib)} train / {len(val_lib)} val files, "
          f"{sum(m.num_frames for m in train_lib) / FPS / 60:.1f} / {sum(m.num_frames for m in val_lib) / FPS / 60:.1f} min "
          f"at {FPS:g} fps, loaded in {time.time() - t_load:.0f} s; model {model.num_parameters() / 1e6:.2f} M params "
          f"({config.rotation_repr}, rotation supervision {'on' if weights.rotation_supervision else 'off'}) on {device}",
          flush=True)

    opt = make_optimizer(model, args.lr, args.weight_decay)
    step, elapsed0, best = 0, 0.0, float("inf")
    rewarm_from = 0           # a fresh optimizer (compact checkpoint) warms up again from here
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        step, elapsed0, best = int(ckpt["step"]), float(ckpt["elapsed_s"]), float(ckpt.get("best_score", best))
        if ckpt.get("optimizer") is not None:
            opt.load_state_dict(ckpt["optimizer"])
        else:
            rewarm_from = step
            print("compact checkpoint (weights only): fresh optimizer state, warm-up again", flush=True)
        print(f"resumed at step {step}, {elapsed0 / 60:.1f} min trained", flush=True)

    budget_s = args.minutes * 60.0 if args.minutes is not None else None
    meta = {"loss_weights": weights.to_dict(), "normalisation": NORMALISATION_ID, "fps": FPS,
            "model_version": MODEL_VERSION, "args": {k: str(v) for k, v in vars(args).items()},
            "train_files": len(train_lib), "val_files": len(val_lib)}
    log = open(out / "train_log.jsonl", "a")
    source = BatchSource(synth, args.batch, args.seed, args.workers)
    real = None
    if args.footage:
        from ..footage.windows import FootageWindows

        real = FootageWindows(args.footage, config.window)
        print(f"footage: {len(real)} rendered clips, {args.footage_fraction:.0%} of each batch", flush=True)
    val_real = None
    if args.footage_val:
        from ..footage.windows import FootageWindows

        fv = FootageWindows(args.footage_val, config.window)
        val_real = to_torch(fv.sample(args.footage_val_windows, np.random.default_rng(4321)), device)
        print(f"footage validation: {len(fv)} rendered clips, {args.footage_val_windows} windows (selects best.pt)",
              flush=True)
    t0 = time.time()
    window_terms: dict[str, float] = {}
    window_start, window_n = time.time(), 0

    def elapsed() -> float:
        return elapsed0 + time.time() - t0

    def progress() -> float:
        p = 0.0
        if args.steps:
            p = max(p, step / args.steps)
        if budget_s:
            p = max(p, elapsed() / budget_s)
        return p

    last_val = -1

    def validate(final: bool = False):
        nonlocal best, last_val
        last_val = step
        m_noisy, m_clean = evaluate(model, val_noisy), evaluate(model, val_clean)
        m_real = evaluate(model, val_real) if val_real is not None else None
        s = score(m_real if m_real is not None else m_noisy)
        improved = s < best
        best = min(best, s)
        found = {"val_noisy": m_noisy, "val_clean": m_clean, **({"val_footage": m_real} if m_real is not None else {})}
        rec = {"kind": "val", "step": step, "elapsed_s": round(elapsed(), 1), "val": m_noisy, "val_clean": m_clean,
               "score": s, "best": improved, **({"val_footage": m_real} if m_real is not None else {})}
        log.write(json.dumps(rec) + "\n")
        log.flush()
        state = {**meta, "step": step, "elapsed_s": elapsed(), "metrics": found,
                 "best_score": best}
        if improved:
            _save(out / "best.pt", model, state)
        _save(out / "last.pt", model, {**state, "optimizer": opt.state_dict()})
        print(f"[val] step {step} {elapsed() / 60:.1f} min: noisy MPJPE {m_noisy['mpjpe_mm']:.1f} mm "
              f"MPJAE {m_noisy['mpjae_deg']:.2f} deg | clean {m_clean['mpjpe_mm']:.1f} mm "
              f"{m_clean['mpjae_deg']:.2f} deg"
              + (f" | footage {m_real['mpjpe_mm']:.1f} mm {m_real['mpjae_deg']:.2f} deg" if m_real is not None else "")
              + f"{' *best*' if improved else ''}{' (final)' if final else ''}", flush=True)

    try:
        while progress() < 1.0:
            lr = lr_at(step, progress(), args.lr, args.warmup)
            if rewarm_from:
                lr *= min(1.0, (step - rewarm_from + 1) / max(args.warmup, 1))
            for g in opt.param_groups:
                g["lr"] = lr
            batch = source.get(step)
            if real is not None:
                batch = mix_real(batch, real, args.footage_fraction, np.random.default_rng((args.seed, step, 7)))
            terms = train_step(model, opt, to_torch(batch, device), weights, args.clip)
            if not math.isfinite(terms["total"]):
                raise FloatingPointError(f"non-finite loss at step {step}: {terms}")
            step += 1
            window_n += 1
            for k, v in terms.items():
                window_terms[k] = window_terms.get(k, 0.0) + v
            if step % args.log_every == 0:
                now = time.time()
                rec = {"kind": "train", "step": step, "elapsed_s": round(elapsed(), 1), "lr": lr,
                       "steps_per_s": window_n / max(now - window_start, 1e-9),
                       "loss": {k: v / window_n for k, v in window_terms.items()}}
                log.write(json.dumps(rec) + "\n")
                log.flush()
                print(f"step {step} {elapsed() / 60:.1f} min lr {lr:.2e} loss {rec['loss']['total']:.4f} "
                      f"({rec['steps_per_s']:.2f} steps/s)", flush=True)
                window_terms, window_start, window_n = {}, now, 0
            if step % args.val_every == 0:
                tv = time.time()
                validate()
                window_start += time.time() - tv  # steps/s counts training time only
        if last_val != step:
            validate(final=True)
    finally:
        source.close()
        log.close()
    if args.compact:
        from .checkpoints import compact_checkpoint

        print(f"compact checkpoint: {compact_checkpoint(out / 'last.pt', args.compact)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
