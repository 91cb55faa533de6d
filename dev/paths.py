"""Paths development code shares: the checkout, the staged data beside it (``../shared``), manifests."""
from __future__ import annotations

from pathlib import Path

from ..inference.core.assets import MODELS_DIR, PACKAGE_ROOT, SAMPLES_DIR  # noqa: F401  (re-exported)

REPO_ROOT = PACKAGE_ROOT
SHARED = REPO_ROOT.parent / "shared"
DEFAULT_DATA = SHARED / "data"              # CMU + ACCAD, split-train.txt / split-test.txt
FOOTAGE_DIR = Path(__file__).resolve().parent / "footage"
SAMPLE_BVH = SAMPLES_DIR / "cmu_02_01_walk.bvh.gz"
