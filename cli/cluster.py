"""``uplift convert --cluster ADDRESS``: one Ray task per video on an existing Ray cluster.

``ADDRESS`` is what ``ray.init`` takes: ``auto`` (the cluster this machine is a node of), ``HOST:PORT`` (a
head node's GCS address, from a machine of the cluster) or ``ray://HOST:PORT`` (Ray Client, from outside).
Each task converts one clip (``convert_video``, detection in one process, one CPU) and returns the clip as
``motion_clip.write_npz`` bytes; this process writes the outputs (``clips.convert_videos``), so a retried
task never writes anything twice and the worker nodes need no access to the output folder. The worker
nodes need the videos at the same path (shared storage, as on a render farm) and this package with its
run-time dependencies installed in the Python that runs Ray. A task whose worker process or node dies is
run again (up to ``MAX_RETRIES`` times); a conversion error (no person, unreadable video) is a result, not
a retry. Ray is an optional dependency (``pip install 'uplift-mocap[cluster]'``), never in the Blender zip.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Iterator

MAX_RETRIES = 3


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


def ray_outcomes(videos: list[Path], options, address: str) -> Iterator[tuple]:
    """Submit every clip, then yield ``(index, clip, message, kind)`` (``clips.Outcome``'s fields) as each task
    finishes; cancels what is left when closed."""
    import ray

    from ..inference.pipeline.clip_worker import options_to_dict

    try:
        ray.init(address=address, log_to_driver=False, configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as err:
        for i in range(len(videos)):
            yield i, None, f"cannot connect to the Ray cluster at {address}: {err}".splitlines()[0], "failed"
        return
    remote = ray.remote(num_cpus=1, max_retries=MAX_RETRIES, retry_exceptions=False)(convert_task)
    opts = options_to_dict(replace(options, workers=1))
    pending = {remote.remote(str(Path(v).resolve()), opts): i for i, v in enumerate(videos)}
    try:
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                i = pending.pop(ref)
                try:
                    data, message, kind = ray.get(ref)
                except ray.exceptions.RayError as err:
                    text = " ".join(str(err).split())[:300]
                    yield i, None, f"Ray task failed after {MAX_RETRIES} retries: {text}", "failed"
                    continue
                yield (i, _clip_from_bytes(data), "", "") if data is not None else (i, None, message, kind)
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)
        ray.shutdown()
