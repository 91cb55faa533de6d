"""Can the lens be read from the lifted body? For rendered clips with known focal length, the lifted root-relative
skeleton is reprojected onto MediaPipe's 2D landmarks over a grid of focal lengths (the translation solved per frame,
linear least squares); a lens that the body reveals would show as a clear minimum at the true focal length.

``python -m uplift_mocap.dev.evaluation.focal_check outputs/footage_val/*.det.npz`` (each ``X.det.npz`` next to
its rendered ground truth ``X.npz``): one line per clip, the true and the best focal length and the median
reprojection error (px) at each grid focal length (35 mm-equivalent, long side).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from ...inference.core import skeleton as sk
from ...inference.pipeline.gaps import fill_gaps
from ...inference.pipeline.providers import get_uplifter
from ...inference.pipeline.run import _lift_at_model_rate
from ...inference.pipeline.world_motion import DEFAULT_SENSOR_MM

GRID_MM = (18, 22, 28, 35, 45, 55, 70, 85, 110)
_LIMB_LM = ("left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
            "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle")
_LM = np.array([sk.MP_INDEX[n] for n in _LIMB_LM])
_JOINTS = np.array([sk.MP_TO_JOINT[i] for i in _LM])


def reprojection_px(joints: np.ndarray, uv: np.ndarray, focal_px: float, cx: float, cy: float) -> float:
    """Median over frames of the mean reprojection error (px) of (T, K, 3) root-relative camera-frame joints
    (x right, y depth, z up; m) placed by the best translation for ``focal_px``, against (T, K, 2) pixels."""
    errors = []
    for j, p in zip(joints, uv):
        if not (np.isfinite(j).all() and np.isfinite(p).all()):
            continue
        du, dv, k = p[:, 0] - cx, cy - p[:, 1], len(j)
        a = np.zeros((2 * k, 3))
        a[:k, 0], a[:k, 1], a[k:, 2], a[k:, 1] = focal_px, -du, focal_px, -dv
        b = np.concatenate([du * j[:, 1] - focal_px * j[:, 0], dv * j[:, 1] - focal_px * j[:, 2]])
        t = np.linalg.lstsq(a, b, rcond=None)[0]
        q = j + t
        errors.append(np.hypot(cx + focal_px * q[:, 0] / q[:, 1] - p[:, 0],
                               cy - focal_px * q[:, 2] / q[:, 1] - p[:, 1]).mean())
    return float(np.median(errors)) if errors else float("nan")


def focal_curve(det_path: Path, uplifter=None) -> tuple[float, list[float]]:
    """(true focal mm, median reprojection px per GRID_MM) for one rendered clip's cached detections."""
    d = np.load(det_path)
    truth = np.load(str(det_path).replace(".det.npz", ".npz"))
    w, h, fps = int(d["width"]), int(d["height"]), float(d["fps"])
    lm = d["landmarks"].astype(np.float32)
    times = np.arange(len(lm)) / fps
    seen = np.isfinite(lm[..., 0]).all(-1)
    filled = fill_gaps(lm, seen, times, max_gap_s=1.0)
    res, _ = _lift_at_model_rate(uplifter or get_uplifter(None), filled.landmarks, times, fps, w, h)
    uv = filled.landmarks[:, _LM, :2] * np.array([w, h])
    joints = res.joints[:, _JOINTS].astype(np.float64)
    scale = max(w, h) / DEFAULT_SENSOR_MM
    return float(truth["focal_mm"]), [reprojection_px(joints, uv, mm * scale, w / 2, h / 2) for mm in GRID_MM]


def main(argv=None) -> int:
    paths = [Path(p) for p in (sys.argv[1:] if argv is None else argv)]
    if not paths:
        print(__doc__)
        return 2
    uplifter = get_uplifter(None)
    print("clip true_mm best_mm " + " ".join(f"px@{mm}" for mm in GRID_MM))
    for path in paths:
        true_mm, curve = focal_curve(path, uplifter)
        best = GRID_MM[int(np.nanargmin(curve))] if np.isfinite(curve).any() else float("nan")
        print(f"{path.name} {true_mm:g} {best} " + " ".join(f"{c:.2f}" for c in curve))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
