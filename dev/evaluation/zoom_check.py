"""Small people with and without the detector's zoom, on rendered clips with ground truth.

    python -m uplift_mocap.dev.evaluation.zoom_check outputs/footage_train/train_s16_000.mp4 [...]

Each ``X.mp4`` needs its rendered ground truth ``X.npz`` (``joints_px``). One line per clip: the body's median height
(px and share of the frame), then for ``DetectOptions(zoom=False)`` and the default (zoom on): the share of frames
with the person, the median mid-hip distance (px) to the rendered pelvis and the detection time (s).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np


def check_clip(video: Path) -> dict:
    from ...inference.core import skeleton as sk
    from ...inference.pipeline.detect import DetectOptions, detect_video

    truth = np.load(Path(video).with_suffix(".npz"))
    px = truth["joints_px"]
    out = {"body_px": float(np.median(np.ptp(px[..., 1], axis=-1))), "height": int(truth["height"])}
    hips = [sk.MP_INDEX["left_hip"], sk.MP_INDEX["right_hip"]]
    for zoom in (False, True):
        t0 = time.perf_counter()
        det = detect_video(video, DetectOptions(workers=1, zoom=zoom))
        seconds = time.perf_counter() - t0
        frames = np.clip(np.asarray(det.frame_indices), 0, len(px) - 1)
        hip = det.landmarks[:, hips, :2].mean(axis=1) * [det.width, det.height]
        err = np.linalg.norm(hip - px[frames, 0, :2], axis=-1)[det.detected]
        out[zoom] = (float(det.detected.mean()), float(np.median(err)) if len(err) else float("nan"), seconds)
    return out


def main(argv=None) -> int:
    videos = [Path(v) for v in (sys.argv[1:] if argv is None else argv)]
    if not videos:
        print(__doc__)
        return 2
    print("| clip | body px (share) | found / hip px / s, no zoom | found / hip px / s, zoom |")
    print("|---|---|---|---|")
    for v in videos:
        r = check_clip(v)
        cells = [f"{r[z][0]:.2f} / {r[z][1]:.1f} / {r[z][2]:.1f}" for z in (False, True)]
        print(f"| {v.stem} | {r['body_px']:.0f} ({r['body_px'] / r['height']:.2f}) | {cells[0]} | {cells[1]} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
