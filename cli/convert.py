"""``uplift convert`` (videos -> motion files) and ``uplift lift`` (landmarks .npz -> motion file).

Each video is converted on its own: a failure prints one line ``error: VIDEO: reason`` on stderr
and the others still run. Progress (one bar per stage) goes to stderr when it is a terminal;
a summary per video and a total go to stdout.

``uplift detect`` writes the landmarks file ``lift`` reads. Options are all checked before any detection;
existing outputs are kept unless ``--overwrite``; files are written atomically.

Exit codes: 0 all written; 3 a video or landmarks file is missing or unreadable; 4 no person found;
5 output not writable; 6 bad options / unknown format or provider / an output that exists; 1 any other
failure or a mix of the above; 130 interrupted.

Extending (e.g. the Blender add-on's ``--format blend --rig RIG.blend[:ARMATURE]``): register the
writer with ``motion_clip.register_writer("blend", ".blend", "module:function")``, add its
arguments with an ``@argument_hook`` function ``add(parser)`` and turn the parsed arguments into
its writer options with ``FORMAT_OPTIONS["blend"] = lambda args: {"rig": args.rig}``.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Callable, TextIO

from .report import clip_summary, native_logs_silenced

from .exits import (EXIT_FAILED, EXIT_INPUT, EXIT_INTERRUPTED, EXIT_NO_PERSON, EXIT_OK, EXIT_OUTPUT,  # noqa: F401
                    EXIT_USAGE, KIND_EXIT, error_line, refuse_existing)

ARGUMENT_HOOKS: list[Callable[[argparse.ArgumentParser], None]] = []
FORMAT_OPTIONS: dict[str, Callable[[argparse.Namespace], dict]] = {}


def argument_hook(add: Callable[[argparse.ArgumentParser], None]):
    """Decorator: ``add(parser)`` adds extra arguments to ``uplift convert`` and ``uplift lift``."""
    ARGUMENT_HOOKS.append(add)
    return add


# --- arguments ------------------------------------------------------------------------------------
def positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        v = 0
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return v


def _fraction(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = -1.0
    if not 0.0 <= v <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text!r}")
    return v


def add_processing_arguments(p: argparse.ArgumentParser, video: bool = True) -> None:
    """The options shared by convert and lift (range options only for video)."""
    if video:
        p.add_argument("--start", type=float, default=0.0, metavar="S", help="start time in seconds (default 0)")
        p.add_argument("--end", type=float, default=None, metavar="S", help="end time in seconds (default: the end)")
        p.add_argument("--stride", type=positive_int, default=1, metavar="N", help="use every N-th frame (default 1)")
    p.add_argument("--smoothing", type=_fraction, default=0.5, metavar="X",
                   help="temporal smoothing, 0 = off .. 1 = strongest (default 0.5)")
    p.add_argument("--in-place", action="store_true", help="keep the character in place (vertical motion only)")
    p.add_argument("--no-plant", action="store_true", help="do not keep feet on the floor from sliding")
    p.add_argument("--camera", choices=("auto", "static", "moving"), default="auto",
                   help="auto: find a camera that travels with the actor and take the root's travel from the feet "
                        "(default); static: the camera never moves; moving: it does")
    if video:
        p.add_argument("--workers", type=positive_int, default=None, metavar="N",
                       help="detection processes, each over a part of the video (default: CPU cores - 1)")
        p.add_argument("--detect-device", choices=("cpu", "gpu"), default="cpu",
                       help="where MediaPipe detects poses: gpu tries its GPU delegate (Linux, macOS) and falls "
                            "back to the CPU with a warning (default cpu)")
        p.add_argument("--no-hands", action="store_true",
                       help="do not track the hands (no finger motion; saves the second, lighter pass over the video)")
        p.add_argument("--hands-every", type=positive_int, default=2, metavar="N",
                       help="look for the hands in every N-th body frame (default 2; in between they are interpolated)")
        p.add_argument("--person", type=int, default=None, metavar="N",
                       help="convert person N of everyone seen, 0 = the most present (see --list-people); "
                            "default: follow the largest person")
        p.add_argument("--each-person", action="store_true",
                       help="convert everyone seen, each to OUTDIR/<name>_person<N>.<format> (N as --list-people "
                            "numbers them; one detection pass; runs in this process)")
    p.add_argument("--focal-mm", type=float, default=None, metavar="F",
                   help="35 mm-equivalent focal length of the camera (default: 28, a phone's main camera); "
                        "the camera's height and travel scale with it")
    p.add_argument("--provider", default=None, metavar="P",
                   help="ONNX Runtime provider, e.g. cpu, cuda, CoreMLExecutionProvider (default: automatic)")
    p.add_argument("--model", type=Path, default=None, metavar="PATH", help="uplifter .onnx (default: shipped)")
    p.add_argument("--bvh-units", choices=("m", "cm"), default="m",
                   help="BVH offsets and root motion in metres or centimetres (default m)")
    for add in ARGUMENT_HOOKS:
        add(p)


def add_convert_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "convert", help="convert videos of a person to motion files (BVH, npz, JSON)",
        description="Detect the person in each VIDEO, lift to 3D skeletal motion and write OUTDIR/<name>.<format>.",
        epilog="exit codes: 0 ok, 3 missing/unreadable video, 4 no person found, 5 output not writable, "
               "6 bad options, 1 other or mixed failures")
    p.add_argument("videos", nargs="+", type=Path, metavar="VIDEO",
                   help="video files, or folders (the videos directly inside them)")
    p.add_argument("-o", "--out", type=Path, required=True, metavar="OUTDIR", help="output folder (created)")
    p.add_argument("--format", default="bvh", metavar="LIST",
                   help="comma-separated formats: bvh,npz,json, and blend or fbx with Blender or the bpy module (default bvh)")
    add_processing_arguments(p, video=True)
    p.add_argument("--overwrite", action="store_true", help="replace output files that exist (default: refuse)")
    p.add_argument("--jobs", type=positive_int, default=1, metavar="N",
                   help="convert N videos at once, each in its own process (default 1: one after another)")
    p.add_argument("--cluster", default=None, metavar="ADDRESS",
                   help="convert on a Ray cluster, one task per video: auto (the cluster this machine belongs to), "
                        "ray://HOST:PORT or HOST:PORT (needs the 'cluster' extra: pip install ray)")
    p.add_argument("--list-people", action="store_true",
                   help="list everyone seen in each video (number, time on screen, size) and convert nothing")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.add_argument("-v", "--verbose", action="store_true", help="keep MediaPipe's own log lines on stderr")
    return p


def add_lift_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "lift", help="lift saved 2D landmarks (.npz from detection) to a motion file",
        description="Read a Detections .npz (2D landmarks of one person) and write a motion file; the format "
                    "comes from OUT's extension (.npz, .json, .bvh) unless --format is given.")
    p.add_argument("landmarks", type=Path, metavar="LANDMARKS.npz")
    p.add_argument("-o", "--out", type=Path, required=True, metavar="OUT", help="output file")
    p.add_argument("--format", default=None, metavar="NAME", help="output format (default: from OUT's extension)")
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it exists (default: refuse)")
    add_processing_arguments(p, video=False)
    return p


def convert_options(args: argparse.Namespace):
    from ..inference.pipeline.run import ConvertOptions

    return ConvertOptions(start_s=getattr(args, "start", 0.0), end_s=getattr(args, "end", None),
                          stride=getattr(args, "stride", 1), smoothing=args.smoothing, in_place=args.in_place,
                          focal_mm=args.focal_mm, provider=args.provider, model_path=args.model,
                          plant_feet=not getattr(args, "no_plant", False), person=getattr(args, "person", None),
                          workers=getattr(args, "workers", None),
                          detect_device=getattr(args, "detect_device", "cpu"), camera_motion=args.camera,
                          hands=not getattr(args, "no_hands", True), hands_every=getattr(args, "hands_every", 2))


def parse_rig_spec(spec: str) -> tuple[Path, str | None]:
    """``RIG.blend[:ARMATURE]`` -> (path, armature name or None); a Windows drive letter's colon is kept."""
    head, sep, tail = str(spec).rpartition(":")
    if sep and head.lower().endswith(".blend") and tail and not any(c in tail for c in "/\\"):
        return Path(head), tail
    return Path(spec), None


def writer_options(args: argparse.Namespace, formats: list[str]) -> dict[str, dict]:
    """Each format's writer options from the arguments, checked by the writer (ValueError on a problem)."""
    from ..inference.pipeline import motion_clip

    opts = {f: FORMAT_OPTIONS[f](args) for f in formats if f in FORMAT_OPTIONS}
    for f in formats:
        motion_clip.WRITERS[f].check_options(**opts.get(f, {}))
    return opts


FORMAT_OPTIONS["bvh"] = lambda args: {"units": getattr(args, "bvh_units", "m")}


# --- running --------------------------------------------------------------------------------------
def _exit_code(exc: BaseException) -> int:
    from ..inference.pipeline.run import failure_kind

    return KIND_EXIT[failure_kind(exc)]


def prepare_out_dir(out_dir: Path) -> str | None:
    """Create ``out_dir``; a one-line reason when it cannot be written to, else None."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        return f"output folder {out_dir} is a file, not a folder"
    except OSError as e:
        return f"cannot create output folder {out_dir}: {e.strerror or e}"
    if not os.access(out_dir, os.W_OK | os.X_OK):
        return f"output folder {out_dir} is not writable"
    return None


def _stems(videos: list[Path]) -> list[str]:
    """Output name per video: its stem, made unique with _2, _3 ... for repeated stems."""
    seen: dict[str, int] = {}
    out = []
    for v in videos:
        stem = v.name.split(".")[0] or "clip"
        seen[stem] = seen.get(stem, 0) + 1
        out.append(stem if seen[stem] == 1 else f"{stem}_{seen[stem]}")
    return out


def run_convert(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Convert ``args.videos`` (see the module docstring); returns the exit code."""
    if err is not None:
        return _convert(args, out or sys.stdout, err)
    with native_logs_silenced(not getattr(args, "verbose", False)) as stream:
        return _convert(args, out or sys.stdout, stream)


def list_people(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``uplift convert --list-people``: everyone in each video, most present first."""
    from ..inference.pipeline import detect
    from ..inference.pipeline.video import VideoError

    failed = []
    for video in args.videos:
        try:
            tracks, times = detect.detect_people(video, detect.DetectOptions(start_s=args.start, end_s=args.end,
                                                                             stride=args.stride))
        except (VideoError, OSError) as e:
            error_line(video, str(e), err)
            failed.append(EXIT_INPUT)
            continue
        print(f"{video}: {len(tracks)} {'person' if len(tracks) == 1 else 'people'} seen in {len(times)} frames",
              file=out)
        for i, tr in enumerate(tracks):
            print(f"  person {i}: on screen {100 * tr.coverage:5.1f}% of frames from {tr.first_seen_s(times):.2f} s, "
                  f"height {100 * tr.height:.0f}% of the image", file=out)
    return EXIT_OK if not failed else (failed[0] if len(set(failed)) == 1 else EXIT_FAILED)


def _convert(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from ..inference.pipeline import motion_clip
    from ..inference.pipeline.run import PipelineError, resolve_provider

    from .clips import expand_videos

    args.videos = videos = expand_videos(args.videos)
    if not videos:
        error_line(None, "no video files in the folders given", err)
        return EXIT_INPUT
    if getattr(args, "list_people", False):
        return list_people(args, out, err)

    stems = _stems(videos)
    try:
        if getattr(args, "cluster", None):
            from .cluster import check_cluster_available

            check_cluster_available()
        formats = motion_clip.parse_formats(args.format)
        options = convert_options(args)
        options.validate()
        if getattr(args, "each_person", False):
            if args.person is not None:
                raise ValueError("--each-person converts everyone: leave out --person")
            if getattr(args, "cluster", None) or (getattr(args, "jobs", 1) or 1) > 1:
                raise ValueError("--each-person runs in this process: leave out --jobs and --cluster")
        resolve_provider(options.provider)
        wopts = writer_options(args, formats)
        each = getattr(args, "each_person", False)         # its names come after detection: checked per person
        reason = None if each else refuse_existing(
            [args.out / f"{stem}{motion_clip.WRITERS[f].suffix}" for stem in stems for f in formats],
            getattr(args, "overwrite", False))
        if reason:
            raise ValueError(reason)
    except (ValueError, PipelineError) as e:
        error_line(None, str(e), err)
        return EXIT_USAGE
    created = not args.out.exists()
    reason = prepare_out_dir(args.out)
    if reason:
        error_line(None, reason, err)
        return EXIT_OUTPUT
    try:
        from .clips import convert_videos

        return convert_videos(args, out, err, videos, formats, options, wopts, stems)
    finally:
        if created and args.out.is_dir() and not any(args.out.iterdir()):
            args.out.rmdir()          # nothing was written: leave no empty folder behind


def run_lift(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    from ..inference.pipeline import motion_clip
    from ..inference.pipeline.detect import Detections
    import numpy as np

    from ..inference.pipeline.hands import HandTracks
    from ..inference.pipeline.run import PipelineError, lift_detections

    src = args.landmarks
    try:
        fmt = motion_clip.parse_formats(args.format)[0] if args.format else motion_clip.format_for_path(args.out)
        options = convert_options(args)
        options.validate()
        wopts = writer_options(args, [fmt]).get(fmt, {})
        reason = refuse_existing([args.out], getattr(args, "overwrite", False))
        if reason:
            raise ValueError(reason)
    except (ValueError, PipelineError) as e:
        error_line(None, str(e), err)
        return EXIT_USAGE
    if not src.is_file():
        error_line(src, "no such file" if not src.exists() else "not a file", err)
        return EXIT_INPUT
    try:
        det = Detections.load_npz(src)
        with np.load(src, allow_pickle=False) as z:
            hands = HandTracks.from_arrays(z)          # kept by `uplift detect` unless --no-hands
        if hands is not None and hands.world.shape[0] != len(det.times_s):
            raise ValueError(f"{hands.world.shape[0]} frames of hands for {len(det.times_s)} of landmarks")
    except (OSError, ValueError, KeyError, EOFError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        error_line(src, f"not a landmarks file from detection ({msg})", err)
        return EXIT_INPUT
    try:
        clip = lift_detections(det, options, hands=hands)
    except PipelineError as e:
        error_line(None, str(e), err)
        return _exit_code(e)
    try:
        code = write_file(args.out, lambda tmp: motion_clip.WRITERS[fmt].resolve()(clip, tmp, **wopts), err)
    except PipelineError as e:
        error_line(args.out, str(e), err)
        return EXIT_FAILED
    if code == EXIT_OK:
        print(clip_summary(str(src), clip, [args.out]), file=out)
    return code


def write_file(path: Path, write: Callable[[Path], None], err: TextIO) -> int:
    """Create ``path``'s folder and write it atomically; the exit code (0, or 5 with one error line)."""
    from ..inference.pipeline import motion_clip

    parent = path.parent
    reason = prepare_out_dir(parent) if str(parent) not in ("", ".") else None
    if reason:
        error_line(None, reason, err)
        return EXIT_OUTPUT
    try:
        motion_clip.write_atomically(path, write)
    except OSError as e:
        error_line(path, f"cannot write: {e.strerror or e}", err)
        return EXIT_OUTPUT
    return EXIT_OK


__all__ = ["parse_rig_spec", "add_convert_parser", "add_lift_parser", "run_convert", "run_lift",
           "write_file", "argument_hook", "ARGUMENT_HOOKS",
           "FORMAT_OPTIONS", "prepare_out_dir", "refuse_existing"]
