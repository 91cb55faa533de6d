"""Training windows from rendered footage: MediaPipe's REAL detections as input, the rendered body's
exact motion as target, to close the gap between synthetic 2D noise and the real detector.

A footage folder holds ``<name>.mp4`` + ``<name>.npz`` pairs from ``dev/footage/render/generate.py``
(train-split motions only: ``render_train_footage`` picks them from ``split-train.txt``). For each,
``footage_sequence`` runs detection once (cached as ``<name>.det.npz``) and expresses the ground
truth in the uplifter's camera frame (docs/uplifter-contract.md: x image right, y depth, z up):

    joints     (T, 22, 3) m  = R_cam (measured_joints - pelvis), pelvis: ``root_shift``
    local_rot  (T, 22, 4) wxyz, root = R_cam * G_root (others unchanged)
    offsets    (22, 3) m     = the rendered body's own rest offsets (``body_offsets``)
with R_cam the render camera's rotation (OpenCV axes re-ordered to the uplifter's). The targets are
the MakeHuman body the image shows, not the performer: retargeting keeps every bone's world rotation
but the body has its own proportions (upper arms ~6 cm longer than the hip-height-scaled performer's,
clavicles ~8 cm shorter), and those proportions are what the detector sees and what
``footage_eval`` scores against.
``FootageWindows.sample`` cuts random windows with the contract batch keys.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from ...inference.core import rotations as R
from ...inference.core import skeleton as sk
from ...inference.core.frames import UPLIFT_CAM_FROM_CV
from ...inference.core.normalize import normalize_landmarks

# OpenCV camera (x right, y down, z forward) -> uplifter camera (x right, y depth, z up)


def body_offsets(gt) -> np.ndarray:
    """(22, 3) m rest offsets of the rendered body in the canonical rest frame: each measured bone
    ``R_parent_global^T (J_child - J_parent)`` averaged over frames (global rotations from the
    ground truth's local rotations). FK of (local_rot, these offsets) reproduces the measured joints
    to < 0.01 mm because retargeting preserves bone rotations; ValueError if it does not (1 mm)."""
    q = np.asarray(gt["local_rot"], np.float64)
    j = np.asarray(gt["joints"], np.float64)
    p = np.asarray(sk.PARENTS)
    t = min(len(q), len(j))
    q, j = q[:t], j[:t]
    _, rot = R.forward_kinematics(q, np.zeros((t, 3)), np.asarray(gt["offsets"], np.float64), p)
    off = np.zeros((sk.NUM_JOINTS, 3))
    off[1:] = np.einsum("tjki,tjk->ji", rot[:, p[1:]], j[:, 1:] - j[:, p[1:]]) / t
    fk, _ = R.forward_kinematics(q, j[:, 0], off, p)
    err = float(np.linalg.norm(fk - j, axis=-1).max())
    if err > 1e-3:
        raise ValueError(f"measured joints are not a rigid skeleton of the ground-truth rotations "
                         f"(max residual {err * 1000:.1f} mm)")
    return off


def root_shift(gt, offsets: np.ndarray) -> np.ndarray:
    """(3,) m, root frame: where the canonical pelvis sits relative to the measured root of the body
    (the rig's hip bone head, a few cm off). Chosen so the mid-hip lies from the pelvis as in the
    performer's skeleton scaled by ``retarget_scale``; synthetic windows and these then agree on
    what "root-relative" means."""
    tl, tr = sk.JOINT_INDEX["thigh_l"], sk.JOINT_INDEX["thigh_r"]
    perf = np.asarray(gt["offsets"], np.float64) * float(gt["retarget_scale"])
    return (offsets[tl] + offsets[tr]) / 2.0 - (perf[tl] + perf[tr]) / 2.0


def camera_targets(gt) -> dict[str, np.ndarray]:
    """Ground-truth npz (mapping) -> joints, local_rot, offsets of the rendered body in the
    uplifter's camera frame (root-relative, metres; see the module docstring). The root is the
    measured root moved by ``root_shift`` (the root's children's offsets compensate), so FK of the
    targets still reproduces every measured joint."""
    r_cam = UPLIFT_CAM_FROM_CV @ np.asarray(gt["cam_from_world"], np.float64)[:3, :3]
    mj = np.asarray(gt["joints"], np.float64)
    q = np.asarray(gt["local_rot"], np.float64)[:len(mj)].copy()
    offsets = body_offsets(gt)
    c = root_shift(gt, offsets)
    children = [j for j in range(1, sk.NUM_JOINTS) if sk.PARENTS[j] == 0]
    offsets[children] -= c
    root = mj[:, 0] + R.quat_apply(q[:, 0], np.broadcast_to(c, (len(mj), 3)))
    joints = (mj - root[:, None]) @ r_cam.T
    joints[:, 0] = 0.0                        # joint 0 is the (shifted) pelvis itself
    q[:, 0] = R.quat_multiply(R.matrix_to_quat(r_cam)[None], q[:, 0])
    return {"joints": joints.astype(np.float32), "local_rot": R.quat_normalize(q).astype(np.float32),
            "offsets": offsets.astype(np.float32)}


def footage_sequence(video: Path) -> dict:
    """Real landmarks (T, 33, 3) + camera-frame targets of one rendered clip (detections cached)."""
    from ...inference.pipeline.detect import DEFAULT_MODEL, DetectOptions, Detections, detect_video

    video = Path(video)
    cache = video.with_suffix(".det.npz")
    if cache.is_file():
        det = Detections.load_npz(cache)
    else:
        det = detect_video(video, DetectOptions(model_path=DEFAULT_MODEL))
        det.save_npz(cache)
    gt = np.load(video.with_suffix(".npz"))
    frames = np.asarray(det.frame_indices)
    targets = {k: (v[frames] if v.ndim == 3 else v) for k, v in camera_targets(gt).items()}
    return {"name": video.stem, "landmarks": np.asarray(det.landmarks, np.float32),
            "width": int(det.width), "height": int(det.height), **targets}


MIN_DETECTED = 0.5    # clips where MediaPipe found the person in fewer frames are left out


class FootageWindows:
    """Random windows of ``window`` frames from the rendered clips of a folder (clips shorter than
    a window, unreadable, or with the person found in under MIN_DETECTED of the frames are left out)."""

    def __init__(self, folder: Path, window: int = 81):
        self.window = window
        from ...inference.pipeline.video import VideoError

        videos = sorted(p for p in Path(folder).glob("*.mp4") if p.with_suffix(".npz").is_file())
        self.sequences = []
        for video in videos:
            try:
                seq = footage_sequence(video)
            except VideoError as exc:        # e.g. a render stopped half-way: left out, said once
                print(f"footage: {video.name} left out ({exc})", file=sys.stderr, flush=True)
                continue
            found = float(np.mean(np.isfinite(seq["landmarks"][..., 0]).any(axis=-1))) if len(seq["landmarks"]) else 0.0
            if found < MIN_DETECTED:             # e.g. a person too small for MediaPipe: nothing to learn from
                print(f"footage: {video.name} left out (person found in {100 * found:.0f}% of frames)",
                      file=sys.stderr, flush=True)
            elif seq["landmarks"].shape[0] >= window:
                self.sequences.append(seq)
        if not self.sequences:
            raise ValueError(f"{folder}: no rendered clip with at least {window} frames")

    def __len__(self) -> int:
        return len(self.sequences)

    def sample(self, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """n windows: the contract keys kp2d, joints, local_rot, offsets, bone_lengths."""
        out = {k: [] for k in ("kp2d", "joints", "local_rot", "offsets", "bone_lengths")}
        w = self.window
        for i in rng.integers(0, len(self.sequences), n):
            s = self.sequences[i]
            t0 = int(rng.integers(0, s["landmarks"].shape[0] - w + 1))
            out["kp2d"].append(normalize_landmarks(s["landmarks"][t0:t0 + w], s["width"], s["height"]))
            out["joints"].append(s["joints"][t0:t0 + w])
            out["local_rot"].append(s["local_rot"][t0:t0 + w])
            out["offsets"].append(s["offsets"])
            out["bone_lengths"].append(np.linalg.norm(s["offsets"], axis=-1))
        return {k: np.stack(v).astype(np.float32) for k, v in out.items()}


def train_clip_plan(data_dir: Path, n: int, seconds: float, seed: int = 0, val_fraction: float = 0.1,
                    looks: bool = True, body_scales: tuple[float, float] | None = None) -> list[dict]:
    """n random clips (motion, start, camera) from the training part of ``split-train.txt``: the
    validation carve-out of ``motion_library.train_val_files`` (same ``val_fraction``) and ``split-test.txt`` are
    never used. Motions shorter than ``seconds`` + 1 s are skipped. ``looks``: each clip gets its own
    body shape and colours (``look_seed``, see ``dev/footage/render/looks.py``). ``body_scales`` (lo, hi):
    each clip also gets a uniform body size drawn from that range (``body_scale``; its own random
    stream, so the motions and cameras of a seed's plan do not change with it)."""
    from ..training.motion_library import load_library
    from ..training.motion_library import train_val_files

    rng = np.random.default_rng(seed)
    size_rng = np.random.default_rng([seed, 1])
    root = Path(data_dir).resolve()
    train, _val = train_val_files(Path(data_dir), val_fraction)
    test = set((data_dir / "split-test.txt").read_text().split())
    names = [m for m in (str(Path(p).resolve().relative_to(root)) for p in train) if m not in test]
    plan, tries = [], 0
    while len(plan) < n and tries < 20 * n:
        tries += 1
        name = names[int(rng.integers(len(names)))]
        motion = load_library([data_dir / name], fps=30.0)[0]
        length = motion.num_frames / 30.0
        if length < seconds + 1.0:
            continue
        plan.append({"name": f"train_s{seed}_{len(plan):03d}", "bvh": name,
                     "start_s": round(float(rng.uniform(0.0, length - seconds)), 2),
                     "yaw": round(float(rng.uniform(-180, 180))), "distance": round(float(rng.uniform(5.0, 9.5)), 1),
                     "focal_mm": round(float(rng.uniform(28, 60))), "cam_height": round(float(rng.uniform(0.9, 1.8)), 2)})
        if looks:
            plan[-1]["look_seed"] = seed * 1000 + len(plan) - 1
        if body_scales is not None:
            plan[-1]["body_scale"] = round(float(size_rng.uniform(*body_scales)), 3)
    return plan


def main(argv=None) -> int:
    """``python -m uplift_mocap.dev.footage.windows --data DIR --out DIR [--clips 40] [--seconds 4]``:
    render train-split footage for fine-tuning (reuses clips already there)."""
    from ..evaluation.footage_eval import Clip, render

    p = argparse.ArgumentParser(description=main.__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--clips", type=int, default=40)
    p.add_argument("--seconds", type=float, default=4.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--start", type=int, default=0, help="render only the plan's clips from this index on")
    p.add_argument("--stride", type=int, default=1, help="... and every STRIDE-th (parallel renderers)")
    p.add_argument("--base-body", action="store_true", help="no body-shape/colour variety")
    p.add_argument("--body-scales", type=float, nargs=2, metavar=("LO", "HI"), default=None,
                   help="uniform body size per clip from this range (e.g. 0.85 1.12; default: the base height)")
    a = p.parse_args(argv)
    plan = train_clip_plan(a.data, a.clips, a.seconds, a.seed, looks=not a.base_body,
                           body_scales=tuple(a.body_scales) if a.body_scales else None)
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / f"plan_s{a.seed}.json").write_text(json.dumps(plan, indent=1))
    mine, failed = plan[a.start::a.stride], 0
    for c in mine:
        try:
            video = render(Clip(**c), a.data, a.out, a.seconds, 30)
        except RuntimeError as exc:       # e.g. a file whose header frame rate disagrees with the library's
            failed += 1
            print(f"skipped {c['name']}: {str(exc).strip().splitlines()[-1]}", file=sys.stderr, flush=True)
            continue
        print(video, flush=True)
    return 1 if mine and failed == len(mine) else 0


if __name__ == "__main__":
    sys.exit(main())
