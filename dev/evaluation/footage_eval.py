"""``uplift-dev eval-footage``: end-to-end accuracy on rendered footage, ours vs MediaPipe's own 3D.

For each clip of ``footage_manifest.json`` (test-split motions only, checked against
``split-test.txt``): render it once with the footage generator (``dev/footage/render/generate.py``, a bpy
subprocess; reused when present), run the real pipeline on the video (``detect_video`` then
``lift_detections``, default options: the focal length is NOT given, as for a user's phone video),
and score on the frames where MediaPipe found the person:

Joints: the 12 landmarks that sit on a canonical joint (``skeleton.MP_TO_JOINT``: shoulders, elbows,
wrists, hips, knees, ankles). Everything is compared in the camera frame (OpenCV axes: x right, y down,
z forward), each skeleton centred on its own mid-hip:
- ground truth: the MakeHuman body's measured joints through the render camera (``cam_from_world``);
- ours: world joints through the pipeline's own estimated camera (``info["cam_from_world"]``);
- MediaPipe: ``world_landmarks`` (already camera-aligned, origin between the hips).
Scores: MPJPE (mm, mid-hip aligned: global orientation errors count), PA-MPJPE (mm, per-frame
similarity alignment), bone-direction error (deg, over the limb segments, hip and shoulder lines and
the torso), jitter (acceleration error, mm/frame^2) and the detection rate.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import metrics
from ...inference.core import skeleton as sk
from ...inference.core.frames import CV_FROM_UPLIFT_CAM
from ..paths import DEFAULT_DATA, FOOTAGE_DIR

MANIFEST = FOOTAGE_DIR / "footage_manifest.json"
DEFAULT_OUT = Path("outputs/footage_eval")
RENDER_MODULE = __package__.rpartition(".")[0] + ".footage.render.generate"  # run in a bpy subprocess

LANDMARKS = np.array(sorted(sk.MP_TO_JOINT))                    # (12,) MediaPipe indices
JOINTS = np.array([sk.MP_TO_JOINT[i] for i in LANDMARKS])        # (12,) canonical joint indices
_POS = {int(j): k for k, j in enumerate(JOINTS)}
_NAME = {n: _POS[sk.JOINT_INDEX[n]] for n in ("upperarm_l", "upperarm_r", "forearm_l", "forearm_r", "hand_l",
                                               "hand_r", "thigh_l", "thigh_r", "shin_l", "shin_r", "foot_l", "foot_r")}
BONES = [(_NAME[a], _NAME[b]) for a, b in (
    ("upperarm_l", "forearm_l"), ("forearm_l", "hand_l"), ("upperarm_r", "forearm_r"), ("forearm_r", "hand_r"),
    ("thigh_l", "shin_l"), ("shin_l", "foot_l"), ("thigh_r", "shin_r"), ("shin_r", "foot_r"),
    ("thigh_r", "thigh_l"), ("upperarm_r", "upperarm_l"))]
SEGMENT_NAMES = ("upper arm L", "forearm L", "upper arm R", "forearm R", "thigh L", "shin L", "thigh R", "shin R",
                 "hip line", "shoulder line", "torso")   # BONES, then mid-hip -> mid-shoulder
HIPS = [_NAME["thigh_l"], _NAME["thigh_r"]]
SHOULDERS = [_NAME["upperarm_l"], _NAME["upperarm_r"]]
SCORE_KEYS = ("mpjpe_mm", "pa_mpjpe_mm", "bone_deg", "accel_mm")

# our camera frame (x right, y depth, z up) -> OpenCV (x right, y down, z forward)


@dataclass
class Clip:
    name: str
    bvh: str
    start_s: float
    yaw: float
    distance: float
    focal_mm: float
    cam_height: float
    look_seed: int | None = None      # body shape/colours (dev/footage/render/looks.py); None: the base body
    body_scale: float = 1.0           # uniform body size (dev/footage/render/generate.py); 1: MakeHuman's base height
    camera_motion: str = "static"     # "track" / "pan": a moving camera (dev/footage/render/stage.camera_path)
    rig: str = "cmu_mb"               # MakeHuman rig the body is skinned to (fingers: "default", "game_engine")
    width: int = 640
    height: int = 480
    target_height: float = 0.9        # camera aim height, m
    finger_seed: int | None = None    # moving fingers (dev/footage/finger_poses.py); None: rest hands
    textured: bool = False            # coloured tiles on the floor (features for the camera cue)


def load_manifest(path: Path = MANIFEST) -> tuple[list[Clip], dict]:
    data = json.loads(Path(path).read_text())
    return [Clip(**c) for c in data["clips"]], data


def check_test_split(clips: list[Clip], data_dir: Path, split: str = "test") -> None:
    """Every clip's motion must be in ``split-test.txt`` (split "test") or in the validation carve-out
    of ``split-train.txt`` that training never sees (split "val", ``motion_library.train_val_files``); ValueError
    otherwise."""
    if split == "test":
        allowed = {ln.strip() for ln in (data_dir / "split-test.txt").read_text().splitlines() if ln.strip()}
        where = str(data_dir / "split-test.txt")
    elif split == "val":
        from ..training.motion_library import train_val_files

        root = Path(data_dir).resolve()
        allowed = {str(Path(p).resolve().relative_to(root)) for p in train_val_files(Path(data_dir))[1]}
        where = "the validation carve-out of split-train.txt"
    else:
        raise ValueError(f"unknown split {split!r} (test or val)")
    bad = [c.bvh for c in clips if c.bvh not in allowed]
    if bad:
        raise ValueError(f"not in {where}: {bad}")


def _readable(video: Path) -> bool:
    from ...inference.pipeline.video import VideoError, probe

    try:
        return probe(video).frame_count > 0
    except VideoError:
        return False


def render(clip: Clip, data_dir: Path, out_dir: Path, seconds: float, fps: int, force: bool = False) -> Path:
    """Render ``clip`` to ``out_dir/<name>.mp4`` (+ .npz ground truth) unless it is there (and readable: a render
    that was stopped half-way is rendered again)."""
    video = out_dir / f"{clip.name}.mp4"
    if video.is_file() and video.with_suffix(".npz").is_file() and not force and _readable(video):
        return video
    out_dir.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", RENDER_MODULE, str(data_dir / clip.bvh), "--out", str(video),
           "--start-s", str(clip.start_s), "--seconds", str(seconds), "--fps", str(fps), "--yaw", str(clip.yaw),
           "--distance", str(clip.distance), "--focal-mm", str(clip.focal_mm), "--cam-height", str(clip.cam_height)]
    if clip.look_seed is not None:
        cmd += ["--look-seed", str(clip.look_seed)]
    if clip.body_scale != 1.0:
        cmd += ["--body-scale", str(clip.body_scale)]
    if clip.camera_motion != "static":
        cmd += ["--camera-motion", clip.camera_motion]
    if (clip.rig, clip.width, clip.height, clip.target_height) != ("cmu_mb", 640, 480, 0.9):
        cmd += ["--rig", clip.rig, "--width", str(clip.width), "--height", str(clip.height),
                "--target-height", str(clip.target_height)]
    if clip.finger_seed is not None:
        cmd += ["--finger-seed", str(clip.finger_seed)]
    if clip.textured:
        cmd += ["--textured"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"rendering {clip.name} failed:\n{proc.stderr[-2000:]}")
    return video


# --- scoring (pure numpy) -------------------------------------------------------------------------
def centred(x: np.ndarray) -> np.ndarray:
    """(T, 12, 3) -> the same relative to the mid-hip."""
    return x - x[:, HIPS].mean(axis=1, keepdims=True)


def segment_directions(x: np.ndarray) -> np.ndarray:
    """(T, 12, 3) -> (T, B+1, 3) unit directions of the segments of ``SEGMENT_NAMES`` (the limb
    segments and hip/shoulder lines of ``BONES``, then mid-hip -> mid-shoulder)."""
    v = [x[:, b] - x[:, a] for a, b in BONES]
    v.append(x[:, SHOULDERS].mean(1) - x[:, HIPS].mean(1))
    v = np.stack(v, axis=1)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def angles_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(..., 3) unit vectors x2 -> (...) angles between them, degrees."""
    return np.degrees(np.arccos(np.clip(np.sum(a * b, axis=-1), -1.0, 1.0)))


def bone_angles_deg(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """(T, 12, 3) x2 -> (T, B+1) angles between predicted and true segment directions (degrees)."""
    return angles_deg(segment_directions(pred), segment_directions(gt))


def score(pred: np.ndarray, gt: np.ndarray) -> dict[str, float]:
    """(T, 12, 3) metres in one camera frame (any origin) -> SCORE_KEYS."""
    p, g = centred(np.asarray(pred, np.float64)), centred(np.asarray(gt, np.float64))
    return {"mpjpe_mm": metrics.mpjpe(p, g, root=None), "pa_mpjpe_mm": metrics.pa_mpjpe(p, g),
            "bone_deg": float(bone_angles_deg(p, g).mean()), "accel_mm": metrics.accel_error(p, g, root=None)}


def camera_points(world: np.ndarray, cam_from_world: np.ndarray) -> np.ndarray:
    """(..., 3) world points -> the camera frame of a (3, 3) or (4, 4) cam_from_world."""
    m = np.asarray(cam_from_world, np.float64)
    out = world @ m[:3, :3].T
    return out + m[:3, 3] if m.shape == (4, 4) else out


def clip_joints(video: Path, uplifter=None, options=None) -> dict:
    """Run the pipeline on one rendered clip (``options``: ``ConvertOptions``, default ones if None).
    Returns "gt", "ours", "mediapipe": (N, 12, 3) metres, OpenCV camera axes, on the N frames where
    MediaPipe found the person; "gt_px", "mp_px": (N, 12, 2) pixels (x right, y down), the true joints
    projected and MediaPipe's 2D landmarks; "frames" (all frames), "detected" (fraction), "seconds"
    (pipeline), "tilt_deg" (the angle between the world's up that the pipeline found and the true one, both in
    the camera's axes: how far the Action's floor leans)."""
    from ...inference.pipeline.detect import DetectOptions, detect_video
    from ...inference.pipeline.run import DEFAULT_TASK_PATH, ConvertOptions, lift_detections

    gt = np.load(video.with_suffix(".npz"))
    t0 = time.perf_counter()
    det = detect_video(video, DetectOptions(model_path=DEFAULT_TASK_PATH))
    clip = lift_detections(det, options or ConvertOptions(), uplifter=uplifter)
    seconds = time.perf_counter() - t0
    frames = np.asarray(det.frame_indices)
    ok = np.asarray(det.detected, bool) & (frames < gt["joints"].shape[0])
    gt_cam = camera_points(gt["joints"][frames[ok]][:, JOINTS], gt["cam_from_world"])
    ours_cam = camera_points(clip.joints[ok][:, JOINTS], np.asarray(clip.info["cam_from_world"]))
    mp_px = np.asarray(det.landmarks, np.float64)[ok][:, LANDMARKS, :2] * [det.width, det.height]
    true_up = np.asarray(gt["cam_from_world"], np.float64)[:3, :3] @ [0.0, 0.0, 1.0]
    our_up = CV_FROM_UPLIFT_CAM @ (np.asarray(clip.info["cam_from_world"], np.float64) @ [0.0, 0.0, 1.0])
    return {"tilt_deg": float(np.degrees(np.arccos(np.clip(true_up @ our_up, -1.0, 1.0)))),"gt": gt_cam, "ours": ours_cam @ CV_FROM_UPLIFT_CAM.T, "mediapipe": np.asarray(det.world_landmarks)[ok][:, LANDMARKS],
            "gt_px": gt["joints_px"][frames[ok]][:, JOINTS, :2], "mp_px": mp_px,
            "frames": int(len(frames)), "detected": float(ok.mean()), "seconds": seconds}


def evaluate_clip(video: Path, uplifter=None, options=None) -> dict:
    """Run the pipeline on one rendered clip and score ours and MediaPipe's world landmarks."""
    j = clip_joints(video, uplifter, options)
    return {"frames": j["frames"], "detected": j["detected"], "seconds": j["seconds"], "tilt_deg": j["tilt_deg"],
            "ours": score(j["ours"], j["gt"]), "mediapipe": score(j["mediapipe"], j["gt"])}


def summarise(results: dict[str, dict]) -> dict:
    """Frame-weighted means over clips for ours and MediaPipe, and our improvement in %."""
    w = np.array([r["frames"] * r["detected"] for r in results.values()])
    out = {}
    for who in ("ours", "mediapipe"):
        out[who] = {k: float(np.average([r[who][k] for r in results.values()], weights=w)) for k in SCORE_KEYS}
    out["detected"] = float(np.average([r["detected"] for r in results.values()], weights=[r["frames"] for r in results.values()]))
    out["tilt_deg"] = float(np.mean([r["tilt_deg"] for r in results.values()]))
    out["mpjpe_reduction_pct"] = 100.0 * (1.0 - out["ours"]["mpjpe_mm"] / out["mediapipe"]["mpjpe_mm"])
    return out


def table(results: dict[str, dict], summary: dict) -> list[str]:
    head = ("| clip | frames | detected | MPJPE ours / MP (mm) | PA-MPJPE ours / MP (mm) | bone ours / MP (deg) "
            "| jitter ours / MP (mm/f²) | floor tilt (deg) |")
    lines = [head, "|" + "---|" * 8]

    def row(name, r, frames):
        o, m = r["ours"], r["mediapipe"]
        return (f"| {name} | {frames} | {100 * r['detected']:.0f}% | {o['mpjpe_mm']:.1f} / {m['mpjpe_mm']:.1f} | "
                f"{o['pa_mpjpe_mm']:.1f} / {m['pa_mpjpe_mm']:.1f} | {o['bone_deg']:.1f} / {m['bone_deg']:.1f} | "
                f"{o['accel_mm']:.1f} / {m['accel_mm']:.1f} | {r['tilt_deg']:.1f} |")
    lines += [row(n, r, r["frames"]) for n, r in results.items()]
    lines.append(row("**all**", summary, sum(r["frames"] for r in results.values())))
    return lines


def last_line(summary: dict) -> str:
    o, m = summary["ours"], summary["mediapipe"]
    return (f"OURS_MPJPE_mm={o['mpjpe_mm']:.1f} MPWORLD_MPJPE_mm={m['mpjpe_mm']:.1f} "
            f"OURS_BONE_DEG={o['bone_deg']:.2f} MPWORLD_BONE_DEG={m['bone_deg']:.2f}")


def plot(results: dict[str, dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    x = np.arange(len(names))
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    for ax, key, label in ((axes[0], "mpjpe_mm", "MPJPE (mm, mid-hip aligned)"), (axes[1], "bone_deg", "bone direction error (deg)")):
        ax.bar(x - 0.2, [results[n]["ours"][key] for n in names], 0.4, label="Uplift (ours)")
        ax.bar(x + 0.2, [results[n]["mediapipe"][key] for n in names], 0.4, label="MediaPipe world landmarks")
        ax.set_xticks(x, names, rotation=35, ha="right")
        ax.set_title(label)
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def run(data_dir: Path = DEFAULT_DATA, out_dir: Path = DEFAULT_OUT, manifest: Path = MANIFEST,
        regenerate: bool = False, only: list[str] | None = None, json_out: Path | None = None,
        plot_out: Path | None = None, model_path: Path | None = None, out=sys.stdout) -> int:
    clips, meta = load_manifest(manifest)
    if only:
        clips = [c for c in clips if c.name in only]
    if not (data_dir / "split-test.txt").is_file():
        print(f"error: {data_dir} has no split-test.txt (the staged mocap is needed to render the clips)", file=sys.stderr)
        return 3
    check_test_split(clips, data_dir, meta.get("split", "test"))
    from ...inference.pipeline.run import get_uplifter

    uplifter = get_uplifter(model_path)
    print(f"model {uplifter.model_path} (version {uplifter.model_version})", file=out, flush=True)
    results = {}
    for clip in clips:
        t0 = time.perf_counter()
        video = render(clip, data_dir, out_dir, float(meta["seconds"]), int(meta["fps"]), force=regenerate)
        t_render = time.perf_counter() - t0
        results[clip.name] = evaluate_clip(video, uplifter)
        r = results[clip.name]
        print(f"{clip.name:<14} frames {r['frames']:>4} detected {100 * r['detected']:5.1f}%  ours MPJPE "
              f"{r['ours']['mpjpe_mm']:6.1f} mm bone {r['ours']['bone_deg']:5.1f} deg | MediaPipe MPJPE "
              f"{r['mediapipe']['mpjpe_mm']:6.1f} mm bone {r['mediapipe']['bone_deg']:5.1f} deg "
              f"(render {t_render:.0f} s, pipeline {r['seconds']:.1f} s)", file=out, flush=True)
    summary = summarise(results)
    print("\n".join(table(results, summary)), file=out)
    print(f"MPJPE reduction vs MediaPipe world landmarks: {summary['mpjpe_reduction_pct']:.1f}%", file=out)
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps({"clips": results, "summary": summary}, indent=1))
    if plot_out:
        plot(results, plot_out)
    print(last_line(summary), file=out)
    return 0


__all__ = ["MANIFEST", "LANDMARKS", "JOINTS", "BONES", "SEGMENT_NAMES", "load_manifest", "check_test_split", "render",
           "score", "segment_directions", "angles_deg", "bone_angles_deg", "camera_points", "clip_joints", "evaluate_clip",
           "summarise", "table", "last_line", "run"]
