"""One clip of a batch, converted in its own process (started by ``workers.start_worker``, e.g. ``uplift convert
--jobs N``): ``convert_video`` with the given options, the clip written with ``motion_clip.write_npz`` to
``args["out"]``, or, when the conversion fails, ``{"message": ..., "kind": run.failure_kind(...)}`` as JSON
to ``args["out"] + ".error.json"``. Prints ``progress DONE TOTAL`` lines during detection.
"""
from __future__ import annotations

import json
from pathlib import Path

from .motion_clip import write_npz
from .run import ConvertOptions, PipelineError, convert_video, failure_kind

PATH_FIELDS = ("model_path", "task_path")


def options_to_dict(options: ConvertOptions) -> dict:
    """ConvertOptions as JSON-able values (paths as strings); ``options_from_dict`` inverts it."""
    return {k: (str(v) if k in PATH_FIELDS and v is not None else v) for k, v in vars(options).items()}


def options_from_dict(values: dict) -> ConvertOptions:
    return ConvertOptions(**{k: (Path(v) if k in PATH_FIELDS and v is not None else v) for k, v in values.items()})


def worker_main(args: dict) -> None:
    options = options_from_dict(args["options"])

    def progress(stage, done, total):
        if stage == "detect":
            print(f"progress {done} {total}", flush=True)

    try:
        clip = convert_video(args["video"], options, progress=progress)
    except PipelineError as err:
        Path(args["out"] + ".error.json").write_text(json.dumps({"message": str(err), "kind": failure_kind(err)}))
        return
    write_npz(clip, args["out"])
