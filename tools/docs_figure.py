"""Render the README/user-guide picture: frames of the sample video beside the same frames of the
motion Uplift made from it, keyed onto a MakeHuman body and rendered headless (Workbench).

    .venv/bin/python tools/docs_figure.py [--out docs/images/sample_keyed.jpg] [--frames 30,75,120]

Steps: ``pipeline.convert_video`` on ``inference/samples/sample_walk.mp4`` -> BVH -> the footage
generator (``dev/footage/render/generate.py``, the sample's own camera: yaw 45, distance 8 m, 55 mm) ->
the chosen frames of both videos side by side (top: video, bottom: our motion) in one JPEG.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "inference" / "samples" / "sample_walk.mp4"


def frames_of(video: Path, wanted: list[int]) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(video))
    out, i = {}, 0
    while len(out) < len(wanted):
        ok, img = cap.read()
        if not ok:
            break
        if i in wanted:
            out[i] = img
        i += 1
    cap.release()
    missing = [w for w in wanted if w not in out]
    if missing:
        raise SystemExit(f"{video}: frames {missing} not found ({i} frames)")
    return [out[w] for w in wanted]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "images" / "sample_keyed.jpg")
    p.add_argument("--frames", default="30,75,120", help="video frame numbers (0-based), comma-separated")
    a = p.parse_args(argv)
    wanted = [int(f) for f in a.frames.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        subprocess.run([sys.executable, "-m", "uplift_mocap.cli", "convert", str(SAMPLE), "-o", str(tmp),
                        "--format", "bvh", "-q"], check=True)
        render = tmp / "keyed.mp4"
        subprocess.run([sys.executable, "-m", "uplift_mocap.dev.footage.render.generate", str(tmp / "sample_walk.bvh"),
                        "--out", str(render), "--yaw", "45", "--distance", "8", "--focal-mm", "55",
                        "--cam-height", "1.4"], check=True)
        top, bottom = frames_of(SAMPLE, wanted), frames_of(render, wanted)
    rows = [np.hstack(top), np.hstack(bottom)]
    for row, text in zip(rows, ("video", "Uplift: motion keyed onto a MakeHuman body")):
        cv2.putText(row, text, (12, 32), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (20, 20, 20), 2, cv2.LINE_AA)
    img = np.vstack(rows)
    img = cv2.resize(img, (img.shape[1] // 2, img.shape[0] // 2), interpolation=cv2.INTER_AREA)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(a.out), img, [cv2.IMWRITE_JPEG_QUALITY, 85])
    print(f"wrote {a.out} ({img.shape[1]}x{img.shape[0]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
