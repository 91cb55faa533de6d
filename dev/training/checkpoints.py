"""Compact checkpoints for a training campaign that spans sessions (``train.py --compact`` / ``--resume``)."""
from __future__ import annotations

from pathlib import Path

import torch


def compact_checkpoint(src: Path, dst: Path) -> Path:
    """A checkpoint without its optimizer state and with float16 weights (~2 bytes per parameter), small
    enough to commit between the sessions of a training campaign; ``--resume`` takes it (fresh optimizer)."""
    ckpt = torch.load(src, map_location="cpu", weights_only=False)
    ckpt.pop("optimizer", None)
    ckpt["model"] = {k: (v.half() if v.is_floating_point() else v) for k, v in ckpt["model"].items()}
    dst.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ckpt, dst)
    return dst


__all__ = ["compact_checkpoint"]
