"""``uplift-dev eval-camera``: root travel when the camera moves, on rendered walks with exact ground truth.

Each clip of ``dev/footage/camera_manifest.json`` (rendered once into ``outputs/camera_eval/`` by
``footage_eval.render``) is converted twice, with the camera found automatically (the default) and told it is
static, and the root path is scored against the rendered body's pelvis (``root_path.root_path_scores``: travel
ratio, RMS path error after turning and shifting, never scaling); a third conversion is given the lens the clip
was rendered with (``focal_mm``, as a user who knows it types into Focal Length), since the default is a guess
(28 mm) and the camera's height and travel scale with it. "tune" clips come from the train split and
chose the thresholds; "test" clips (split-test.txt) only report. Last line:
``CAMERA_FOUND=<moving found>/<clips> TEST_TRAVEL_RATIO=<x> TEST_PATH_ERR_m=<x> STATIC_TRAVEL_RATIO=<x>
LENS_GIVEN_TRAVEL_RATIO=<x> LENS_GIVEN_PATH_ERR_m=<x>`` (one line).
"""
from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import numpy as np

from .footage_eval import Clip, check_test_split, render
from .root_path import root_path_scores
from ..paths import DEFAULT_DATA

MANIFEST = Path(__file__).resolve().parents[1] / "footage" / "camera_manifest.json"
DEFAULT_OUT = Path("outputs/camera_eval")


def load(manifest: Path = MANIFEST) -> tuple[list[tuple[Clip, str]], dict]:
    data = json.loads(Path(manifest).read_text())
    names = {f.name for f in fields(Clip)}
    return [(Clip(**{k: v for k, v in c.items() if k in names}), c["role"]) for c in data["clips"]], data


def score_clip(video: Path, model_path: Path | None = None, focal_mm: float | None = None) -> dict:
    """Convert ``video`` with the camera found automatically ("auto"), told static ("static") and, given
    ``focal_mm``, found automatically with that lens ("lens"); score each root path (``model_path``: another
    uplifter .onnx)."""
    from ...inference.pipeline.detect import DetectOptions, detect_video
    from ...inference.pipeline.run import ConvertOptions, lift_detections

    truth = np.load(video.with_suffix(".npz"))["joints"][:, 0]
    det = detect_video(video, DetectOptions())
    out = {}
    runs = {"auto": ("auto", None), "static": ("static", None)}
    if focal_mm is not None:
        runs["lens"] = ("auto", float(focal_mm))
    for name, (mode, lens) in runs.items():
        clip = lift_detections(det, ConvertOptions(camera_motion=mode, model_path=model_path, focal_mm=lens))
        out[name] = {**root_path_scores(clip.root_translation, truth), "found": clip.info["camera_motion"]}
    return out


def run(data_dir: Path = DEFAULT_DATA, out_dir: Path = DEFAULT_OUT, manifest: Path = MANIFEST, out=None,
        model_path: Path | None = None) -> int:
    import sys

    out = out or sys.stdout
    clips, meta = load(manifest)
    check_test_split([c for c, role in clips if role == "test"], data_dir)
    results = {}
    for clip, role in clips:
        video = render(clip, data_dir, out_dir, float(meta["seconds"]), int(meta["fps"]))
        results[clip.name] = {"role": role, **score_clip(video, model_path, clip.focal_mm)}
    print("| clip | role | camera found | travel (truth) | travel ratio | path error | told static: ratio | "
          "lens given: ratio / path error |", file=out)
    print("|---|---|---|---|---|---|---|---|", file=out)
    for name, r in results.items():
        a, s, g = r["auto"], r["static"], r["lens"]
        print(f"| {name} | {r['role']} | {a['found']} | {a['travel_truth_m']:.2f} m | {a['travel_ratio']:.3f} | "
              f"{a['path_err_m']:.3f} m | {s['travel_ratio']:.3f} | {g['travel_ratio']:.3f} / "
              f"{g['path_err_m']:.3f} m |", file=out)
    test = [r for r in results.values() if r["role"] == "test"] or list(results.values())
    found = sum(r["auto"]["found"] != "static" for r in results.values())          # moving or turning
    print(f"CAMERA_FOUND={found}/{len(results)} "
          f"TEST_TRAVEL_RATIO={np.mean([r['auto']['travel_ratio'] for r in test]):.3f} "
          f"TEST_PATH_ERR_m={np.mean([r['auto']['path_err_m'] for r in test]):.3f} "
          f"STATIC_TRAVEL_RATIO={np.mean([r['static']['travel_ratio'] for r in test]):.3f} "
          f"LENS_GIVEN_TRAVEL_RATIO={np.mean([r['lens']['travel_ratio'] for r in test]):.3f} "
          f"LENS_GIVEN_PATH_ERR_m={np.mean([r['lens']['path_err_m'] for r in test]):.3f}", file=out)
    return 0
