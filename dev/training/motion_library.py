"""The mocap library for training: file lists, a grouped train/validation split, and loading
every file as canonical motion resampled to one frame rate (cached as compact npz).

Any folder of BVH files works (``discover``); the staged ``../shared/data`` also has split lists
(``list_split``) and INDEX.tsv files whose ``nominal_fps`` column overrides the BVH header rate.
"""
from __future__ import annotations

import hashlib
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from ...inference.core import rotations as R
from .bvh_fps import FPS_OVERRIDES, source_fps
from ...inference.mocap.bvh import find_bvh_files

CACHE_VERSION = "motions-v1"   # bump when the conversion or resampling changes
DEFAULT_CACHE_DIR = Path(os.environ.get("UPLIFT_CACHE_DIR", Path.home() / ".cache" / "uplift_mocap")) / "motions"



@dataclass
class Motion:
    """One clip of canonical motion at ``fps`` (Blender world, Z up, metres).

    local_rot: (T, 22, 4) float32 wxyz, rest-relative local (root = global pelvis rotation)
    root: (T, 3) float32 metres, pelvis position in the world
    offsets: (22, 3) float32 metres, the performer's rest offsets
    """
    local_rot: np.ndarray
    root: np.ndarray
    offsets: np.ndarray
    name: str
    fps: float = 30.0
    source_fps: float = 0.0
    source_frames: int = 0

    @property
    def num_frames(self) -> int:
        return int(self.local_rot.shape[0])


# --- file lists ---------------------------------------------------------------------------------
def list_split(data_dir: str | Path, split_file: str | Path) -> list[Path]:
    """Paths listed in a split file (one path per line relative to data_dir; '#' comments)."""
    data_dir = Path(data_dir)
    split = Path(split_file)
    if not split.is_absolute() and not split.exists():
        split = data_dir / split
    out = []
    for line in split.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            out.append(data_dir / line)
    return out


def discover(data_dir: str | Path) -> list[Path]:
    """Every .bvh / .bvh.gz under data_dir, sorted."""
    return find_bvh_files(Path(data_dir))


def train_val_files(data: Path, val_fraction: float = 0.1,
                more: tuple[Path, ...] = ()) -> tuple[list[Path], list[Path]]:
    """(train, val) BVH paths for training: split-train.txt if present, else every BVH under data.

    The validation carve-out comes from ``data`` alone, so it stays the same whatever ``more`` holds;
    every BVH under each folder of ``more`` (training material only, e.g. ``../shared/data-more``)
    joins the training list.
    """
    data = Path(data)
    split = data / "split-train.txt"
    paths = list_split(data, split) if split.is_file() else discover(data)
    if not paths:
        raise SystemExit(f"no BVH files found under {data}")
    train, val = train_val_split(paths, val_fraction=val_fraction, seed=0)
    if not val:  # too few files for a carve-out: validate on the training motions
        val = list(train)
    for folder in more:
        extra = discover(folder)
        if not extra:
            raise SystemExit(f"no BVH files found under {folder}")
        train += extra
    return train, val


def _stem(path: PurePosixPath) -> str:
    name = path.name
    for ext in (".gz", ".bvh"):
        if name.lower().endswith(ext):
            name = name[: -len(ext)]
    return name


def train_val_split(paths: list[str | Path], val_fraction: float = 0.1,
                    seed: int = 0) -> tuple[list[Path], list[Path]]:
    """Deterministic split of ``paths`` into (train, val), both sorted. Reads no files.

    Each source folder (the first two folder levels below the common root, e.g. ``accad/Female1_bvh``
    or ``cmu-bvh/daz``) gives about ``val_fraction`` of its files to validation, as whole groups:
    first subject groups (file's folder name + file-name prefix before the first '_', e.g. CMU
    subject ``10/10``, counted over all source folders: a chosen subject goes to validation whole), then,
    for what is still missing, trial groups (prefix before the second '_', which keeps retakes such
    as ``Male1_A02_Sway`` / ``Male1_A02_SwayT2`` together).
    """
    paths = sorted({Path(p) for p in paths})
    if not paths or val_fraction <= 0:
        return list(paths), []
    root = Path(os.path.commonpath([str(p) for p in paths]))
    if len(paths) == 1 or root in paths:
        root = root.parent
    rels = {p: PurePosixPath(p.relative_to(root).as_posix()) for p in paths}
    source = {p: "/".join(r.parent.parts[:2]) for p, r in rels.items()}

    def key(p: Path, level: int) -> str:
        return f"{rels[p].parent.name}/{'_'.join(_stem(rels[p]).split('_')[:level + 1])}"

    rng = np.random.default_rng(seed)
    need: dict[str, int] = {}
    for p in paths:
        need[source[p]] = need.get(source[p], 0) + 1
    need = {s: int(round(val_fraction * n)) for s, n in need.items()}
    members_of = [{}, {}]  # level -> key -> paths
    for level in (0, 1):
        for p in paths:
            members_of[level].setdefault(key(p, level), []).append(p)
    val: set[Path] = set()
    for src in sorted(need):
        for level in (0, 1):
            if need[src] <= 0:
                break
            groups: dict[str, list[Path]] = {}
            for p in paths:
                if source[p] == src and p not in val:
                    groups.setdefault(key(p, level), []).append(p)
            names = sorted(groups)
            for i in rng.permutation(len(names)):
                # the whole group, from every source folder (the same subject elsewhere)
                members = [p for p in members_of[level][names[i]] if p not in val]
                if 0 < len(members) <= need[src]:
                    for p in members:
                        val.add(p)
                        need[source[p]] -= 1
    return [p for p in paths if p not in val], sorted(val)


# --- resampling -----------------------------------------------------------------------------------
def slerp(q0: np.ndarray, q1: np.ndarray, t: np.ndarray) -> np.ndarray:
    """(..., 4), (..., 4), t (...) in [0, 1] -> (..., 4) unit quaternions on the shorter arc."""
    q0 = np.asarray(q0, dtype=np.float64)
    q1 = np.asarray(q1, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)[..., None]
    dot = np.sum(q0 * q1, axis=-1, keepdims=True)
    q1 = np.where(dot < 0, -q1, q1)
    dot = np.clip(np.abs(dot), 0.0, 1.0)
    theta = np.arccos(dot)
    sin = np.sin(theta)
    small = sin < 1e-6
    safe = np.where(small, 1.0, sin)
    w0 = np.where(small, 1.0 - t, np.sin((1.0 - t) * theta) / safe)
    w1 = np.where(small, t, np.sin(t * theta) / safe)
    return R.quat_normalize(w0 * q0 + w1 * q1)


def resample(local_rot: np.ndarray, root: np.ndarray, src_fps: float,
             fps: float = 30.0) -> tuple[np.ndarray, np.ndarray]:
    """(T, J, 4), (T, 3) at src_fps -> (T', J, 4) float32, (T', 3) float32 at fps, same start time;
    T' = floor((T - 1) * fps / src_fps) + 1. Slerp for rotations, lerp for the root."""
    n = local_rot.shape[0]
    if abs(src_fps - fps) < 1e-9 * fps or n < 2:
        return local_rot.astype(np.float32), root.astype(np.float32)
    t_out = int(np.floor((n - 1) * fps / src_fps + 1e-9)) + 1
    s = np.arange(t_out) * (src_fps / fps)
    i0 = np.minimum(np.floor(s).astype(np.int64), n - 1)
    i1 = np.minimum(i0 + 1, n - 1)
    frac = s - i0
    q = slerp(local_rot[i0], local_rot[i1], np.broadcast_to(frac[:, None], (t_out, local_rot.shape[1])))
    r = root[i0] * (1.0 - frac[:, None]) + root[i1] * frac[:, None]
    return R.quat_canonical(q).astype(np.float32), r.astype(np.float32)


# --- loading with a cache -------------------------------------------------------------------------
def _cache_file(path: Path, fps: float, cache_dir: Path) -> Path:
    st = path.stat()
    key = f"{path.resolve()}|{st.st_mtime_ns}|{st.st_size}|{fps}|{CACHE_VERSION}"
    digest = hashlib.sha1(key.encode()).hexdigest()[:16]
    return cache_dir / f"{_stem(PurePosixPath(path.name))}-{digest}.npz"


def _load_one(args: tuple[str, float, str | None]) -> Motion:
    path_s, fps, cache_s = args
    path = Path(path_s)
    cache = _cache_file(path, fps, Path(cache_s)) if cache_s else None
    if cache is not None and cache.is_file():
        try:
            with np.load(cache) as z:
                return Motion(z["local_rot"], z["root"], z["offsets"], str(path), float(z["fps"]),
                              float(z["source_fps"]), int(z["source_frames"]))
        except (OSError, KeyError, ValueError):
            pass  # unreadable cache entry: convert again
    from ...inference.mocap.convert import load_canonical
    try:
        m = load_canonical(path)
    except (ValueError, KeyError, OSError) as exc:
        raise ValueError(f"load_library: cannot convert {path}: {exc}") from exc
    src_fps = source_fps(path, m.fps)
    rot, root = resample(m.local_rot, m.root_translation, src_fps, fps)
    motion = Motion(rot, root, m.offsets.astype(np.float32), str(path), float(fps), src_fps, m.num_frames)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(f"{cache.stem}.{os.getpid()}.tmp.npz")
        np.savez_compressed(tmp, local_rot=rot, root=root, offsets=motion.offsets, fps=fps,
                            source_fps=src_fps, source_frames=m.num_frames)
        os.replace(tmp, cache)
    return motion


def load_library(paths: list[str | Path], fps: float = 30.0, cache_dir: str | Path | None = DEFAULT_CACHE_DIR,
                 workers: int = 1) -> list[Motion]:
    """Load every file as canonical ``Motion`` resampled to ``fps``, in the order given.

    Results are cached as one npz per file under cache_dir (key: absolute path, mtime, size,
    fps, CACHE_VERSION); ``cache_dir=None`` disables the cache. ``workers > 1`` converts in
    parallel processes. Raises on a file that cannot be converted (names it).
    """
    jobs = [(str(Path(p)), float(fps), None if cache_dir is None else str(cache_dir)) for p in paths]
    if workers > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(_load_one, jobs, chunksize=4))
    return [_load_one(j) for j in jobs]


__all__ = ["Motion", "CACHE_VERSION", "DEFAULT_CACHE_DIR", "FPS_OVERRIDES", "list_split", "discover",
           "train_val_split", "source_fps", "slerp", "resample", "load_library"]
