"""The ``uplift`` command line: ``uplift [--version] COMMAND ...``.

Subcommands register through ``SUBCOMMANDS``: each entry is a function ``add(subparsers)`` that adds
one parser and sets ``func`` to a handler ``handler(args) -> int`` (the exit code). Handlers import
their implementation lazily, so ``uplift --version`` and ``uplift --help`` stay fast and never
import bpy or torch. To add a command, write such a function (here or in a light module) and
decorate it with ``@subcommand``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

from . import __version__
from .inference.convert_cli import argument_hook  # stdlib only at import time

SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = []


def subcommand(add: Callable[[argparse._SubParsersAction], None]):
    """Decorator: register ``add(subparsers)`` as a subcommand builder."""
    SUBCOMMANDS.append(add)
    return add


@subcommand
def _add_data_check(subparsers):
    p = subparsers.add_parser("data-check", help="check a folder of (gzip) BVH mocap files",
                              description="Parse every BVH under DIR and report problems.")
    p.add_argument("dir", metavar="DIR", type=Path, help="folder with *.bvh / *.bvh.gz files")
    p.add_argument("--offsets", action="store_true", help="also report skeleton bone offsets")
    p.set_defaults(func=_run_data_check)


def _run_data_check(args) -> int:
    from .inference.datacheck import run

    return run(args.dir, offsets=args.offsets)


@subcommand
def _add_demo(subparsers):
    p = subparsers.add_parser("demo", help="run the end-to-end demo",
                              description="Run the end-to-end demo and write its outputs.")
    p.set_defaults(func=_run_demo)


def _run_demo(args) -> int:
    from .inference.demo import run

    return run()


# --- the Blender output format (``--format blend``): written by addon/batch.py inside Blender or with
# the bpy module; registered here by name so that nothing imports bpy unless a .blend is asked for.
def _add_blend_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rig", default=None, metavar="RIG.blend[:ARMATURE]",
                   help="with --format blend: key onto this rig (appended from the file) instead of our armature")
    p.add_argument("--mapping", default=None, metavar="PRESET",
                   help="with --rig: bone mapping preset (mixamo, cmu_mb, rigify, rigify_meta, rigify_fk, ours; "
                        "default: the mapping saved on the rig, else detected from its bone names)")


argument_hook(_add_blend_arguments)


def _blend_options(args) -> dict:
    from .inference.rig_presets import PRESETS

    rig, mapping = getattr(args, "rig", None), getattr(args, "mapping", None)
    if mapping is not None and mapping not in PRESETS:
        raise ValueError(f"unknown --mapping {mapping!r} (known: {', '.join(PRESETS)})")
    if rig is not None:
        from .inference.convert_cli import parse_rig_spec

        path = parse_rig_spec(rig)[0]
        if not path.is_file():
            raise ValueError(f"--rig: no such file: {path}")
    return {"rig": rig, "mapping": mapping}


def _register_blend_format() -> None:
    from .inference import convert_cli, motion_clip

    if "blend" not in motion_clip.WRITERS:
        motion_clip.register_writer("blend", ".blend", f"{__package__}.addon.batch:write_blend",
                                    "Blender file with the keyed armature (needs Blender or the bpy module)")
    convert_cli.FORMAT_OPTIONS.setdefault("blend", _blend_options)


@subcommand
def _add_convert(subparsers):
    from .inference.convert_cli import add_convert_parser  # argparse only; the pipeline loads when run

    add_convert_parser(subparsers).set_defaults(func=_run_convert)


def _run_convert(args) -> int:
    from .inference.convert_cli import run_convert

    _register_blend_format()
    return run_convert(args)


@subcommand
def _add_lift(subparsers):
    from .inference.convert_cli import add_lift_parser

    add_lift_parser(subparsers).set_defaults(func=_run_lift)


def _run_lift(args) -> int:
    from .inference.convert_cli import run_lift

    _register_blend_format()
    return run_lift(args)


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
    from .models.evaluate import DEFAULT_DATA, run

    return run(args.data or DEFAULT_DATA, args.split, args.model, args.windows, args.seed,
               cache=not args.no_cache, workers=args.workers, mirror_average=not args.single_pass)


@subcommand
def _add_eval_footage(subparsers):
    p = subparsers.add_parser("eval-footage", help="end-to-end accuracy on rendered test-split footage vs MediaPipe 3D",
                              description="Render the test-split clips of models/footage_manifest.json on a MakeHuman "
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
                   help="clip list (default models/footage_manifest.json, test split; "
                        "models/footage_val_manifest.json: validation motions, for model selection)")
    p.set_defaults(func=_run_eval_footage)


def _run_eval_footage(args) -> int:
    from .models.footage_eval import DEFAULT_DATA, MANIFEST, run

    return run(args.data or DEFAULT_DATA, args.out_dir, manifest=args.manifest or MANIFEST, regenerate=args.regenerate,
               only=args.clip or None, json_out=args.json, plot_out=args.plot, model_path=args.model)


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
    from .models.bench import BenchOptions, run

    return run(BenchOptions(model=args.model, frames=args.frames, ik_frames=args.ik_frames, data=args.data,
                            sample=args.sample, noisy=args.noisy, seed=args.seed, threads=args.threads,
                            video=args.video, video_repeats=args.video_repeats, sections=tuple(args.section)))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="uplift", description="Uplift Mocap: video of a person to skeletal animation.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in SUBCOMMANDS:
        add(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``), run the subcommand, return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help(sys.stderr)
        return 2
    code = args.func(args)
    return 0 if code is None else int(code)


if __name__ == "__main__":
    sys.exit(main())
