"""``uplift-dev bench``: speed and accuracy of the pipeline stages on one clip, measured in one run.

    uplift-dev bench [--model PATH] [--frames N] [--ik-frames N] [--data DIR | --sample] [--noisy]

The clip: the longest validation motion of ``DIR`` (default ../shared/data; the carve-out of
split-train.txt that ``dev.training.train`` uses; any other BVH folder: its first file) when that exists, else the bundled
``inference/samples/cmu_02_01_walk.bvh.gz``; resampled to 30 fps, played forwards and backwards
until it has N frames, and rendered by ``dev.training.synth`` under one random body and static camera
(clean 2D landmarks unless --noisy). Ground truth: camera-frame root-relative joints and local
rotations of that render.

Output: ``key=value`` lines, one per measurement, grouped in sections; lines starting with "#"
are context. Sections register with ``@bench_section`` and run in registration order, reading and
adding to ``BenchContext.results``; later stages (detection, keying) append their own sections.
"video pipeline" times ``detect_video`` alone against the whole ``convert_video`` on a real video
(--video, default the rendered sample ``inference/samples/sample_walk.mp4``, else the test fixture
``person_walk.mp4``): detect_ms_per_frame, lift_share_of_detection ((load wait + gaps + uplift + world +
smoothing) / detection) and pipeline_vs_detection (whole convert / detection alone). More sections (keying,
parallel detection, many clips, hands) live in ``bench_sections``, which ``uplift-dev bench`` imports.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .metrics import mpjae, mpjpe
from ..training import motion_library as ml
from ..paths import DEFAULT_DATA, SAMPLE_BVH

SAMPLE = SAMPLE_BVH
FPS = 30.0


@dataclass
class BenchClip:
    """One rendered clip. landmarks (T, 33, 3) raw [x_norm, y_norm, vis]; image_size (W, H) px;
    joints (T, 22, 3) metres, camera frame, root-relative; local_rot (T, 22, 4) wxyz (root in the
    camera frame); offsets (22, 3) metres of the rendered body."""
    name: str
    landmarks: np.ndarray
    image_size: tuple[float, float]
    joints: np.ndarray
    local_rot: np.ndarray
    offsets: np.ndarray
    fps: float = FPS

    @property
    def num_frames(self) -> int:
        return int(self.joints.shape[0])


@dataclass
class BenchOptions:
    model: Path | None = None      # ONNX model (default: the packaged models/uplifter.onnx)
    frames: int = 3000             # frames of the clip for the uplifter timing
    ik_frames: int = 60            # leading frames solved by IK (its per-frame rate is reported)
    repeats: int = 3               # timed uplifter runs after one warm-up; the fastest counts
    data: Path | None = None       # mocap folder for the clip; None: ../shared/data if present
    sample: bool = False           # force the bundled sample clip
    noisy: bool = False            # MediaPipe-like noise on the 2D landmarks
    seed: int = 0
    threads: int = 0               # ONNX Runtime intra-op threads (0 = its default)
    video: Path | None = None      # video for the pipeline section (default: sample_video())
    video_repeats: int = 2         # alternating detection-only / full-convert runs; the fastest of each counts
    sections: tuple[str, ...] = () # run only the sections whose name contains one of these (default: all)


@dataclass
class BenchContext:
    options: BenchOptions
    clip: BenchClip
    results: dict[str, float | int | str] = field(default_factory=dict)


Section = Callable[[BenchContext], dict]
SECTIONS: list[tuple[str, Section]] = []


def bench_section(name: str):
    """Decorator: register ``fn(ctx) -> {key: value}`` as a bench section; its items are printed
    as ``key=value`` lines (in order) and stored in ``ctx.results``."""
    def add(fn: Section) -> Section:
        SECTIONS.append((name, fn))
        return fn
    return add


# --- the clip ---------------------------------------------------------------------------------------
def _ping_pong(n: int, frames: int) -> np.ndarray:
    """Frame indices 0..n-1, n-2..1, 0.. of length ``frames`` (continuous motion)."""
    if n < 2:
        return np.zeros(frames, dtype=np.int64)
    cycle = np.concatenate([np.arange(n), np.arange(n - 2, 0, -1)])
    return cycle[np.arange(frames) % len(cycle)]


def _load_motion(data: Path | None, sample: bool) -> ml.Motion:
    if not sample:
        data = DEFAULT_DATA if data is None else Path(data)
        if (data / "split-train.txt").is_file():
            from .evaluate import split_files
            val = split_files(data, "val")
            if val:
                return max(ml.load_library(val, fps=FPS), key=lambda m: m.num_frames)
        elif data.is_dir():
            paths = ml.discover(data)
            if paths:
                return ml.load_library(paths[:1], fps=FPS)[0]
    from ...inference.mocap.convert import load_canonical
    m = load_canonical(SAMPLE)
    rot, root = ml.resample(m.local_rot, m.root_translation, m.fps, FPS)
    return ml.Motion(rot, root, m.offsets.astype(np.float32), str(SAMPLE), FPS, m.fps, m.num_frames)


def make_clip(frames: int, data: Path | None = None, sample: bool = False, noisy: bool = False,
              seed: int = 0) -> BenchClip:
    """The benchmark clip (see module docstring), ``frames`` long."""
    from ..training.synth import Synthesizer

    motion = _load_motion(data, sample)
    idx = _ping_pong(motion.num_frames, int(frames))
    long = ml.Motion(motion.local_rot[idx], motion.root[idx], motion.offsets, motion.name, FPS)
    out = Synthesizer([long]).sequence(0, seed, noisy)
    size = out["image_size"][0]
    return BenchClip("/".join(Path(motion.name).parts[-3:]), out["landmarks"][0], (float(size[0]), float(size[1])),
                     out["joints"][0], out["local_rot"][0], out["offsets"][0])


# --- sections ---------------------------------------------------------------------------------------
def time_uplift(uplifter, clip: BenchClip, repeats: int = 3) -> tuple[float, object]:
    """Seconds of the fastest of ``repeats`` full lifts (normalisation + windowed ONNX inference)
    after one warm-up, and the last result."""
    from ...inference.core.normalize import normalize_landmarks

    def lift():
        return uplifter.lift(normalize_landmarks(clip.landmarks, *clip.image_size))

    res = lift()
    best = float("inf")
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        res = lift()
        best = min(best, time.perf_counter() - t0)
    return best, res


@bench_section("uplift vs IK")
def uplift_vs_ik(ctx: BenchContext) -> dict:
    """Uplifter (ONNX Runtime CPU, batched windows) and per-frame L-BFGS IK on the same clip."""
    from ...inference.pipeline.uplifter import Uplifter
    from .ik_baseline import solve_ik

    opt, clip = ctx.options, ctx.clip
    up = Uplifter(opt.model, providers=["CPUExecutionProvider"], threads=opt.threads)
    seconds, res = time_uplift(up, clip, opt.repeats)
    n_ik = max(1, min(int(opt.ik_frames), clip.num_frames))
    ik = solve_ik(clip.joints[:n_ik], clip.offsets)
    uplift_fps = clip.num_frames / seconds
    return {
        "uplift_fps": uplift_fps,
        "ik_fps": ik.fps,
        "uplift_vs_ik_ratio": uplift_fps / ik.fps,
        "uplift_mpjae_deg": mpjae(res.rotations, clip.local_rot),
        "ik_mpjae_deg": mpjae(ik.rotations, clip.local_rot[:n_ik]),
        "uplift_mpjae_ik_frames_deg": mpjae(res.rotations[:n_ik], clip.local_rot[:n_ik]),
        "uplift_mpjpe_mm": mpjpe(res.joints, clip.joints),
        "uplift_frames": clip.num_frames,
        "ik_frames": n_ik,
        "ik_iters_per_frame": float(ik.iterations[1:].mean()) if n_ik > 1 else float(ik.iterations[0]),
        "ik_residual_mm": float(ik.residual_mm.mean()),
        "uplift_model": str(up.model_path),
    }


def _time_video(path: Path, opts, repeats: int):
    """(fastest detect_video s, fastest convert_video s, their Detections and MotionClip)."""
    from ...inference.pipeline.detect import DetectOptions, detect_video
    from ...inference.pipeline.run import _cached_uplifter, convert_video

    det_s = conv_s = float("inf")
    det = clip = None
    detect_video(path, DetectOptions(stride=10_000))  # warm-up (file cache, MediaPipe's first graph)
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        d = detect_video(path)
        if time.perf_counter() - t0 < det_s:
            det_s, det = time.perf_counter() - t0, d
        _cached_uplifter.cache_clear()
        t0 = time.perf_counter()
        c = convert_video(path, opts)
        if time.perf_counter() - t0 < conv_s:
            conv_s, clip = time.perf_counter() - t0, c
    return det_s, conv_s, det, clip


@bench_section("video pipeline")
def video_pipeline(ctx: BenchContext) -> dict:
    """Detection alone (``detect_video``: decoding + MediaPipe) against the whole ``convert_video``
    (model load, detection, gaps, uplift, world, smoothing) on one video, alternated
    ``video_repeats`` times after a one-frame warm-up; the fastest run of each counts. The uplifter
    is reloaded for every convert (in the background during detection, as ``convert_video`` does),
    so what its loading adds is part of the pipeline's cost."""
    from ...cli.demo import sample_video
    from ...inference.pipeline.run import ConvertOptions, PipelineError
    from ...inference.pipeline.video import VideoError

    path = Path(ctx.options.video) if ctx.options.video else sample_video()
    if path is None or not path.is_file():
        return {"video": f"none ({path} missing)" if path else "none"}
    opts = ConvertOptions(model_path=ctx.options.model, provider="CPUExecutionProvider")
    try:
        det_s, conv_s, det, clip = _time_video(path, opts, ctx.options.video_repeats)
    except (VideoError, PipelineError) as err:
        return {"video": str(path), "video_error": str(err)}
    n = len(det.times_s)
    post = {k: clip.timings.get(k, 0.0) for k in ("load", "gaps", "lift", "world", "smooth")}
    return {
        "video": str(path),
        "video_frames": n,
        "detect_ms_per_frame": 1000 * det_s / n,
        "mediapipe_ms_per_frame": 1000 * det.detect_s / n,
        "lift_share_of_detection": sum(post.values()) / det_s,
        "pipeline_vs_detection": conv_s / det_s,
        **{f"convert_{k}_ms": 1000 * v for k, v in post.items()},
        "convert_read_detect_ms": 1000 * (clip.timings["read"] + clip.timings["detect"]),
        # the same ratio inside one convert run (free of run-to-run noise): total / its own read + detect
        "pipeline_vs_detection_in_run": clip.timings["total"] / (clip.timings["read"] + clip.timings["detect"]),
        "lift_share_without_load": (sum(post.values()) - post["load"]) / det_s,
        "detected_fraction": det.detected_fraction,
    }


# --- running ----------------------------------------------------------------------------------------
def _fmt(v) -> str:
    if isinstance(v, (float, np.floating)):
        return f"{v:.4g}" if abs(v) < 1e4 else f"{v:.0f}"
    return str(v)


def run(options: BenchOptions | None = None, out=None) -> int:
    """Build the clip, run every registered section, print ``key=value`` lines; exit code 0
    (1 without a model file)."""
    from ...inference.pipeline.uplifter import DEFAULT_MODEL_PATH

    opt = options or BenchOptions()
    out = out or sys.stdout
    model = Path(opt.model) if opt.model else DEFAULT_MODEL_PATH
    if not model.is_file():
        print(f"error: no uplifter model at {model} (export one with dev/training/export_onnx.py or pass --model)",
              file=sys.stderr)
        return 1
    t0 = time.perf_counter()
    clip = make_clip(opt.frames, opt.data, opt.sample, opt.noisy, opt.seed)
    print(f"# clip {clip.name}: {clip.num_frames} frames at {clip.fps:.0f} fps, "
          f"{'noisy' if opt.noisy else 'clean'} 2D, {int(clip.image_size[0])}x{int(clip.image_size[1])} "
          f"(prepared in {time.perf_counter() - t0:.1f} s)", file=out)
    ctx = BenchContext(opt, clip)
    for name, fn in SECTIONS:
        if opt.sections and not any(want in name for want in opt.sections):
            continue
        print(f"# {name}", file=out)
        items = fn(ctx)
        ctx.results.update(items)
        for key, value in items.items():
            print(f"{key}={_fmt(value)}", file=out)
    return 0


__all__ = ["BenchClip", "BenchOptions", "BenchContext", "SECTIONS", "bench_section", "make_clip", "time_uplift",
           "run"]
