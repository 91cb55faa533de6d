"""Where the shipped files live inside the package: models (``.onnx``, ``.task``) and sample media.

The package root is the extension directory (``uplift_mocap``); these paths hold both in a checkout
and in an installed extension zip.
"""
from __future__ import annotations

from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parents[2]
MODELS_DIR = PACKAGE_ROOT / "models"
SAMPLES_DIR = PACKAGE_ROOT / "inference" / "samples"
UPLIFTER_MODEL = MODELS_DIR / "uplifter.onnx"
POSE_TASK = MODELS_DIR / "pose_landmarker_full.task"
HAND_TASK = MODELS_DIR / "hand_landmarker_full.task"
