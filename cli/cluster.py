"""``uplift convert --cluster ADDRESS``: one Ray task per video on an existing Ray cluster.

``ADDRESS`` is what ``ray.init`` takes: ``auto`` (the cluster this machine is a node of), ``HOST:PORT`` (a
head node's GCS address, from a machine of the cluster) or ``ray://HOST:PORT`` (Ray Client, from outside).
Each task converts one clip (``convert_video``, detection in one process, one CPU) and returns the clip as
``motion_clip.write_npz`` bytes; this process writes the outputs (``clips.convert_videos``), so a retried
task never writes anything twice and the worker nodes need no access to the output folder. The worker
nodes need the videos at the same path (shared storage, as on a render farm) and this package with its
run-time dependencies installed in the Python that runs Ray. A task whose worker process or node dies is
run again (up to ``MAX_RETRIES`` times); a conversion error (no person, unreadable video) is a result, not
a retry. A clip longer than ``LONG_CLIP_S`` (readable here too) is detected as one task per time chunk
(``detect_parallel.plan_chunks``, at most a minute each, with the same warm-up and joining as local
chunk-parallel detection) and lifted here. Ray is an optional dependency (``pip install 'uplift-mocap[cluster]'``), never in the Blender zip.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Iterator

MAX_RETRIES = 3
LONG_CLIP_S = 120.0


def check_cluster_available() -> None:
    """ValueError (a usage error) when Ray is not installed."""
    try:
        import ray  # noqa: F401 - only whether it imports
    except ImportError:
        raise ValueError("--cluster needs Ray, which is not installed: pip install 'uplift-mocap[cluster]' "
                         "(or pip install ray)") from None


def convert_task(video: str, options: dict) -> tuple[bytes | None, str, str]:
    """The Ray task: (clip as npz bytes, "", "") or (None, message, ``run.failure_kind``)."""
    from ..inference.pipeline.clip_worker import options_from_dict
    from ..inference.pipeline.motion_clip import write_npz
    from ..inference.pipeline.run import PipelineError, convert_video, failure_kind

    if not Path(video).exists():
        return None, f"{video}: no such file on node {os.uname().nodename}", "input"
    try:
        clip = convert_video(video, options_from_dict(options))
    except PipelineError as err:
        return None, str(err), failure_kind(err)
    with tempfile.TemporaryDirectory(prefix="uplift-task-") as tmp:
        path = Path(tmp) / "clip.npz"
        write_npz(clip, path)
        return path.read_bytes(), "", ""


def _clip_from_bytes(data: bytes):
    from ..inference.pipeline.motion_clip import read_npz

    with tempfile.TemporaryDirectory(prefix="uplift-result-") as tmp:
        path = Path(tmp) / "clip.npz"
        path.write_bytes(data)
        return read_npz(path)


def detect_chunk_task(video: str, chunk: tuple, options: dict) -> dict:
    """The Ray task for one time chunk of a long clip: ``detect_worker.detect_chunk``'s arrays."""
    from ..inference.pipeline.clip_worker import options_from_dict
    from ..inference.pipeline.detect_worker import detect_chunk
    from ..inference.pipeline.run import detect_options

    warm_s, start_s, end_s, allow_empty = chunk
    return detect_chunk(video, warm_s, start_s, end_s, detect_options(options_from_dict(options)), allow_empty)


def _chunks_for(video: Path, options):
    """(video info, chunk plan) when ``video`` is readable here and longer than ``LONG_CLIP_S``, else None."""
    from ..inference.pipeline.detect_parallel import MAX_CHUNK_S, plan_chunks
    from ..inference.pipeline.video import VideoError, probe

    try:
        info = probe(video)
    except (VideoError, OSError):
        return None
    end = info.duration_s if options.end_s is None else min(options.end_s, info.duration_s)
    if end - options.start_s <= LONG_CLIP_S:
        return None
    pieces = max(2, -int(-(end - options.start_s) // MAX_CHUNK_S))
    chunks = plan_chunks(options.start_s, options.end_s, info.duration_s, info.fps, options.stride, pieces)
    return (info, chunks) if len(chunks) > 1 else None


def _lift_chunks(video: Path, options, info, results: list[dict], uplifter):
    from ..inference.pipeline.detect import detections_from_chunks
    from ..inference.pipeline.run import detect_options, lift_detections, track_hands

    det = detections_from_chunks(video, detect_options(options), info, results)
    hands = track_hands(video, det, options) if options.hands and det.detected.any() else None
    return lift_detections(det, options, uplifter=uplifter, hands=hands)


def ray_outcomes(videos: list[Path], options, address: str) -> Iterator[tuple]:
    """Submit every clip (long ones as chunks), then yield ``(index, clip, message, kind)`` (``clips.Outcome``'s
    fields) as each clip finishes; cancels what is left when closed."""
    import ray

    from ..inference.pipeline.clip_worker import options_to_dict
    from ..inference.pipeline.run import PipelineError, failure_kind, get_uplifter

    try:
        ray.init(address=address, log_to_driver=False, configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as err:
        for i in range(len(videos)):
            yield i, None, f"cannot connect to the Ray cluster at {address}: {err}".splitlines()[0], "failed"
        return
    whole = ray.remote(num_cpus=1, max_retries=MAX_RETRIES, retry_exceptions=False)(convert_task)
    part = ray.remote(num_cpus=1, max_retries=MAX_RETRIES, retry_exceptions=False)(detect_chunk_task)
    options = replace(options, workers=1)
    opts = options_to_dict(options)
    pending, split = {}, {}      # ref -> (clip index, chunk number or None); clip index -> (info, results)
    for i, v in enumerate(videos):
        plan = _chunks_for(Path(v), options)
        if plan is None:
            pending[whole.remote(str(Path(v).resolve()), opts)] = (i, None)
            continue
        info, chunks = plan
        split[i] = (info, [None] * len(chunks))
        for k, c in enumerate(chunks):
            pending[part.remote(str(Path(v).resolve()), (c.warm_s, c.start_s, c.end_s, k > 0), opts)] = (i, k)
    try:
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                i, k = pending.pop(ref)
                if i not in split and k is not None:
                    continue  # a chunk of a clip that already failed
                try:
                    value = ray.get(ref)
                except ray.exceptions.RayTaskError as err:      # the task itself raised: not retried
                    split.pop(i, None)
                    yield i, None, f"{videos[i]}: {' '.join(str(err.cause).split())[:300]}", "failed"
                    continue
                except ray.exceptions.RayError as err:          # its worker or node died every time
                    split.pop(i, None)
                    text = " ".join(str(err).split())[:300]
                    yield i, None, f"Ray task failed after {MAX_RETRIES} retries: {text}", "failed"
                    continue
                if k is None:
                    data, message, kind = value
                    yield (i, _clip_from_bytes(data), "", "") if data is not None else (i, None, message, kind)
                    continue
                info, results = split[i]
                results[k] = value
                if any(r is None for r in results):
                    continue
                del split[i]
                try:
                    clip = _lift_chunks(videos[i], options, info, results,
                                        get_uplifter(options.model_path, options.provider))
                except PipelineError as err:
                    yield i, None, str(err), failure_kind(err)
                    continue
                yield i, clip, "", ""
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)
        ray.shutdown()
