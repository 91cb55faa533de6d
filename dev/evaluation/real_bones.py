"""Per-bone direction errors on ``../shared/real`` in each camera's own axes: our lift of person A, MediaPipe's world
landmarks and the triangulated reference, and how much of our error is a limb's depth sign (the bone pointing
away from the camera instead of toward it: the same 2D, the other 3D).

    python -m uplift_mocap.dev.evaluation.real_bones [--model PATH] [--source guided|consistent]

Columns (degrees, mean over frames with a reference): ``ours``; ``mediapipe``; ``depth_flipped`` (ours with the
better of its two depth signs per frame: what resolving the ambiguity perfectly would give); ``mp_sign`` (ours,
its depth sign taken from MediaPipe where the two disagree) and ``disagree`` (% of frames). No global alignment:
a camera-frame lift must point each bone the right way by itself. Validation only (never training data).
"""
from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import numpy as np

from ...inference.core import skeleton as sk
from .real import DEFAULT_REAL, PERSON, _detections_from_uv, consistent_uv

# bone: (joint head, joint tail) in our skeleton, (landmark head, landmark tail) in MediaPipe's 33
BONES = {
    "upper_arm_l": (("upperarm_l", "forearm_l"), ("left_shoulder", "left_elbow")),
    "forearm_l": (("forearm_l", "hand_l"), ("left_elbow", "left_wrist")),
    "upper_arm_r": (("upperarm_r", "forearm_r"), ("right_shoulder", "right_elbow")),
    "forearm_r": (("forearm_r", "hand_r"), ("right_elbow", "right_wrist")),
    "thigh_l": (("thigh_l", "shin_l"), ("left_hip", "left_knee")),
    "shin_l": (("shin_l", "foot_l"), ("left_knee", "left_ankle")),
    "thigh_r": (("thigh_r", "shin_r"), ("right_hip", "right_knee")),
    "shin_r": (("shin_r", "foot_r"), ("right_knee", "right_ankle")),
}


def angle_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle (degrees) between (..., 3) vectors."""
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    return np.degrees(np.arccos(np.clip(np.sum(a * b, axis=-1), -1.0, 1.0)))


def opencv_to_contract(x: np.ndarray) -> np.ndarray:
    """(..., 3) OpenCV camera axes (x right, y down, z forward) -> the uplifter's (x right, y depth, z up)."""
    return np.stack([x[..., 0], x[..., 2], -x[..., 1]], axis=-1)


def bone_table(real_dir: Path, model_path=None, source: str = "guided") -> list[dict]:
    """One dict per camera and bone: cam, bone and the columns of the module docstring."""
    from ...inference.pipeline.gaps import fill_gaps
    from ...inference.pipeline.providers import get_uplifter
    from ...inference.pipeline.run import _lift_at_model_rate

    real_dir = Path(real_dir)
    spec = importlib.util.spec_from_file_location("real_calib", real_dir / "calib.py")
    calib = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(calib)
    cameras = calib.load_qca()
    ref = np.load(real_dir / "reference.npz")
    x33 = ref[f"{PERSON}_X33"]
    uplifter = get_uplifter(model_path)
    rows = []
    for k, cam in enumerate(str(c) for c in ref["cams"]):
        mp = np.load(real_dir / f"mp_world_{cam}.npz")
        fps, (w, h) = float(mp["fps"]), cameras[k].size
        uv = mp[f"{PERSON}_uv_guided"] if source == "guided" else consistent_uv(real_dir, k, len(mp[f"{PERSON}_uv_guided"]))
        vis = mp[f"{PERSON}_vis_guided"] if source == "guided" else np.isfinite(uv).all(-1).astype(float)
        det = _detections_from_uv(np.asarray(uv, np.float64), np.asarray(vis, np.float64), w, h, fps, cam)
        seen, times = det.detected, det.times_s
        filled = fill_gaps(det.landmarks, seen, times, max_gap_s=1.0)
        ours = _lift_at_model_rate(uplifter, filled.landmarks, times, fps, w, h)[0].joints.astype(np.float64)
        rt = np.arange(len(uv)) - float(ref["offsets"][k])                 # reference time of each camera frame
        inside = (rt >= 0) & (rt <= len(x33) - 1)
        i0 = np.clip(np.floor(rt).astype(int), 0, len(x33) - 2)
        frac = np.clip(rt - i0, 0.0, 1.0)[:, None, None]
        truth = opencv_to_contract((x33[i0] * (1 - frac) + x33[i0 + 1] * frac) @ cameras[k].R.T + cameras[k].t)
        mpw = opencv_to_contract(np.asarray(mp[f"{PERSON}_world_guided"], np.float64))
        for bone, ((ja, jb), (la, lb)) in BONES.items():
            o = ours[:, sk.JOINT_INDEX[jb]] - ours[:, sk.JOINT_INDEX[ja]]
            r = truth[:, sk.MP_INDEX[lb]] - truth[:, sk.MP_INDEX[la]]
            m = mpw[:, sk.MP_INDEX[lb]] - mpw[:, sk.MP_INDEX[la]]
            ok = inside & seen & np.isfinite(r).all(-1) & np.isfinite(m).all(-1)
            e_ours, e_mp = angle_deg(o, r)[ok], angle_deg(m, r)[ok]
            e_flip = angle_deg(o * [1.0, -1.0, 1.0], r)[ok]
            agree = np.sign(o[ok, 1]) == np.sign(m[ok, 1])
            rows.append({"cam": cam, "bone": bone, "ours": float(e_ours.mean()), "mediapipe": float(e_mp.mean()),
                         "depth_flipped": float(np.minimum(e_ours, e_flip).mean()),
                         "mp_sign": float(np.where(agree, e_ours, e_flip).mean()),
                         "disagree": float(100.0 * (1.0 - agree.mean()))})
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--real", type=Path, default=DEFAULT_REAL)
    p.add_argument("--model", type=Path, default=None)
    p.add_argument("--source", choices=("guided", "consistent"), default="guided")
    args = p.parse_args(argv)
    rows = bone_table(args.real, args.model, args.source)
    keys = ("ours", "mediapipe", "depth_flipped", "mp_sign", "disagree")
    print("| cam | bone | " + " | ".join(keys) + " |")
    print("|---|---|" + "---|" * len(keys))
    for r in rows:
        print(f"| {r['cam']} | {r['bone']} | " + " | ".join(f"{r[k]:.1f}" for k in keys) + " |")
    worse = sum(r["mp_sign"] > r["ours"] + 1e-9 for r in rows)
    print(f"MP_SIGN_WORSE={worse}/{len(rows)} "
          f"OURS_DEG={np.mean([r['ours'] for r in rows]):.2f} MEDIAPIPE_DEG={np.mean([r['mediapipe'] for r in rows]):.2f} "
          f"DEPTH_FLIPPED_DEG={np.mean([r['depth_flipped'] for r in rows]):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
