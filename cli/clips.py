"""Converting a list of videos for ``uplift convert``: one after another in this process (default), in a pool
of local worker processes (``--jobs N``), or as tasks on a Ray cluster (``--cluster``, ``cluster.py``).

Wherever a clip is converted, this process (the driver) writes its outputs: once per clip, when its result
arrives, each file under a temporary name renamed when complete (``motion_clip.write_clip``), so nothing is
ever half-written and a clip whose worker died is never written twice. A failure is reported for its clip
and the batch goes on. Folders given as inputs stand for the video files directly inside them.
"""
from __future__ import annotations

import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator

from .exits import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OUTPUT, KIND_EXIT, Tally, error_line, refuse_existing
from .report import ProgressBar, clip_summary

VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".mkv", ".avi", ".webm", ".mpg", ".mpeg", ".wmv", ".mts", ".m2ts")
_POLL_S = 0.1


@dataclass
class Outcome:
    """The result of one clip: ``clip`` (a MotionClip), or ``message`` and ``kind`` (``run.failure_kind``)."""
    index: int
    clip: object | None = None
    message: str = ""
    kind: str = ""
    person: int | None = None           # ``--each-person``: which person of the video this clip is


def expand_videos(paths: list[Path]) -> list[Path]:
    """Each folder replaced by the video files directly inside it (by suffix, sorted); files kept as given."""
    out = []
    for p in paths:
        if p.is_dir():
            out += sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in VIDEO_SUFFIXES)
        else:
            out.append(p)
    return out


def serial_outcomes(videos: list[Path], options, uplifter, bar: ProgressBar, err,
                    each_person: bool = False) -> Iterator[Outcome]:
    """Each clip in this process, with progress bars; ``each_person``: one outcome per person seen."""
    from ..inference.pipeline.everyone import convert_everyone
    from ..inference.pipeline.run import PipelineError, convert_video, failure_kind

    for i, video in enumerate(videos):
        if bar.enabled:
            print(video, file=err, flush=True)
        try:
            if each_person:
                clips = convert_everyone(video, options, progress=bar, uplifter=uplifter)
            else:
                clips = [convert_video(video, options, progress=bar, uplifter=uplifter)]
        except PipelineError as e:
            bar.finish()
            yield Outcome(i, message=str(e), kind=failure_kind(e))
            continue
        bar.finish()
        for number, clip in enumerate(clips):
            yield Outcome(i, clip, person=number if each_person else None)


class _ClipProcess:
    """One clip converted by ``inference.pipeline.clip_worker`` in its own process."""

    def __init__(self, index: int, video: Path, options: dict, folder: Path):
        from ..inference.pipeline.workers import start_worker

        self.index, self.out = index, folder / f"clip{index}.npz"
        self.log = open(folder / f"clip{index}.log", "w+b")
        self.proc = start_worker("inference.pipeline.clip_worker",
                                 {"video": str(video), "options": options, "out": str(self.out)}, self.log)
        self._drain = threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True)
        self._drain.start()

    def outcome(self) -> Outcome:
        import json

        from ..inference.pipeline.motion_clip import read_npz
        from ..inference.pipeline.workers import ended_how, last_error_line

        error = Path(str(self.out) + ".error.json")
        if self.proc.returncode == 0 and error.is_file():
            e = json.loads(error.read_text())
            return Outcome(self.index, message=e["message"], kind=e["kind"])
        if self.proc.returncode == 0 and self.out.is_file():
            return Outcome(self.index, read_npz(self.out))
        why = last_error_line(self.log)
        return Outcome(self.index, message=f"conversion worker {ended_how(self.proc.returncode)}"
                       + (f": {why}" if why else ""), kind="failed")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._drain.join(5.0)
        self.proc.stdout.close()
        self.log.close()


def pool_outcomes(videos: list[Path], options, jobs: int) -> Iterator[Outcome]:
    """The clips in at most ``jobs`` worker processes at once (each detecting in one process unless
    ``options.workers`` says otherwise), in the order they finish."""
    from ..inference.pipeline.clip_worker import options_to_dict

    opts = options_to_dict(replace(options, workers=options.workers or 1))
    queue, running = list(range(len(videos))), {}
    with tempfile.TemporaryDirectory(prefix="uplift-clips-") as tmp:
        try:
            while queue or running:
                while queue and len(running) < jobs:
                    i = queue.pop(0)
                    running[i] = _ClipProcess(i, videos[i], opts, Path(tmp))
                for i, w in list(running.items()):
                    if w.proc.poll() is None:
                        continue
                    del running[i]
                    w.close()
                    yield w.outcome()
                time.sleep(_POLL_S)
        finally:
            for w in running.values():
                w.close()


def convert_videos(args, out, err, videos: list[Path], formats, options, wopts, stems) -> int:
    """Convert ``videos`` (serially, ``args.jobs`` at once, or on ``args.cluster``), write each clip's outputs
    as it arrives, print a summary per clip and a total; the exit code."""
    from ..inference.pipeline import motion_clip
    from ..inference.pipeline.run import PipelineError, get_uplifter

    t_all = time.perf_counter()
    jobs, cluster = getattr(args, "jobs", 1) or 1, getattr(args, "cluster", None)
    if cluster:
        from .cluster import ray_outcomes

        outcomes = (Outcome(*result) for result in ray_outcomes(videos, options, cluster))
    elif jobs > 1 and len(videos) > 1:
        outcomes = pool_outcomes(videos, options, jobs)
    else:
        try:
            uplifter = get_uplifter(options.model_path, options.provider)
        except PipelineError as e:
            error_line(None, str(e), err)
            return EXIT_FAILED
        outcomes = serial_outcomes(videos, options, uplifter, ProgressBar(err, enabled=False if args.quiet else None),
                                   err, each_person=getattr(args, "each_person", False))
    tally = Tally()
    try:
        for o in outcomes:
            name = str(videos[o.index])
            if o.clip is None:
                error_line(name if not o.message.startswith(name) else None, o.message, err)
                tally.failed.append((name, KIND_EXIT.get(o.kind, EXIT_FAILED)))
                continue
            t0 = time.perf_counter()
            stem = stems[o.index] + ("" if o.person is None else f"_person{o.person}")
            if o.person is not None:              # names known only now: refuse to replace files here
                reason = refuse_existing([args.out / f"{stem}{motion_clip.WRITERS[f].suffix}" for f in formats],
                                         getattr(args, "overwrite", False))
                if reason:
                    error_line(name, reason, err)
                    tally.failed.append((name, EXIT_OUTPUT))
                    continue
            try:
                paths = motion_clip.write_clip(o.clip, args.out, stem, formats, wopts)
            except OSError as e:
                error_line(name, f"cannot write to {args.out}: {e.strerror or e}", err)
                tally.failed.append((name, EXIT_OUTPUT))
                continue
            o.clip.timings["write"] = time.perf_counter() - t0
            o.clip.timings["total"] = o.clip.timings.get("total", 0.0) + o.clip.timings["write"]
            label = name if o.person is None else f"{name} person {o.person}"
            print(clip_summary(label, o.clip, paths), file=out, flush=True)
            if name not in tally.ok:
                tally.ok.append(name)
    except KeyboardInterrupt:
        error_line(None, "interrupted", err)
        return EXIT_INTERRUPTED
    finally:
        close = getattr(outcomes, "close", None)
        if close is not None:
            close()          # stops any worker still running
    n = len(videos)
    print(f"converted {len(tally.ok)} of {n} video{'s' if n != 1 else ''} in {time.perf_counter() - t_all:.1f} s"
          + (f"; failed: {', '.join(v for v, _ in tally.failed)}" if tally.failed else ""), file=out)
    return tally.code()
