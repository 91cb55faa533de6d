"""Where the end-to-end bone-direction error comes from: ``python -m uplift_mocap.dev.evaluation.footage_diagnose``.

Runs the pipeline on rendered clips with ground truth (default: the validation motions in
``outputs/footage_val``, rendered by ``uplift-dev eval-footage --manifest dev/footage/footage_val_manifest.json``;
use it to choose what to work on, never on the test clips) and prints, for ours and MediaPipe's world
landmarks, frames of all clips pooled:

- the bone-direction error of each segment of ``footage_eval.SEGMENT_NAMES`` (degrees), and its mean
  after a per-frame rotation alignment (global orientation taken out);
- for the eight limb segments where they lie mostly across the view (image-plane part of the true unit
  direction > ``MIN_IN_PLANE``): the error of the heading in the image plane alone, and the bone error
  once the depth component (or the image-plane heading) is replaced by the true one. Whichever
  replacement removes more error says whether the error sits in depth or in the image. MediaPipe's 2D
  landmarks' own image heading error (pixels, against the projected true joints) is the floor the
  image-plane part of any uplifter starts from.

All directions are in OpenCV camera axes (x right, y down, z = depth away from the camera).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from . import metrics
from . import footage_eval as fe

MIN_IN_PLANE = 0.5
LIMBS = slice(0, 8)          # the limb segments of footage_eval.BONES / SEGMENT_NAMES


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def with_depth_of(plane_from: np.ndarray, depth_from: np.ndarray) -> np.ndarray:
    """(..., 3) unit directions x2 -> (..., 3) unit directions with the image-plane heading (x, y) of
    ``plane_from`` and the depth component (z) of ``depth_from``."""
    z = np.clip(depth_from[..., 2:3], -1.0, 1.0)
    return np.concatenate([_unit(plane_from[..., :2]) * np.sqrt(1.0 - z ** 2), z], axis=-1)


def image_heading_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(..., >=2) x2 -> (...) angle between the (x, y) parts, degrees."""
    return fe.angles_deg(_unit(a[..., :2]), _unit(b[..., :2]))


def _across_view(gt: np.ndarray, min_in_plane: float) -> np.ndarray:
    """(N, 12, 3) true joints -> (N, 8) bool: limb segments whose image-plane part exceeds ``min_in_plane``."""
    return np.linalg.norm(fe.segment_directions(gt)[:, LIMBS, :2], axis=-1) > min_in_plane


def depth_split(pred: np.ndarray, gt: np.ndarray, min_in_plane: float = MIN_IN_PLANE) -> dict[str, float]:
    """(N, 12, 3) x2 metres, OpenCV camera axes -> mean degrees over the limb segments whose true
    direction has an image-plane part > ``min_in_plane``: "bone" (the full 3D error), "image_heading",
    "true_depth" (pred heading, true depth component), "true_heading" (true heading, pred depth), "n"."""
    p, g = fe.segment_directions(pred)[:, LIMBS], fe.segment_directions(gt)[:, LIMBS]
    m = _across_view(gt, min_in_plane)
    p, g = p[m], g[m]
    return {"bone": float(fe.angles_deg(p, g).mean()), "image_heading": float(image_heading_deg(p, g).mean()),
            "true_depth": float(fe.angles_deg(with_depth_of(p, g), g).mean()),
            "true_heading": float(fe.angles_deg(with_depth_of(g, p), g).mean()), "n": int(m.sum())}


def detector_heading_deg(mp_px: np.ndarray, gt_px: np.ndarray, gt: np.ndarray,
                         min_in_plane: float = MIN_IN_PLANE) -> float:
    """MediaPipe 2D's image heading error of the same limb segments as ``depth_split`` (degrees):
    mp_px, gt_px (N, 12, 2) pixels; gt (N, 12, 3) the true camera-frame joints (for the selection)."""
    def segs2d(x):
        return np.stack([x[:, b] - x[:, a] for a, b in fe.BONES[LIMBS]], axis=1)
    return float(image_heading_deg(segs2d(mp_px), segs2d(gt_px))[_across_view(gt, min_in_plane)].mean())


def diagnose(clips: list[dict]) -> dict:
    """``footage_eval.clip_joints`` results -> the report's numbers, all frames pooled."""
    cat = {k: np.concatenate([c[k] for c in clips]) for k in ("gt", "ours", "mediapipe", "gt_px", "mp_px")}
    gt = fe.centred(cat["gt"])
    out = {"frames": int(len(gt))}
    for who in ("ours", "mediapipe"):
        x = fe.centred(np.asarray(cat[who], np.float64))
        ang = fe.bone_angles_deg(x, gt)
        out[who] = {"per_segment": ang.mean(axis=0).tolist(), "bone": float(ang.mean()),
                    "bone_rotation_aligned": float(fe.bone_angles_deg(metrics.procrustes_align(x, gt), gt).mean()),
                    **{f"limbs_{k}": v for k, v in depth_split(x, gt).items()}}
    out["detector_2d_heading"] = detector_heading_deg(cat["mp_px"], cat["gt_px"], gt)
    return out


def report(d: dict) -> list[str]:
    o, m = d["ours"], d["mediapipe"]
    lines = [f"{d['frames']} frames", "| segment | ours (deg) | MediaPipe world (deg) |", "|---|---|---|"]
    lines += [f"| {n} | {a:.2f} | {b:.2f} |" for n, a, b in zip(fe.SEGMENT_NAMES, o["per_segment"], m["per_segment"])]
    lines.append(f"| **mean** | **{o['bone']:.2f}** | **{m['bone']:.2f}** |")
    lines.append(f"| mean after per-frame rotation alignment | {o['bone_rotation_aligned']:.2f} | "
                 f"{m['bone_rotation_aligned']:.2f} |")
    lines.append(f"Limb segments across the view (image-plane part > {MIN_IN_PLANE}; {o['limbs_n']} segment-frames):")
    lines.append("| | ours (deg) | MediaPipe world (deg) |")
    lines.append("|---|---|---|")
    for key, label in (("bone", "bone direction"), ("image_heading", "image-plane heading only"),
                       ("true_depth", "with the true depth component"), ("true_heading", "with the true heading")):
        lines.append(f"| {label} | {o['limbs_' + key]:.2f} | {m['limbs_' + key]:.2f} |")
    lines.append(f"MediaPipe 2D landmarks' own image heading error on those segments: {d['detector_2d_heading']:.2f} deg")
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m uplift_mocap.dev.evaluation.footage_diagnose", description=__doc__.split("\n")[0])
    ap.add_argument("--folder", type=Path, default=Path("outputs/footage_val"),
                    help="rendered clips (*.mp4 with their ground-truth *.npz); default outputs/footage_val")
    ap.add_argument("--model", type=Path, default=None, help="ONNX model (default models/uplifter.onnx)")
    ap.add_argument("--smoothing", type=float, default=None, help="ConvertOptions.smoothing (default: the pipeline's)")
    args = ap.parse_args(argv)
    from ...inference.pipeline.run import ConvertOptions, get_uplifter

    videos = sorted(v for v in args.folder.glob("*.mp4") if v.with_suffix(".npz").is_file())
    if not videos:
        print(f"error: no rendered clips with ground truth (*.mp4 + *.npz) in {args.folder}", file=sys.stderr)
        return 2
    options = ConvertOptions() if args.smoothing is None else ConvertOptions(smoothing=args.smoothing)
    uplifter = get_uplifter(args.model)
    print(f"model {uplifter.model_path} (version {uplifter.model_version}), {len(videos)} clips in {args.folder}")
    print("\n".join(report(diagnose([fe.clip_joints(v, uplifter, options) for v in videos]))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
