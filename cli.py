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
