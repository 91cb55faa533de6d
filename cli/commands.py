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

from .. import __version__
from .convert import argument_hook  # stdlib only at import time

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
    from .datacheck import run

    return run(args.dir, offsets=args.offsets)


@subcommand
def _add_demo(subparsers):
    p = subparsers.add_parser("demo", help="run the end-to-end demo",
                              description="Run the end-to-end demo and write its outputs.")
    p.set_defaults(func=_run_demo)


def _run_demo(args) -> int:
    from .demo import run

    return run()


# --- the Blender output format (``--format blend``): written by addon/batch.py inside Blender or with
# the bpy module; registered here by name so that nothing imports bpy unless a .blend is asked for.
# Target applications of the ``fbx`` format (axis and scale settings: addon/batch.py FBX_TARGETS).
FBX_TARGETS = ("blender", "unity", "unreal")


def _add_blend_arguments(p: argparse.ArgumentParser) -> None:
    from ..inference.retarget.presets import PRESETS

    p.add_argument("--rig", default=None, metavar="RIG.blend[:ARMATURE]",
                   help="with --format blend: key onto this rig (appended from the file) instead of our armature")
    p.add_argument("--mapping", default=None, metavar="PRESET",
                   help=f"with --rig: bone mapping preset ({', '.join(PRESETS)}; "
                        "default: the mapping saved on the rig, else detected from its bone names)")


    p.add_argument("--fbx-target", choices=FBX_TARGETS, default="blender",
                   help="with --format fbx: axes and scale for this application (default blender)")


argument_hook(_add_blend_arguments)


def _blend_options(args) -> dict:
    from ..inference.retarget.presets import PRESETS

    rig, mapping = getattr(args, "rig", None), getattr(args, "mapping", None)
    if mapping is not None and mapping not in PRESETS:
        raise ValueError(f"unknown --mapping {mapping!r} (known: {', '.join(PRESETS)})")
    if rig is not None:
        from .convert import parse_rig_spec

        path = parse_rig_spec(rig)[0]
        if not path.is_file():
            raise ValueError(f"--rig: no such file: {path}")
    return {"rig": rig, "mapping": mapping}


def _blender_options_without_format(args, formats) -> str | None:
    used = [o for o in ("rig", "mapping") if getattr(args, o, None) is not None]
    if used and not {"blend", "fbx"} & set(formats):
        return f"--{used[0]} only applies to --format blend or fbx"
    return None


def _fbx_options(args) -> dict:
    return {**_blend_options(args), "target": getattr(args, "fbx_target", "blender")}


def _register_blend_format() -> None:
    """The formats written through Blender (addon/batch.py), registered by name: bpy loads only when used."""
    from . import convert as convert_cli
    from ..inference.pipeline import motion_clip

    batch = f"{__package__.rpartition('.')[0]}.addon.batch"
    if "blend" not in motion_clip.WRITERS:
        motion_clip.register_writer("blend", ".blend", f"{batch}:write_blend",
                                    "Blender file with the keyed armature (needs Blender or the bpy module)",
                                    check=f"{batch}:check_rig")
    if "fbx" not in motion_clip.WRITERS:
        motion_clip.register_writer("fbx", ".fbx", f"{batch}:write_fbx",
                                    "FBX (armature + baked Action) for game engines (needs Blender or the bpy module)",
                                    check=f"{batch}:check_rig")
    convert_cli.FORMAT_OPTIONS.setdefault("blend", _blend_options)
    convert_cli.FORMAT_OPTIONS.setdefault("fbx", _fbx_options)


@subcommand
def _add_convert(subparsers):
    from .convert import add_convert_parser  # argparse only; the pipeline loads when run

    add_convert_parser(subparsers).set_defaults(func=_run_convert)


def _refuse_rig_options(args, formats) -> int | None:
    """Exit code 6 with one error line when --rig / --mapping come without a Blender format, else None.
    ``formats`` is called for the format list; a bad format is left for the command to report."""
    from .convert import EXIT_USAGE

    try:
        reason = _blender_options_without_format(args, formats())
    except ValueError:
        return None
    if reason:
        print(f"error: {reason}", file=sys.stderr)
        return EXIT_USAGE
    return None


def _run_convert(args) -> int:
    from ..inference.pipeline.motion_clip import parse_formats
    from .convert import run_convert

    _register_blend_format()
    code = _refuse_rig_options(args, lambda: parse_formats(args.format))
    return code if code is not None else run_convert(args)


@subcommand
def _add_lift(subparsers):
    from .convert import add_lift_parser

    add_lift_parser(subparsers).set_defaults(func=_run_lift)


def _run_lift(args) -> int:
    from ..inference.pipeline.motion_clip import format_for_path, parse_formats
    from .convert import run_lift

    _register_blend_format()
    code = _refuse_rig_options(args, lambda: parse_formats(args.format)[:1] if args.format else [format_for_path(args.out)])
    return code if code is not None else run_lift(args)


@subcommand
def _add_detect(subparsers):
    from .detect import add_detect_parser

    add_detect_parser(subparsers).set_defaults(func=_run_detect)


def _run_detect(args) -> int:
    from .detect import run_detect
    from .report import native_logs_silenced

    with native_logs_silenced(True) as err:
        return run_detect(args, err=err)


def build_parser(prog: str = "uplift") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description="Uplift Mocap: video of a person to skeletal animation.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in SUBCOMMANDS:
        add(subparsers)
    return parser


def main(argv: list[str] | None = None, prog: str = "uplift") -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``), run the subcommand, return its exit code."""
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help(sys.stderr)
        return 2
    code = args.func(args)
    return 0 if code is None else int(code)

