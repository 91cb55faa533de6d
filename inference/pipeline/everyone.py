"""Everyone in a video, each person converted to its own ``MotionClip`` from one detection pass (``--each-person``,
the add-on's *Everyone*).

    convert_everyone(path, options, progress, cancel, uplifter) -> list[MotionClip]
"""
from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

from .detect import detect_everyone
from .detect_parallel import DetectionWorkerError
from .motion_clip import MotionClip
from .run import (ConvertOptions, NoPersonError, PipelineError, Progress, _Run, detect_options, get_uplifter,
                  lift_detections, track_hands)
from .uplifter import Uplifter
from .video import VideoError


def convert_everyone(path, options: ConvertOptions | None = None, progress: Progress | None = None,
                     cancel: threading.Event | None = None, uplifter: Uplifter | None = None) -> list[MotionClip]:
    """Every person in video ``path``, each converted to its own MotionClip (most present first, numbered as
    ``--list-people`` numbers them; ``info["person"]``), from one detection pass; ``options.person`` is ignored.
    A person that cannot be converted is left out with a warning on the others' clips. Raises as
    ``convert_video`` (and when nobody could be converted); NoPersonError when nobody is seen."""
    o = replace(options or ConvertOptions(), person=None)
    o.validate()
    run = _Run(progress, cancel)
    path = Path(path)
    try:
        people = detect_everyone(path, detect_options(o), progress=lambda done, total: run.report("detect", done, total))
    except (VideoError, DetectionWorkerError) as err:
        raise PipelineError(str(err)) from err
    except (FileNotFoundError, ValueError) as err:
        raise PipelineError(f"{path}: {err}".splitlines()[0]) from err
    if not people:
        raise NoPersonError(f"{path}: no person found")
    uplifter = uplifter or get_uplifter(o.model_path, o.provider)
    clips, failed = [], []
    for number, det in enumerate(people):
        try:
            hands = track_hands(path, det, o, run.report) if o.hands and det.detected.any() else None
            clip = lift_detections(det, o, progress, cancel, uplifter, hands=hands)
        except PipelineError as err:                  # one person's failure does not cost the others theirs
            failed.append(f"person {number} not converted: {err}")
            if len(failed) == len(people):
                raise
            continue
        clip.info["person"] = number
        clips.append(clip)
    for clip in clips:
        clip.info["warnings"] = clip.info.get("warnings", []) + failed
    return clips


__all__ = ["convert_everyone"]
