"""``uplift-dev``: the ``uplift`` command line plus the development commands (evaluation, benchmarks).

The shipped command line (``cli/``) never imports this package; this module registers more subcommands
on it (``cli.commands.subcommand``) and runs it. Lives in a checkout only, not in the extension zip.
"""
from __future__ import annotations

import importlib.util

import sys
from pathlib import Path

from ..cli.commands import main as _uplift_main
from ..cli.commands import subcommand
from .paths import DEFAULT_DATA


@subcommand
def _add_evaluate(subparsers):
    p = subparsers.add_parser("evaluate", help="score the uplifter on held-out mocap",
                              description="Render fixed-seed 2D (noisy and clean) from a mocap split, run the "
                                          "ONNX uplifter and print MPJPE, PA-MPJPE, MPJAE and acceleration error "
                                          "overall and per source.")
    p.add_argument("--data", type=Path, default=None, metavar="DIR",
                   help="mocap folder with split-*.txt (default ../shared/data)")
    p.add_argument("--split", choices=("test", "val", "all"), default="test",
                   help="test: split-test.txt (final numbers only); val: the training carve-out; all: every BVH")
    p.add_argument("--model", type=Path, default=None, metavar="PATH", help="ONNX model (default models/uplifter.onnx)")
    p.add_argument("--windows", type=int, default=512, metavar="N", help="windows per setting (default 512)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="seed of bodies, cameras and noise (default 0)")
    p.add_argument("--workers", type=int, default=1, metavar="N", help="processes converting BVH files (default 1)")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the converted-motion cache")
    p.add_argument("--single-pass", action="store_true",
                   help="score one network pass (default: averaged with the mirrored pass, as the pipeline runs it)")
    p.set_defaults(func=_run_evaluate)


def _run_evaluate(args) -> int:
    from .evaluation.evaluate import run

    return run(args.data or DEFAULT_DATA, args.split, args.model, args.windows, args.seed,
               cache=not args.no_cache, workers=args.workers, mirror_average=not args.single_pass)


@subcommand
def _add_eval_footage(subparsers):
    p = subparsers.add_parser("eval-footage", help="end-to-end accuracy on rendered test-split footage vs MediaPipe 3D",
                              description="Render the test-split clips of dev/footage/footage_manifest.json on a MakeHuman "
                                          "body (once), run the pipeline on them and score ours and MediaPipe's world "
                                          "landmarks against the ground truth; the last line is OURS_MPJPE_mm=... "
                                          "MPWORLD_MPJPE_mm=... OURS_BONE_DEG=... MPWORLD_BONE_DEG=...")
    p.add_argument("--data", type=Path, default=None, metavar="DIR", help="staged mocap (default ../shared/data)")
    p.add_argument("--out-dir", type=Path, default=Path("outputs/footage_eval"), metavar="DIR",
                   help="rendered clips, reused when present (default outputs/footage_eval)")
    p.add_argument("--regenerate", action="store_true", help="render the clips again")
    p.add_argument("--clip", action="append", default=[], metavar="NAME", help="only this clip (repeatable)")
    p.add_argument("--json", type=Path, default=None, metavar="PATH", help="write all scores as JSON")
    p.add_argument("--plot", type=Path, default=None, metavar="PNG", help="write a bar chart")
    p.add_argument("--model", type=Path, default=None, metavar="PATH", help="ONNX model (default models/uplifter.onnx)")
    p.add_argument("--manifest", type=Path, default=None, metavar="JSON",
                   help="clip list (default dev/footage/footage_manifest.json, test split; "
                        "dev/footage/footage_val_manifest.json: validation motions, for model selection)")
    p.set_defaults(func=_run_eval_footage)


def _run_eval_footage(args) -> int:
    from .evaluation.footage_eval import MANIFEST, run

    return run(args.data or DEFAULT_DATA, args.out_dir, manifest=args.manifest or MANIFEST, regenerate=args.regenerate,
               only=args.clip or None, json_out=args.json, plot_out=args.plot, model_path=args.model)


@subcommand
def _add_eval_camera(subparsers):
    p = subparsers.add_parser("eval-camera", help="root travel when the camera moves (rendered tracking shots)",
                              description="Render the walks of dev/footage/camera_manifest.json filmed by a camera "
                                          "that travels with the actor, convert them, score the root path. Last line: "
                                          "CAMERA_FOUND=... TEST_TRAVEL_RATIO=... TEST_PATH_ERR_m=... "
                                          "STATIC_TRAVEL_RATIO=... LENS_GIVEN_TRAVEL_RATIO=... "
                                          "LENS_GIVEN_PATH_ERR_m=... (the last two: told the rendered lens)")
    p.add_argument("--data", type=Path, default=None, metavar="DIR", help="mocap folder (default ../shared/data)")
    p.add_argument("--out-dir", type=Path, default=Path("outputs/camera_eval"), metavar="DIR",
                   help="rendered clips (reused when present; default outputs/camera_eval)")
    p.add_argument("--model", type=Path, default=None, metavar="PATH", help="uplifter .onnx (default: shipped)")
    p.set_defaults(func=_run_eval_camera)


def _run_eval_camera(args) -> int:
    from .evaluation.camera_eval import run

    return run(args.data or DEFAULT_DATA, args.out_dir, model_path=args.model)


@subcommand
def _add_eval_hands(subparsers):
    p = subparsers.add_parser("eval-hands", help="finger joint angles against rendered ground truth",
                              description="Render the clips of dev/footage/hands_manifest.json (moving fingers), run the "
                                          "body and hand passes, score finger joint angles per hand size. Last line: "
                                          "HANDS_ERR_DEG_GE60=... STRAIGHT_ERR_DEG_GE60=... DETECTED_GE60=...")
    p.add_argument("--data", type=Path, default=None, metavar="DIR", help="mocap folder (default ../shared/data)")
    p.add_argument("--out-dir", type=Path, default=Path("outputs/hands_eval"), metavar="DIR",
                   help="rendered clips (reused when present; default outputs/hands_eval)")
    p.set_defaults(func=_run_eval_hands)


def _run_eval_hands(args) -> int:
    from .evaluation.hands_eval import run

    return run(args.data or DEFAULT_DATA, args.out_dir)


@subcommand
def _add_bench(subparsers):
    p = subparsers.add_parser("bench", help="time the uplifter against IK, and the video pipeline against detection",
                              description="Measure uplifter (ONNX Runtime CPU) and IK speed and joint-angle "
                                          "error on one clip; prints key=value lines.")
    p.add_argument("--model", type=Path, default=None, metavar="PATH", help="ONNX model (default models/uplifter.onnx)")
    p.add_argument("--frames", type=int, default=3000, metavar="N", help="clip length for the uplifter (default 3000)")
    p.add_argument("--ik-frames", type=int, default=60, metavar="N", help="frames solved by IK (default 60)")
    p.add_argument("--data", type=Path, default=None, metavar="DIR",
                   help="mocap folder to take the clip from (default ../shared/data if present)")
    p.add_argument("--sample", action="store_true", help="use the bundled sample clip")
    p.add_argument("--noisy", action="store_true", help="MediaPipe-like noise on the 2D input")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="seed of body and camera (default 0)")
    p.add_argument("--threads", type=int, default=0, metavar="N", help="ONNX Runtime threads (default: its own)")
    p.add_argument("--video", type=Path, default=None, metavar="PATH",
                   help="video for the pipeline timing (default: inference/samples/sample_walk.mp4, else the "
                        "test fixture person_walk.mp4)")
    p.add_argument("--video-repeats", type=int, default=2, metavar="N",
                   help="detection-only / convert runs on the video, fastest counts (default 2)")
    p.add_argument("--section", action="append", default=[], metavar="NAME",
                   help="run only sections whose name contains NAME (repeatable; e.g. 'video')")
    p.set_defaults(func=_run_bench)


def _run_bench(args) -> int:
    from .evaluation import bench_sections  # noqa: F401 - registers the keying, scaling and hands sections
    from .evaluation.bench import BenchOptions, run

    return run(BenchOptions(model=args.model, frames=args.frames, ik_frames=args.ik_frames, data=args.data,
                            sample=args.sample, noisy=args.noisy, seed=args.seed, threads=args.threads,
                            video=args.video, video_repeats=args.video_repeats, sections=tuple(args.section)))


@subcommand
def _add_eval_real(subparsers):
    p = subparsers.add_parser("eval-real", help="accuracy on real 4-camera footage (../shared/real) vs MediaPipe 3D",
                              description="Score person A of ../shared/real per camera: the full pipeline (and which "
                                          "person it tracked), MediaPipe's world landmarks, our lift of A's guided 2D "
                                          "and of the reference re-projected (no 2D error). The last line is "
                                          "REAL_MPJPE_mm=... REAL_BONE_DEG=... MPWORLD_MPJPE_mm=... MPWORLD_BONE_DEG=... "
                                          "CONSISTENT2D_MPJPE_mm=... FLIP_PCT=...")
    p.add_argument("--real", type=Path, default=None, metavar="DIR", help="real-footage folder (default ../shared/real)")
    p.add_argument("--cam", action="append", default=[], metavar="CAM", help="only this camera (repeatable)")
    p.add_argument("--model", type=Path, default=None, metavar="PATH", help="ONNX model (default models/uplifter.onnx)")
    p.add_argument("--source", action="append", default=[], metavar="NAME",
                   help="only these sources (pipeline, pipeline_a, mp_world, guided, consistent; repeatable)")
    p.add_argument("--json", type=Path, default=None, metavar="PATH", help="write all scores as JSON")
    p.add_argument("--no-swap-repair", action="store_true", help="lift MediaPipe's left/right labels as they are")
    p.add_argument("--plot", type=Path, default=None, metavar="PNG",
                   help="write a bar chart (MPJPE per camera, bone error per segment)")
    p.set_defaults(func=_run_eval_real)


def _run_eval_real(args) -> int:
    from .evaluation.real import DEFAULT_REAL, SOURCES, run

    unknown = sorted(set(args.source) - set(SOURCES))
    if unknown:
        raise SystemExit(f"unknown --source {', '.join(unknown)} (known: {', '.join(SOURCES)})")
    if args.plot and importlib.util.find_spec("matplotlib") is None:
        raise SystemExit("--plot needs matplotlib (pip install matplotlib)")
    return run(args.real or DEFAULT_REAL, args.cam or None, args.model, tuple(args.source) or SOURCES, args.json,
               repair_swaps=not args.no_swap_repair, plot_out=args.plot)


def main(argv: list[str] | None = None) -> int:
    """``uplift-dev`` entry point: every ``uplift`` command and the development ones above."""
    return _uplift_main(argv, prog="uplift-dev")


if __name__ == "__main__":
    sys.exit(main())
