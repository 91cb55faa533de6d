"""Build ``models/pose_landmarker_full.task`` (and ``models/hand_landmarker_full.task``) from the Apache-2.0
models in the mediapipe wheel.

The MediaPipe Tasks ``PoseLandmarker`` loads a ``.task`` bundle (a zip of ``pose_detector.tflite`` and
``pose_landmarks_detector.tflite``). mediapipe 0.10.21 ships the two raw models used by its legacy
``solutions.pose`` (``model_complexity=1``) but not the bundle, and the raw models lack the input
normalisation metadata the Tasks API requires. This script adds that metadata with MediaPipe's own
metadata writer and zips the pair with ``model_asset_bundle_utils`` -- fully offline.

Normalisation (what the legacy graph's ``ImageToTensorCalculator`` does):
  detector  ``pose_detection.tflite``      224x224 RGB -> [-1, 1]  (mean 127.5, std 127.5)
  landmarks ``pose_landmark_full.tflite``  256x256 RGB -> [0, 1]   (mean 0,     std 255)
  palms     ``palm_detection_full.tflite`` 192x192 RGB -> [0, 1]   (mean 0,     std 255)
  hands     ``hand_landmark_full.tflite``  224x224 RGB -> [0, 1]   (mean 0,     std 255)
The ``HandLandmarker`` bundle pairs ``hand_detector.tflite`` and ``hand_landmarks_detector.tflite`` the same way.

The output is byte-for-byte reproducible: zip entries carry a fixed timestamp and mode.

    python -m uplift_mocap.dev.build_pose_task [-o OUT.task] [--hands]
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import time
import types
import zipfile
from pathlib import Path

from ..inference.pipeline import detect as _detect  # noqa: F401  (patches protobuf before mediapipe loads)
from ..inference.core.assets import HAND_TASK, POSE_TASK

DEFAULT_OUTPUT = POSE_TASK
MEDIAPIPE_VERSION = "0.10.21"

# (name inside the bundle, path inside the mediapipe package, description, norm mean, norm std)
_MODELS = (
    ("pose_detector.tflite", "modules/pose_detection/pose_detection.tflite",
     "BlazePose person detector (MediaPipe).", 127.5, 127.5),
    ("pose_landmarks_detector.tflite", "modules/pose_landmark/pose_landmark_full.tflite",
     "BlazePose GHUM 3D landmark model, full (MediaPipe).", 0.0, 255.0),
)
_HAND_MODELS = (
    ("hand_detector.tflite", "modules/palm_detection/palm_detection_full.tflite",
     "BlazePalm palm detector, full (MediaPipe).", 0.0, 255.0),
    ("hand_landmarks_detector.tflite", "modules/hand_landmark/hand_landmark_full.tflite",
     "MediaPipe hand landmark model, full: 21 landmarks, handedness, world landmarks.", 0.0, 255.0),
)
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # earliest zip date: no build-time timestamps in the bundle


def _mediapipe_root() -> Path:
    import mediapipe

    if mediapipe.__version__ != MEDIAPIPE_VERSION:
        print(f"warning: mediapipe {mediapipe.__version__} installed, bundle recipe written for "
              f"{MEDIAPIPE_VERSION}")
    return Path(mediapipe.__file__).resolve().parent


def with_metadata(model: bytes, name: str, description: str, mean: float, std: float) -> bytes:
    """Return ``model`` (tflite bytes) with image-input normalisation and feature-output metadata."""
    buf = bytearray(model)
    with _fixed_zip_time():       # associated files (the palm model's labels) are zipped with a timestamp
        return _with_metadata(buf, name, description, mean, std)


@contextlib.contextmanager
def _fixed_zip_time():
    """zipfile stamps entries with the current time; pin it to _ZIP_DATE so the bundle is reproducible."""
    real = zipfile.time
    fixed = time.mktime((*_ZIP_DATE, 0, 0, -1))
    zipfile.time = types.SimpleNamespace(time=lambda: fixed, localtime=real.localtime, gmtime=real.gmtime)
    try:
        yield
    finally:
        zipfile.time = real


def _with_metadata(buf: bytearray, name: str, description: str, mean: float, std: float) -> bytes:
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer, writer_utils

    writer = metadata_writer.MetadataWriter.create(buf)
    writer.add_general_info(name, description)
    writer.add_image_input(norm_mean=[mean], norm_std=[std])
    for out_name in writer_utils.get_output_tensor_names(buf):
        writer.add_feature_output(name=out_name)
    content, _json = writer.populate()
    return bytes(content)


def build(output: Path = DEFAULT_OUTPUT, models=_MODELS) -> str:
    """Write the bundle of ``models`` (default: pose; ``_HAND_MODELS``: hands) to ``output``; its sha256 digest."""
    from mediapipe.tasks.python.metadata.metadata_writers import model_asset_bundle_utils

    root = _mediapipe_root()
    entries: dict[zipfile.ZipInfo, bytes] = {}
    for inner, rel, desc, mean, std in models:
        raw = (root / rel).read_bytes()
        info = zipfile.ZipInfo(inner, date_time=_ZIP_DATE)  # ZIP_STORED, as the bundler requires
        info.external_attr = 0o644 << 16
        info.create_system = 3  # unix, independent of the building OS
        entries[info] = with_metadata(raw, Path(rel).stem, desc, mean, std)
    output.parent.mkdir(parents=True, exist_ok=True)
    # writestr() accepts a ZipInfo in place of a name, so the bundler keeps our fixed timestamps.
    model_asset_bundle_utils.create_model_asset_bundle(entries, str(output))
    return hashlib.sha256(output.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--output", type=Path, default=None, help="default: the shipped models/ file")
    ap.add_argument("--hands", action="store_true", help="build the hand landmarker bundle instead of the pose one")
    args = ap.parse_args(argv)
    args.output = args.output or (HAND_TASK if args.hands else DEFAULT_OUTPUT)
    digest = build(args.output, _HAND_MODELS if args.hands else _MODELS)
    print(f"{args.output}  {args.output.stat().st_size} bytes  sha256={digest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
