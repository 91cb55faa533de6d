"""One chunk of the hand pass, run in its own process (started by ``hands_parallel``): ``hands.detect_hands`` over
the body frames saved at ``args["body"]`` (times_s, landmarks, detected, stride), written as an npz (landmarks,
world, score, detect_s) to ``args["out"]``; prints ``progress N`` as frames are done."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np

from .hands import HandOptions, detect_hands


def worker_main(args: dict) -> None:
    o = HandOptions(**args["options"])
    o.model_path = Path(o.model_path)
    with np.load(args["body"]) as z:
        body = SimpleNamespace(times_s=z["times_s"], landmarks=z["landmarks"], detected=z["detected"],
                               stride=int(z["stride"]))
    tracks = detect_hands(args["path"], body, o, progress=lambda done, total: print(f"progress {done}", flush=True))
    np.savez(args["out"], landmarks=tracks.landmarks, world=tracks.world, score=tracks.score,
             detect_s=np.float64(tracks.detect_s))
