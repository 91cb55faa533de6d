"""Where the finger-angle error of ``eval-hands`` comes from: MediaPipe's 2D, its depth, or our angles.

    python -m uplift_mocap.dev.evaluation.hands_diagnose [CLIP.mp4 ...]   (default: the eval-hands clips)

For every found hand >= 60 px tall (raw per-frame angles, no smoothing or gap filling), the mean finger-joint
error (degrees, ``hands_eval.joint_errors_deg``) of ``fingers.finger_angles`` read from:
* ``mp_image``: MediaPipe's image landmarks with its relative depth (what ``convert`` uses);
* ``mp_world``: MediaPipe's metric hand landmarks;
* ``true2d_mp_depth`` / ``mp2d_true_depth``: one of the two from the rendered skin's hand joints, the other from
  MediaPipe (in pixels: true depth as (depth - wrist depth) * focal / depth);
* ``true``: both from the truth (what our angle definition itself costs);
* ``straight``: a flat hand.
and ``mp_2d_err``: MediaPipe's mean 2D landmark error as a share of the hand's size (larger side of its box).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from .hands_eval import DEFAULT_OUT, MANIFEST, clip_hands, joint_errors_deg, load


def diagnose_clip(video: Path) -> dict[str, np.ndarray]:
    """Per found hand >= 60 px: the errors of the module docstring (each (N,))."""
    from ...inference.pipeline.fingers import finger_angles

    gt, det, tracks, frames, size = clip_hands(video)
    px, points = gt["hand_points_px"][frames], gt["hand_points"][frames]        # (T, 2, 21, 3): u, v, depth
    image = tracks.image_points(det.width, det.height)
    true_px = px.copy()
    true_px[..., 2] = (px[..., 2] - px[..., :1, 2]) * float(gt["focal_px"]) / px[..., 2].mean(-1, keepdims=True)
    out: dict[str, list] = {}
    for s in (0, 1):
        m = tracks.found[:, s] & (size[:, s] >= 60)
        if not m.any():
            continue
        truth = finger_angles(points[m, s], s)
        mixed_a, mixed_b = image[m, s].copy(), image[m, s].copy()
        mixed_a[..., :2] = true_px[m, s, :, :2]
        mixed_b[..., 2] = true_px[m, s, :, 2]
        sources = {"mp_image": image[m, s], "mp_world": tracks.world[m, s], "true2d_mp_depth": mixed_a,
                   "mp2d_true_depth": mixed_b, "true": true_px[m, s]}
        for k, pts in sources.items():
            out.setdefault(k, []).append(joint_errors_deg(finger_angles(pts, s), truth))
        out.setdefault("straight", []).append(joint_errors_deg(np.zeros_like(truth), truth))
        err2d = np.linalg.norm(image[m, s, :, :2] - px[m, s, :, :2], axis=-1).mean(-1) / size[m, s]
        out.setdefault("mp_2d_err", []).append(err2d)
    return {k: np.concatenate(v) for k, v in out.items()}


def main(argv=None) -> int:
    videos = [Path(v) for v in (argv if argv is not None else sys.argv[1:])]
    if not videos:
        videos = [DEFAULT_OUT / f"{c.name}.mp4" for c in load(MANIFEST)[0]]
    missing = [str(v) for v in videos if not v.is_file()]
    if missing:
        print(f"not rendered: {', '.join(missing)} (run uplift-dev eval-hands first)", file=sys.stderr)
        return 2
    per = [diagnose_clip(v) for v in videos]
    keys = list(per[0])
    print("| clip | hands | " + " | ".join(keys) + " |")
    print("|---|---|" + "---|" * len(keys))
    for v, d in zip(videos, per):
        print(f"| {v.stem} | {len(d['straight'])} | " + " | ".join(f"{d[k].mean():.2f}" for k in keys) + " |")
    allv = {k: np.concatenate([d[k] for d in per]) for k in keys}
    print(f"| all | {len(allv['straight'])} | " + " | ".join(f"{allv[k].mean():.2f}" for k in keys) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
