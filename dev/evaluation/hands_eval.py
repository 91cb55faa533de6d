"""``uplift-dev eval-hands``: finger joint angles from video against rendered ground truth.

Each clip of ``dev/footage/hands_manifest.json`` (MakeHuman bodies with moving fingers, rendered once into
``outputs/hands_eval/`` by ``footage_eval.render``) goes through the body pass and the hand pass
(``hands.detect_hands`` on every frame, hands swapped where ``flips.repair_swaps`` swaps the body's labels) and
``finger_motion.solve_fingers`` as ``convert`` runs it (every
``ConvertOptions.hands_every``-th frame, the default smoothing). Ground truth: ``fingers.finger_angles`` of the
rig's measured hand joints (``ground_truth.measure_hands``), so both sides use the same angle definition on the
rendered body's own hand. Error of a hand in a frame: the mean over its 15 finger joints of the angle between
the estimated and the true joint rotation (``fingers.angles_to_matrices``: flexion and spread); the
"straight fingers" baseline is the same error for a flat hand. Hand size: the larger side of the box around its
projected joints (px). Per size bin: frames, detection rate (hands found by MediaPipe), error where keyed.
Last line: ``HANDS_ERR_DEG_GE60=<x> STRAIGHT_ERR_DEG_GE60=<x> DETECTED_GE60=<x>``.
"""
from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import numpy as np

from .footage_eval import Clip, render
from ..paths import DEFAULT_DATA

MANIFEST = Path(__file__).resolve().parents[1] / "footage" / "hands_manifest.json"
DEFAULT_OUT = Path("outputs/hands_eval")
SIZE_BINS = ((0.0, 40.0), (40.0, 60.0), (60.0, float("inf")))


def load(manifest: Path = MANIFEST) -> tuple[list[Clip], dict]:
    data = json.loads(Path(manifest).read_text())
    names = {f.name for f in fields(Clip)}
    return [Clip(**{k: v for k, v in c.items() if k in names}) for c in data["clips"]], data


def joint_errors_deg(est: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """(..., 5, 3, 2) radians each -> (...) mean angle (degrees) between the joints' local rotations."""
    from ...inference.pipeline.fingers import angles_to_matrices

    a, b = angles_to_matrices(est, 1), angles_to_matrices(truth, 1)
    cos = (np.einsum("...ij,...ij->...", a, b) - 1.0) / 2.0          # trace(A^T B) = 1 + 2 cos
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))).mean(axis=(-1, -2))


def clip_hands(video: Path) -> tuple:
    """A rendered hands clip with its ground truth (``video`` + ``.npz``): (ground truth npz, body ``Detections``,
    ``HandTracks`` of every frame with the body pass's left/right repairs applied, (T,) rendered frame index of
    each detection, (T, 2) true hand size in px (larger side of its box))."""
    from ...inference.pipeline.detect import DetectOptions, detect_video
    from ...inference.pipeline.flips import repair_swaps
    from ...inference.pipeline.hands import HandOptions, detect_hands

    gt = np.load(video.with_suffix(".npz"))
    det = detect_video(video, DetectOptions())
    tracks = detect_hands(video, det, HandOptions(every=1))
    tracks = tracks.swap_sides(repair_swaps(det.landmarks, det.detected, det.width, det.height).swapped_frames)
    frames = np.asarray(det.frame_indices)
    px = gt["hand_points_px"][frames]
    size = np.maximum(np.ptp(px[..., 0], axis=-1), np.ptp(px[..., 1], axis=-1))
    return gt, det, tracks, frames, size


def score_clip(video: Path) -> dict:
    """Per frame and hand: size (px), found, keyed, error and straight-fingers error (degrees)."""
    from ...inference.pipeline.finger_motion import solve_fingers
    from ...inference.pipeline.fingers import finger_angles
    from ...inference.pipeline.run import ConvertOptions

    gt, det, tracks, frames, size = clip_hands(video)
    points = gt["hand_points"][frames]
    truth = np.stack([finger_angles(points[:, s], s) for s in (0, 1)], axis=1)
    o = ConvertOptions()
    found = tracks.found.copy()
    found[np.arange(len(found)) % o.hands_every != 0] = False            # what convert looks at
    fps = det.fps / max(det.stride, 1)
    fm = solve_fingers(tracks.image_points(det.width, det.height), found, det.times_s, fps, o.smoothing, o.max_gap_s)
    est = np.nan_to_num(fm.angles)
    body, palm = orientation_errors_deg(det, tracks, gt, frames)
    return {"size": size, "found": tracks.found, "keyed": fm.keyed, "err": joint_errors_deg(est, truth),
            "straight": joint_errors_deg(np.zeros_like(truth), truth), "hand_body": body, "hand_palm": palm}


def orientation_errors_deg(det, tracks, gt, frames) -> tuple[np.ndarray, np.ndarray]:
    """(T, 2) angle (degrees) between the true hand frame (``fingers.hand_frame`` of the skin points) and, in the
    camera's axes, (a) the body's hand bone as the pipeline keys it, (b) MediaPipe's own palm (its metric hand
    landmarks); NaN where no hand was found. Decides whether the palm should turn the hand (it does not: see
    docs/model.md)."""
    from ...inference.core import skeleton as sk
    from ...inference.core.frames import CV_FROM_UPLIFT_CAM
    from ...inference.core.rotations import forward_kinematics
    from ...inference.pipeline.finger_motion import hand_axes
    from ...inference.pipeline.fingers import hand_frame
    from ...inference.pipeline.run import ConvertOptions, lift_detections

    clip = lift_detections(det, ConvertOptions(hands=False))
    glob = forward_kinematics(clip.local_rot.astype(np.float64), clip.root_translation.astype(np.float64),
                              clip.offsets.astype(np.float64), sk.PARENTS)[1]
    cam = CV_FROM_UPLIFT_CAM @ np.asarray(clip.info["cam_from_world"])      # MediaPipe's hands: OpenCV axes
    cv = (gt["cam_from_world_per_frame"][frames][:, :3, :3] if "cam_from_world_per_frame" in gt.files
          else np.broadcast_to(gt["cam_from_world"][:3, :3], (len(frames), 3, 3)))
    out = np.full((2, len(frames), 2), np.nan)
    for s in (0, 1):
        truth = cv @ hand_frame(gt["hand_points"][frames][:, s], s)
        est = (cam @ glob[:, sk.JOINT_INDEX[f"hand_{'lr'[s]}"]] @ hand_axes(s),
               hand_frame(np.nan_to_num(tracks.world[:, s]), s))
        for k, e in enumerate(est):
            cos = (np.einsum("tij,tij->t", e, truth) - 1.0) / 2.0
            out[k, :, s] = np.where(tracks.found[:, s], np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))), np.nan)
    return out[0], out[1]


def summarise(scores: list[dict]) -> list[dict]:
    """Rows per size bin over all clips and hands."""
    cat = {k: np.concatenate([s[k].ravel() for s in scores]) for k in ("size", "found", "keyed", "err", "straight")}
    rows = []
    for lo, hi in SIZE_BINS:
        m = (cat["size"] >= lo) & (cat["size"] < hi)
        k = m & cat["keyed"]
        rows.append({"bin": f"{lo:.0f}-{hi:.0f} px" if np.isfinite(hi) else f">= {lo:.0f} px", "hands": int(m.sum()),
                     "detected": float(cat["found"][m].mean()) if m.any() else float("nan"),
                     "keyed": float(cat["keyed"][m].mean()) if m.any() else float("nan"),
                     "err_deg": float(cat["err"][k].mean()) if k.any() else float("nan"),
                     "straight_deg": float(cat["straight"][k].mean()) if k.any() else float("nan")})
    return rows


def run(data_dir: Path = DEFAULT_DATA, out_dir: Path = DEFAULT_OUT, manifest: Path = MANIFEST, out=None) -> int:
    import sys

    out = out or sys.stdout
    clips, meta = load(manifest)
    scores = [score_clip(render(c, data_dir, out_dir, float(meta["seconds"]), int(meta["fps"]))) for c in clips]
    rows = summarise(scores)
    print("| hand size | hands | detected | keyed | finger joint error | straight fingers |", file=out)
    print("|---|---|---|---|---|---|", file=out)
    for r in rows:
        print(f"| {r['bin']} | {r['hands']} | {r['detected']:.2f} | {r['keyed']:.2f} | {r['err_deg']:.1f}° | "
              f"{r['straight_deg']:.1f}° |", file=out)
    body = np.concatenate([x["hand_body"].ravel() for x in scores])
    palm = np.concatenate([x["hand_palm"].ravel() for x in scores])
    print(f"hand orientation (found hands, median): the body's hand bone {np.nanmedian(body):.1f}°, MediaPipe's palm "
          f"{np.nanmedian(palm):.1f}°", file=out)
    big = rows[-1]
    print(f"HANDS_ERR_DEG_GE60={big['err_deg']:.2f} STRAIGHT_ERR_DEG_GE60={big['straight_deg']:.2f} "
          f"DETECTED_GE60={big['detected']:.3f}", file=out)
    return 0
