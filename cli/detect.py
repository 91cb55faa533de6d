"""``uplift detect`` (a video's 2D landmarks of one person, and its hands, the file ``uplift lift`` reads)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from .convert import (EXIT_FAILED, EXIT_INPUT, EXIT_NO_PERSON, EXIT_OK, EXIT_USAGE, error_line, positive_int,
                      refuse_existing, write_file)


def add_detect_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "detect", help="detect the person's 2D landmarks in a video (the file `uplift lift` reads)",
        description="Run pose detection on VIDEO and write its 2D landmarks (one person) as OUT.npz, which "
                    "`uplift lift` turns into motion later (e.g. to try settings without detecting again).",
        epilog="exit codes: 0 ok, 3 missing/unreadable video, 4 no person found, 5 output not writable, 6 bad options")
    p.add_argument("video", type=Path, metavar="VIDEO")
    p.add_argument("-o", "--out", type=Path, required=True, metavar="OUT.npz", help="detections file")
    p.add_argument("--start", type=float, default=0.0, metavar="S", help="start time in seconds (default 0)")
    p.add_argument("--end", type=float, default=None, metavar="S", help="end time in seconds (default: the end)")
    p.add_argument("--stride", type=positive_int, default=1, metavar="N", help="use every N-th frame (default 1)")
    p.add_argument("--person", type=int, default=None, metavar="N",
                   help="person N of everyone seen, 0 = the most present (default: follow the largest person)")
    p.add_argument("--workers", type=positive_int, default=None, metavar="N",
                   help="detection processes, each over a part of the video (default: CPU cores - 1)")
    p.add_argument("--detect-device", choices=("cpu", "gpu"), default="cpu",
                   help="gpu tries MediaPipe's GPU delegate, else the CPU with a warning (default cpu)")
    p.add_argument("--no-hands", action="store_true",
                   help="do not track the hands (by default they are kept in OUT too, for `uplift lift`'s fingers)")
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it exists (default: refuse)")
    return p


def run_detect(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """``uplift detect``: the detections file of one video; returns the exit code."""
    out, err = out or sys.stdout, err or sys.stderr
    from ..inference.pipeline import detect
    from ..inference.pipeline.run import NoPersonError, PipelineError
    from ..inference.pipeline.video import VideoError

    if args.out.suffix.lower() != ".npz":
        error_line(None, f"{args.out}: the detections file must end in .npz", err)
        return EXIT_USAGE
    if args.end is not None and not args.end > args.start:
        error_line(None, f"end ({args.end} s) must be after start ({args.start} s)", err)
        return EXIT_USAGE
    reason = refuse_existing([args.out], args.overwrite)
    if reason:
        error_line(None, reason, err)
        return EXIT_USAGE
    if not args.video.is_file():
        error_line(args.video, "no such file" if not args.video.exists() else "not a file", err)
        return EXIT_INPUT
    try:
        det = detect.detect_video(args.video, detect.DetectOptions(start_s=args.start, end_s=args.end,
                                                                  stride=args.stride, person=args.person,
                                                                  workers=args.workers,
                                                                  delegate=args.detect_device))
    except detect.PersonChoiceError as e:
        error_line(None, str(e), err)
        return EXIT_USAGE
    except VideoError as e:
        error_line(None, str(e), err)
        return EXIT_INPUT
    except (PipelineError, RuntimeError) as e:
        error_line(args.video, str(e), err)
        return EXIT_FAILED
    if not det.detected.any():
        error_line(args.video, str(NoPersonError(f"no person found in {len(det.times_s)} frames")), err)
        return EXIT_NO_PERSON
    if det.device_note:
        print(f"warning: {det.device_note}", file=err)
    hands = None
    if not getattr(args, "no_hands", False):
        from ..inference.pipeline.run import ConvertOptions, track_hands

        try:
            hands = track_hands(args.video, det, ConvertOptions(workers=args.workers))
        except PipelineError as e:
            error_line(args.video, str(e), err)
            return EXIT_FAILED
    code = write_file(args.out, lambda tmp: det.save_npz(tmp, hands.arrays() if hands is not None else None), err)
    if code != EXIT_OK:
        return code
    print(f"{args.video}: person in {100 * det.detected_fraction:.1f}% of {len(det.times_s)} frames "
          f"({det.width}x{det.height}, {det.fps:.4g} fps, detection {det.detect_s:.1f} s on {det.device}"
          f"{f' x {det.processes} processes' if det.processes > 1 else ''}); wrote {args.out}", file=out)
    return EXIT_OK


__all__ = ["add_detect_parser", "run_detect"]
