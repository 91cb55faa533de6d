"""`uplift data-check DIR`: parse and convert every BVH under DIR, report per skeleton family.

Prints one line per family (files, frames, minutes, mean and max bone-direction error of the
converted motion against the source's own FK) and a final line
``FILES_OK=<n> FILES_FAILED=<n> MEAN_DIR_ERR_DEG=<x>`` (frame-weighted mean over all bones).
"""
from __future__ import annotations

import sys
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..inference.core import skeleton as sk
from ..inference.mocap.bvh import find_bvh_files


@dataclass
class FileReport:
    path: str
    family: str = ""
    frames: int = 0
    seconds: float = 0.0
    err_sum: float = 0.0       # sum over frames and bones, degrees
    err_count: int = 0
    err_max: float = 0.0
    offsets: np.ndarray | None = None
    error: str = ""


def check_file(path: Path) -> FileReport:
    from ..inference.mocap.bvh import BVHError
    from ..inference.mocap.convert import bone_direction_errors, load_canonical
    try:
        motion = load_canonical(path)
        err = bone_direction_errors(motion, motion.info["source_joints"])
        if not np.all(np.isfinite(err)) or not np.all(np.isfinite(motion.local_rot)):
            raise ValueError("conversion produced non-finite values")
    except (BVHError, ValueError, KeyError, OSError) as exc:
        return FileReport(str(path), error=f"{type(exc).__name__}: {exc}")
    return FileReport(str(path), motion.family, motion.num_frames, motion.num_frames / motion.fps,
                      float(err.sum()), int(err.size), float(err.max()), motion.offsets.astype(np.float64))


def run(root: Path, offsets: bool = False, workers: int = 2, out=sys.stdout) -> int:
    files = find_bvh_files(root)
    if not files:
        print(f"data-check: no .bvh or .bvh.gz files under {root}", file=out)
        return 2
    with ProcessPoolExecutor(max_workers=workers) as pool:
        reports = list(pool.map(check_file, files, chunksize=4))
    fams: dict[str, list[FileReport]] = defaultdict(list)
    for r in reports:
        if r.error:
            print(f"FAILED {r.path}: {r.error}", file=out)
        else:
            fams[r.family].append(r)
    for name in sorted(fams):
        rs = fams[name]
        n = sum(r.err_count for r in rs)
        print(f"{name:20s} files={len(rs):4d} frames={sum(r.frames for r in rs):7d} "
              f"minutes={sum(r.seconds for r in rs) / 60:6.2f} "
              f"mean_dir_err_deg={sum(r.err_sum for r in rs) / max(n, 1):.3f} "
              f"max_dir_err_deg={max(r.err_max for r in rs):.2f}", file=out)
    ok = [r for r in reports if not r.error]
    if offsets and ok:
        med = np.median(np.stack([r.offsets for r in ok]), axis=0)
        print("median offsets (m, canonical T-pose frame) over files:", file=out)
        for j, name in enumerate(sk.JOINT_NAMES):
            print(f"  {name:12s} {med[j, 0]:+.3f} {med[j, 1]:+.3f} {med[j, 2]:+.3f}  |{np.linalg.norm(med[j]):.3f}|", file=out)
    total = sum(r.err_count for r in ok)
    mean_err = sum(r.err_sum for r in ok) / max(total, 1)
    print(f"FILES_OK={len(ok)} FILES_FAILED={len(reports) - len(ok)} MEAN_DIR_ERR_DEG={mean_err:.3f}", file=out)
    return 0 if len(ok) == len(reports) else 1
