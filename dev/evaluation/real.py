"""Real-footage validation: the pipeline on ``../shared/real`` (4 calibrated cameras, 2 people, triangulated
reference), scored with that folder's own ``score.py``.

Per camera it scores person A (the man on the force plate) four ways:

* ``pipeline``: the full pipeline as a user runs it (``convert_video`` on the camera's video); also reports
  which person it tracked (``score.py``'s auto choice: the lower PA-MPJPE) and its left/right flip rate;
* ``pipeline_a``: the same, told to follow A as a user would pick him from ``--list-people`` (the listed
  person whose 2D lies closest to A's guided detections);
* ``mp_world``: MediaPipe's own world landmarks of A (``mp_world_camXX.npz``, the guided detections,
  MediaPipe's own left/right labels) on the same frames;
* ``guided``: our lift (``lift_detections``) of A's guided 2D (``A_uv_guided``: MediaPipe's detections of him,
  relabelled where it swapped his sides, so lifted without our own swap repair): the lifting error on real
  2D of the right person;
* ``consistent``: our lift of the reference re-projected into the camera: the lifting error without any
  2D error.

Validation only (model selection, never training). Numbers: ``uplift-dev eval-real``; the last line is
``REAL_MPJPE_mm= REAL_BONE_DEG= MPWORLD_MPJPE_mm= MPWORLD_BONE_DEG= CONSISTENT2D_MPJPE_mm= FLIP_PCT=``
(means over the cameras: ``guided``, ``mp_world``, ``consistent``, and the flip rate of ``pipeline_a``).
"""
from __future__ import annotations

import importlib.util
import json
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ...inference.core import skeleton as sk
from ..paths import SHARED

DEFAULT_REAL = SHARED / "real"
PERSON = "A"
SOURCES = ("pipeline", "pipeline_a", "mp_world", "guided", "consistent")
SEGMENTS = ("upper_arm", "forearm", "thigh", "shin", "torso")


@dataclass
class RealScore:
    """One camera, one source: score.py's metrics for person A (mm, degrees, % of frames)."""
    cam: str
    source: str
    frames: int
    mpjpe_mm: float
    pa_mpjpe_mm: float
    bone_deg: float
    lr_flip_pct: float
    segments_deg: dict = field(default_factory=dict)
    tracked: str = PERSON            # pipeline: the person score.py's auto choice matched
    frames_fit_a: str = ""           # pipeline: "n/m" frames closer to A than to B


def load_scorer(real_dir: Path):
    """``score.py`` of the real folder as a module (it imports its sibling ``joints.py``)."""
    path = Path(real_dir) / "score.py"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: is {real_dir} the real-footage folder (../shared/real)?")
    spec = importlib.util.spec_from_file_location("real_score", path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(real_dir))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(real_dir))
    return module


def _row(scorer, ref, cam, source, names, joints, fps) -> RealScore | None:
    r = scorer.score_prediction(ref, cam, names, joints, fps)
    if r["skipped"]:
        return None
    return RealScore(cam, source, int(r["frames"]), float(r["mpjpe"]), float(r["pampjpe"]), float(r["angle"]),
                     float(r["lr_flip"]), {k: float(v) for k, v in r["angles"].items()})


def _detections_from_uv(uv: np.ndarray, vis: np.ndarray, width: int, height: int, fps: float, source: str):
    """(T, 33, 2) pixels + (T, 33) visibility -> ``Detections`` (NaN rows = no person that frame)."""
    from ...inference.pipeline.detect import Detections

    t = len(uv)
    lm = np.zeros((t, sk.NUM_LANDMARKS, 3), np.float32)
    lm[..., 0] = uv[..., 0] / width
    lm[..., 1] = uv[..., 1] / height
    lm[..., 2] = np.nan_to_num(vis, nan=0.0)
    seen = np.isfinite(uv).all(-1)
    lm[~seen] = np.nan
    lm[~seen, 2] = 0.0
    present = seen.mean(-1) > 0.5
    lm[~present] = np.nan
    lm[~present, :, 2] = 0.0
    return Detections(times_s=np.arange(t) / fps, frame_indices=np.arange(t, dtype=np.int64),
                      landmarks=lm, presence=present.astype(np.float32),
                      world_landmarks=np.full((t, sk.NUM_LANDMARKS, 3), np.nan, np.float32),
                      num_people=present.astype(np.int16), width=width, height=height, fps=fps, source=source)


def _clip_joints(clip) -> np.ndarray:
    """(T, 22, 3) world joint positions of a MotionClip (NaN where not keyed)."""
    joints = np.array(clip.joints, np.float64)
    joints[~np.asarray(clip.keyed, bool)] = np.nan
    return joints


def consistent_uv(real_dir: Path, cam_index: int, frames: int) -> np.ndarray:
    """(frames, 33, 2) pixels: A's triangulated landmarks projected into camera ``cam_index`` at its own frame
    times (reference time = frame - offset, linearly interpolated); NaN where the reference has none."""
    spec = importlib.util.spec_from_file_location("real_calib", Path(real_dir) / "calib.py")
    calib = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(calib)
    ref = np.load(Path(real_dir) / "reference.npz")
    x33 = ref[f"{PERSON}_X33"]
    times = np.arange(frames) - float(ref["offsets"][cam_index])
    out = np.full((frames, sk.NUM_LANDMARKS, 2), np.nan)
    ok = (times >= 0) & (times <= len(x33) - 1)
    i0 = np.clip(np.floor(times[ok]).astype(int), 0, len(x33) - 2)
    f = (times[ok] - i0)[:, None, None]
    pts = x33[i0] * (1 - f) + x33[i0 + 1] * f
    out[ok] = calib.load_qca()[cam_index].project(pts)
    return out


def evaluate_camera(real_dir: Path, cam: str, scorer, refs, model_path=None, sources=SOURCES,
                    repair_swaps: bool = True, log=print) -> list[RealScore]:
    from ...inference.pipeline.run import ConvertOptions, convert_video, lift_detections
    from ...inference.pipeline.video import probe

    real_dir = Path(real_dir)
    cams = [str(c) for c in np.load(real_dir / "reference.npz")["cams"]]
    k = cams.index(cam)
    video = real_dir / "videos" / f"{cam}.mp4"
    info = probe(video)
    mp = np.load(real_dir / f"mp_world_{cam}.npz")
    fps = float(mp["fps"])
    names = list(sk.JOINT_NAMES)
    options = ConvertOptions(model_path=model_path, repair_swaps=repair_swaps)
    rows: list[RealScore] = []
    for source in ("pipeline", "pipeline_a"):
        if source not in sources:
            continue
        opts = options
        if source == "pipeline_a":
            opts = replace(options, person=person_closest_to(video, mp[f"{PERSON}_uv_guided"], info))
            log(f"  {cam}: A is person {opts.person} of the listed people")
        clip = convert_video(video, opts)
        joints = _clip_joints(clip)
        both = {p: _row(scorer, refs[p], cam, source, names, joints, clip.fps) for p in "AB"}
        a = both["A"]
        if a is not None:
            if both["B"] is not None and both["B"].pa_mpjpe_mm < a.pa_mpjpe_mm:
                a.tracked = "B"
            rb = scorer.score_prediction(refs["B"], cam, names, joints, clip.fps)
            ra = scorer.score_prediction(refs["A"], cam, names, joints, clip.fps)
            if not rb["skipped"]:
                ea = scorer.per_frame_pa(ra["Jc"] - ra["Jc"][:, :1], ra["G"] - ra["G"][:, :1])
                eb = scorer.per_frame_pa(rb["Jc"] - rb["Jc"][:, :1], rb["G"] - rb["G"][:, :1])
                ok = np.isfinite(ea) & np.isfinite(eb)
                a.frames_fit_a = f"{int((ea[ok] < eb[ok]).sum())}/{int(ok.sum())}"
            rows.append(a)
    if "mp_world" in sources:
        row = _row(scorer, refs[PERSON], cam, "mp_world", [str(n) for n in mp["names"]],
                   mp[f"{PERSON}_world_guided"], fps)
        rows.append(row) if row is not None else None
    lifts = {"guided": (mp[f"{PERSON}_uv_guided"], mp[f"{PERSON}_vis_guided"])}
    if "consistent" in sources:
        uv = consistent_uv(real_dir, k, len(mp[f"{PERSON}_uv_guided"]))
        lifts["consistent"] = (uv, np.where(np.isfinite(uv).all(-1), 1.0, 0.0))
    for source, (uv, vis) in lifts.items():
        if source not in sources:
            continue
        det = _detections_from_uv(np.asarray(uv, np.float64), np.asarray(vis, np.float64), info.width, info.height,
                                  fps, f"{cam} {source}")
        clip = lift_detections(det, replace(options, repair_swaps=False))   # labels already right
        row = _row(scorer, refs[PERSON], cam, source, names, _clip_joints(clip), clip.fps)
        rows.append(row) if row is not None else None
    for r in rows:
        log(f"  {cam} {r.source:<10} {r.frames:4d} frames  MPJPE {r.mpjpe_mm:6.1f}  PA {r.pa_mpjpe_mm:6.1f} mm  "
            f"bones {r.bone_deg:5.1f} deg  flips {r.lr_flip_pct:5.1f}%"
            + (f"  tracked {r.tracked} ({r.frames_fit_a} frames closer to A)" if r.source.startswith("pipeline") else ""))
    return rows


def person_closest_to(video: Path, uv: np.ndarray, info) -> int:
    """The number (``--person``) of the listed person whose 2D landmarks lie closest to ``uv`` (T, 33, 2) px."""
    from ...inference.pipeline.detect import detect_people

    tracks, _times = detect_people(video)
    size = np.array([info.width, info.height], np.float64)
    dist = []
    for tr in tracks:
        n = min(len(tr.landmarks), len(uv))
        d = np.linalg.norm(tr.landmarks[:n, :, :2] * size - uv[:n], axis=-1)
        dist.append(float(np.nanmedian(d)) if np.isfinite(d).any() else np.inf)
    return int(np.argmin(dist))


def summary(rows: list[RealScore]) -> dict[str, float]:
    """Means over the cameras of each source's MPJPE / bone error, and the pipeline's flip rate."""
    def mean(source, key):
        vals = [getattr(r, key) for r in rows if r.source == source]
        return float(np.mean(vals)) if vals else float("nan")
    return {"REAL_MPJPE_mm": mean("guided", "mpjpe_mm"), "REAL_BONE_DEG": mean("guided", "bone_deg"),
            "MPWORLD_MPJPE_mm": mean("mp_world", "mpjpe_mm"), "MPWORLD_BONE_DEG": mean("mp_world", "bone_deg"),
            "CONSISTENT2D_MPJPE_mm": mean("consistent", "mpjpe_mm"), "FLIP_PCT": mean("pipeline_a", "lr_flip_pct"),
            "PIPELINE_A_MPJPE_mm": mean("pipeline_a", "mpjpe_mm"), "PIPELINE_MPJPE_mm": mean("pipeline", "mpjpe_mm")}


def format_table(rows: list[RealScore]) -> str:
    """Markdown table: one line per camera and source, MPJPE / PA-MPJPE / bones / per segment / flips."""
    head = ("| cam | source | frames | MPJPE mm | PA-MPJPE mm | bones deg | "
            + " | ".join(SEGMENTS) + " | L/R flips % |")
    lines = [head, "|" + "---|" * (7 + len(SEGMENTS))]
    for r in rows:
        seg = " | ".join(f"{r.segments_deg.get(s, float('nan')):.1f}" for s in SEGMENTS)
        lines.append(f"| {r.cam} | {r.source}{' (tracked ' + r.tracked + ')' if r.source.startswith('pipeline') else ''} | "
                     f"{r.frames} | {r.mpjpe_mm:.1f} | {r.pa_mpjpe_mm:.1f} | {r.bone_deg:.1f} | {seg} | "
                     f"{r.lr_flip_pct:.1f} |")
    return "\n".join(lines)


def plot(rows: list[RealScore], path: Path) -> None:
    """PNG: MPJPE per camera and bone-direction error per segment (mean over the cameras), one bar per source."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sources = list(dict.fromkeys(r.source for r in rows))
    cams = sorted({r.cam for r in rows})
    width = 0.8 / max(len(sources), 1)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    for k, source in enumerate(sources):
        mine = {r.cam: r for r in rows if r.source == source}
        shift = (k - (len(sources) - 1) / 2) * width
        axes[0].bar(np.arange(len(cams)) + shift, [mine[c].mpjpe_mm if c in mine else np.nan for c in cams],
                    width, label=source)
        axes[1].bar(np.arange(len(SEGMENTS)) + shift,
                    [np.mean([r.segments_deg.get(s, np.nan) for r in mine.values()]) for s in SEGMENTS], width)
    axes[0].set_xticks(np.arange(len(cams)), cams)
    axes[0].set_title("person A: MPJPE (mm) per camera")
    axes[1].set_xticks(np.arange(len(SEGMENTS)), SEGMENTS)
    axes[1].set_title("bone direction error (deg), mean over the cameras")
    for ax in axes:
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def run(real_dir: Path = DEFAULT_REAL, cams: list[str] | None = None, model_path: Path | None = None,
        sources=SOURCES, json_out: Path | None = None, repair_swaps: bool = True, plot_out: Path | None = None) -> int:
    real_dir = Path(real_dir)
    try:
        scorer = load_scorer(real_dir)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    refs = {p: scorer.load_reference(str(real_dir / "reference.npz"), p) for p in "AB"}
    all_cams = sorted(refs["A"]["offsets"])
    cams = cams or all_cams
    unknown = [c for c in cams if c not in all_cams]
    if unknown:
        print(f"error: unknown camera {', '.join(unknown)} (known: {', '.join(all_cams)})", file=sys.stderr)
        return 2
    rows: list[RealScore] = []
    for cam in cams:
        rows += evaluate_camera(real_dir, cam, scorer, refs, model_path, sources, repair_swaps)
    print(format_table(rows))
    s = summary(rows)
    if json_out:
        Path(json_out).write_text(json.dumps({"rows": [r.__dict__ for r in rows], "summary": s}, indent=1))
    if plot_out:
        plot(rows, plot_out)
    print(" ".join(f"{k}={v:.1f}" for k, v in s.items() if not k.startswith("PIPELINE")))
    return 0
