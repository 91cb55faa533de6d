"""A compact, self-contained training library: every motion in one file small enough to travel to a GPU
machine (the device tool carries at most 64 MiB with the working tree, not ``../shared``).

Per clip the canonical motion (``motion_library.Motion``) is resampled to ``PACK_FPS``; rotations are kept
sign-continuous, quantised to int16 (1/8191 per quaternion component, under 0.02 degrees), stored as
frame-to-frame differences with their two bytes split into separate planes and compressed with LZMA
(smooth motion makes the high bytes nearly constant). Root positions are float32, offsets per clip.
``read_pack`` decodes and resamples back to the training rate (slerp), so the synthesiser sees ordinary
``Motion`` objects.

    python -m uplift_mocap.dev.training.motion_pack --data ../shared/data --more-data ../shared/data-more \\
        --out outputs/pack

writes ``train.npz`` (train split minus the validation carve-out, plus every ``--more-data`` motion) and
``val.npz`` (the carve-out), exactly the lists ``train.py`` would load from the folders.
"""
from __future__ import annotations

import argparse
import json
import lzma
import sys
import time
from pathlib import Path

import numpy as np

from . import motion_library as ml

PACK_FPS = 15.0
QUANT = 8191.0
FORMAT = "uplift-motion-pack-v1"


def _continuous(q: np.ndarray) -> np.ndarray:
    """(T, J, 4) quaternions with each flipped to the hemisphere of the frame before."""
    q = np.array(q, np.float32, copy=True)
    for t in range(1, len(q)):
        flip = np.sum(q[t] * q[t - 1], axis=-1) < 0
        q[t, flip] *= -1
    return q


def _encode(q: np.ndarray) -> bytes:
    qi = np.round(q * QUANT).astype(np.int32)
    d = np.diff(qi, axis=0, prepend=0).astype(np.int16)
    return d.view(np.uint8).reshape(-1, 2).T.tobytes()


def _decode(blob: bytes, shape: tuple[int, ...]) -> np.ndarray:
    planes = np.frombuffer(blob, np.uint8).reshape(2, -1)
    d = np.ascontiguousarray(planes.T).view(np.int16).reshape(shape)
    q = np.cumsum(d.astype(np.int32), axis=0).astype(np.float32) / QUANT
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def write_pack(motions: list[ml.Motion], path: Path, fps: float = PACK_FPS) -> Path:
    """Write ``motions`` (any rate) as one pack at ``fps``; returns the path."""
    lengths, roots, offsets, names, blobs = [], [], [], [], []
    for m in motions:
        rot, root = ml.resample(m.local_rot, m.root, m.fps, fps)
        q = _continuous(rot)
        lengths.append(len(q))
        roots.append(root.astype(np.float32))
        offsets.append(m.offsets.astype(np.float32))
        names.append(m.name)
        blobs.append(_encode(q))
    payload = lzma.compress(b"".join(blobs), preset=6)
    meta = {"format": FORMAT, "fps": fps, "quant": QUANT, "names": names,
            "source_fps": [float(m.source_fps) for m in motions]}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, rotations=np.frombuffer(payload, np.uint8), lengths=np.array(lengths, np.int64),
                        roots=np.concatenate(roots) if roots else np.zeros((0, 3), np.float32),
                        offsets=np.stack(offsets) if offsets else np.zeros((0, 22, 3), np.float32),
                        meta=np.array(json.dumps(meta)))
    return path


def read_pack(path: Path, fps: float = 30.0) -> list[ml.Motion]:
    """A pack -> ``Motion`` objects resampled to ``fps`` (what ``motion_library.load_library`` returns)."""
    with np.load(path) as z:
        meta = json.loads(str(z["meta"]))
        if meta.get("format") != FORMAT:
            raise ValueError(f"{path}: not a motion pack ({meta.get('format')!r})")
        lengths = z["lengths"]
        roots, offsets = z["roots"], z["offsets"]
        raw = lzma.decompress(z["rotations"].tobytes())
    joints = offsets.shape[1]
    out, pos, byte = [], 0, 0
    for i, n in enumerate(lengths):
        size = int(n) * joints * 4 * 2
        q = _decode(raw[byte:byte + size], (int(n), joints, 4))
        rot, root = ml.resample(q, roots[pos:pos + n], meta["fps"], fps)
        out.append(ml.Motion(rot.astype(np.float32), root.astype(np.float32), offsets[i], meta["names"][i],
                             float(fps), meta["source_fps"][i], int(n)))
        pos += int(n)
        byte += size
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m uplift_mocap.dev.training.motion_pack", description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, required=True, help="mocap folder with split-train.txt (../shared/data)")
    p.add_argument("--more-data", type=Path, action="append", default=[], metavar="DIR", help="training-only folders")
    p.add_argument("--out", type=Path, required=True, help="folder for train.npz and val.npz")
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args(argv)
    t0 = time.time()
    train, val = ml.train_val_files(args.data, args.val_fraction, tuple(args.more_data))
    for name, paths in (("train", train), ("val", val)):
        motions = ml.load_library(paths, fps=30.0, workers=args.workers)
        path = write_pack(motions, args.out / f"{name}.npz")
        minutes = sum(m.num_frames for m in motions) / 30.0 / 60.0
        print(f"{path}: {len(motions)} clips, {minutes:.1f} min, {path.stat().st_size / 2**20:.1f} MiB", flush=True)
    print(f"packed in {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
