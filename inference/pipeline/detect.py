"""2D pose detection: MediaPipe ``PoseLandmarker`` (Tasks API, VIDEO mode) on a shipped ``.task`` bundle.

Runs fully offline from ``models/pose_landmarker_full.task`` (built by ``dev/build_pose_task.py``).
Per frame it keeps ONE person, in ``skeleton.MP_LANDMARK_NAMES`` order:

* ``landmarks`` (T, 33, 3) float32: x, y normalised to the upright image (0..1, y down), visibility
  (0..1); NaN x, y and visibility 0 in frames without the person.
* ``world_landmarks`` (T, 33, 3) float32: MediaPipe's own metric 3D (metres, origin between the
  hips, x to the image right, y down, z away from the camera), kept for comparison; NaN without
  the person.

Which person (``num_poses`` > 1 lets MediaPipe report several): the first frame, or the first after
the person has been lost for more than ``reacquire_s``, takes the largest one (landmark bounding
box); after that, each frame takes the candidate closest to the previous pick -- mid-hip distance in
units of the previous bounding-box diagonal, minus bounding-box IoU -- and none at all when even the
closest one's mid-hip jumped more than ``max_jump`` diagonals (another person while ours is hidden).
With ``DetectOptions.person = N`` the N-th of everyone seen (``people.track_people``, most present first)
is kept instead; ``detect_people`` lists them.

Small people (``DetectOptions.zoom``, on by default): in a frame where the full frame has nobody, ``zoom`` looks in
overlapping half-size tiles and then follows whoever it found in a crop, so a person down to about a sixth of the
frame's height (a wide shot) is still detected.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..core import skeleton
from ..core.assets import POSE_TASK
from . import video
from .mediapipe_import import PROTOBUF_OK, gpu_fallback_note, import_mediapipe  # noqa: F401 - part of this module's API
from .detect_parallel import default_workers, join_chunks, plan_chunks, scan_chunks
from .people import PersonChooser, choose_person  # noqa: F401 - choose_person is part of this module's API
from .zoom import ZoomSearch

DEFAULT_MODEL = POSE_TASK
DELEGATES = ("cpu", "gpu")
_NPZ_KEYS = ("times_s", "frame_indices", "landmarks", "presence", "world_landmarks", "num_people")


@dataclass
class DetectOptions:
    """Detector settings, and the part of the video to read (``[start_s, end_s)``, every ``stride``-th)."""
    model_path: Path = DEFAULT_MODEL
    num_poses: int = 2
    min_detection_confidence: float = 0.5
    min_presence_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    max_jump: float = 1.0
    reacquire_s: float = 1.0
    start_s: float = 0.0
    end_s: float | None = None
    stride: int = 1
    person: int | None = None       # None: follow the largest person (below); N: the N-th of ``people.track_people``
    workers: int | None = None      # processes over time chunks (``detect_parallel``); None: CPU cores - 1
    delegate: str = "cpu"           # "gpu": MediaPipe's GPU delegate, falling back to the CPU (``device_note``)
    zoom: bool = True               # nobody in the full frame: look in tiles, follow who is found in a crop (``zoom``)


@dataclass
class Detections:
    """One person's 2D (and MediaPipe 3D) landmarks over T frames; see the module docstring.

    ``times_s`` (T,) float64 presentation times; ``frame_indices`` (T,) int64 source frame numbers;
    ``presence`` (T,) float32 mean landmark presence of the kept person (0 = no person);
    ``num_people`` (T,) int16 people MediaPipe reported; ``width``/``height`` upright image size in
    pixels; ``fps`` the video's nominal rate (samples are every ``stride``-th frame of it);
    ``detect_s`` wall time spent in the detector (chunk-parallel: the whole scan's); ``processes`` how many
    detection processes ran (1: in this process); ``device`` where MediaPipe ran ("CPU" or "GPU") and
    ``device_note`` the one-line message when the GPU was asked for but the CPU was used ("" otherwise).
    """
    times_s: np.ndarray
    frame_indices: np.ndarray
    landmarks: np.ndarray
    presence: np.ndarray
    world_landmarks: np.ndarray
    num_people: np.ndarray
    width: int
    height: int
    fps: float
    stride: int = 1
    source: str = ""
    detect_s: float = 0.0
    processes: int = 1
    device: str = "CPU"
    device_note: str = ""

    @property
    def detected(self) -> np.ndarray:
        """(T,) bool: frames with the person."""
        return self.presence > 0

    @property
    def detected_fraction(self) -> float:
        return float(self.detected.mean()) if len(self.presence) else 0.0

    def save_npz(self, path: str | os.PathLike, extra: dict | None = None) -> None:
        """Write the detections (``extra``: more arrays to keep beside them, e.g. ``hands.HandTracks.arrays``)."""
        meta = dict(width=self.width, height=self.height, fps=self.fps, stride=self.stride,
                    source=self.source, detect_s=self.detect_s,
                    landmark_names=np.array(skeleton.MP_LANDMARK_NAMES))
        np.savez_compressed(path, **{k: getattr(self, k) for k in _NPZ_KEYS}, **meta, **(extra or {}))

    @classmethod
    def load_npz(cls, path: str | os.PathLike) -> "Detections":
        with np.load(path, allow_pickle=False) as z:
            names = tuple(str(n) for n in z["landmark_names"])
            if names != skeleton.MP_LANDMARK_NAMES:
                raise ValueError(f"{path}: landmark order differs from skeleton.MP_LANDMARK_NAMES")
            return cls(**{k: z[k] for k in _NPZ_KEYS}, width=int(z["width"]), height=int(z["height"]),
                       fps=float(z["fps"]), stride=int(z["stride"]), source=str(z["source"]),
                       detect_s=float(z["detect_s"]))


def _check_model(path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"pose model not found: {path} "
                                "(build it: python -m uplift_mocap.dev.build_pose_task)")
    return path


class PoseDetector:
    """``PoseLandmarker`` in VIDEO mode plus the one-person choice; use as a context manager.

    ``detect(rgb, time_s)`` takes (H, W, 3) uint8 RGB frames in increasing time order and returns
    ``(landmarks (33, 3), world (33, 3), presence, num_people)`` with NaN / 0 when no person is kept.
    """

    def __init__(self, options: DetectOptions | None = None):
        self.options = options or DetectOptions()
        path = _check_model(self.options.model_path)
        self._mp, vision, BaseOptions = import_mediapipe()
        o = self.options
        if o.delegate not in DELEGATES:
            raise ValueError(f"pose detection device must be one of {', '.join(DELEGATES)}, got {o.delegate!r}")

        def create(delegate, mode="VIDEO", num_poses=int(o.num_poses)):
            base = BaseOptions(model_asset_path=str(path), delegate=getattr(BaseOptions.Delegate, delegate))
            return vision.PoseLandmarker.create_from_options(vision.PoseLandmarkerOptions(
                base_options=base, running_mode=getattr(vision.RunningMode, mode), num_poses=num_poses,
                min_pose_detection_confidence=o.min_detection_confidence,
                min_pose_presence_confidence=o.min_presence_confidence,
                min_tracking_confidence=o.min_tracking_confidence))

        self.device, self.device_note = "CPU", ""
        if o.delegate == "gpu":
            try:
                self._landmarker = create("GPU")
                self.device = "GPU"
            except Exception as err:  # noqa: BLE001 - any failure of the GPU graph means: use the CPU
                self.device_note = gpu_fallback_note(err)
        try:
            if self.device == "CPU":
                self._landmarker = create("CPU")
        except TypeError as err:
            if PROTOBUF_OK:
                raise
            raise RuntimeError("mediapipe was imported before uplift_mocap.inference.pipeline.detect, so its "
                               "protobuf>=5 patch came too late: import detect first") from err
        self._last_ms = -1
        self._chooser = PersonChooser(o.max_jump, o.reacquire_s)
        self._zoom_marks: dict = {}                     # "IMAGE" / "VIDEO": one-pose landmarkers, made when needed

        def zoom_mark(mode):
            if mode not in self._zoom_marks:
                self._zoom_marks[mode] = create("CPU", mode, 1)
            return self._zoom_marks[mode]

        self._zoom = ZoomSearch(lambda rgb: self._arrays(zoom_mark("IMAGE").detect(self._image(rgb))),
                                lambda rgb, ms: self._arrays(zoom_mark("VIDEO").detect_for_video(self._image(rgb), ms))
                                ) if o.zoom else None

    def __enter__(self) -> "PoseDetector":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Release MediaPipe's graphs (idempotent)."""
        lm, self._landmarker = getattr(self, "_landmarker", None), None
        marks, self._zoom_marks = getattr(self, "_zoom_marks", {}), {}
        for graph in [lm, *marks.values()]:
            if graph is not None:
                graph.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown: nothing left to release into
            pass

    def _image(self, rgb: np.ndarray):
        return self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))

    @staticmethod
    def _arrays(result) -> tuple[np.ndarray, np.ndarray]:
        arr = np.array([[(p.x, p.y, p.visibility or 0.0, p.presence or 0.0) for p in pose]
                        for pose in result.pose_landmarks], np.float32).reshape(-1, skeleton.NUM_LANDMARKS, 4)
        world = np.array([[(p.x, p.y, p.z) for p in pose] for pose in result.pose_world_landmarks],
                         np.float32).reshape(-1, skeleton.NUM_LANDMARKS, 3)
        return arr, world

    def detect_all(self, rgb: np.ndarray, time_s: float) -> tuple[np.ndarray, np.ndarray]:
        """Every pose MediaPipe reports in this frame: (K, 33, 4) [x, y normalised, visibility, presence]
        and (K, 33, 3) world landmarks (K = 0 without anyone). Where the full frame has nobody, a person too small
        for it is looked for in tiles and followed in a crop (``zoom``; K = 1 there)."""
        if self._landmarker is None:
            raise RuntimeError("PoseDetector is closed")
        ms = max(int(round(time_s * 1000.0)), self._last_ms + 1)  # MediaPipe needs strictly increasing
        self._last_ms = ms
        arr, world = self._arrays(self._landmarker.detect_for_video(self._image(rgb), ms))
        if self._zoom is not None:
            if len(arr):
                self._zoom.seen(arr, rgb.shape[1], rgb.shape[0])
            else:
                found = self._zoom.track(rgb, ms) or self._zoom.search(rgb, ms)
                if found is not None:
                    return found
        return arr, world

    def detect(self, rgb: np.ndarray, time_s: float):
        arr, worlds = self.detect_all(rgb, time_s)
        return self.choose(arr, worlds, time_s, rgb.shape[1] / rgb.shape[0])

    def choose(self, arr: np.ndarray, worlds: np.ndarray, time_s: float, aspect: float):
        """The one-person choice over ``detect_all``'s poses (``PersonChooser.choose``)."""
        return self._chooser.choose(arr, worlds, time_s, aspect)


def detect_video(path: str | os.PathLike, options: DetectOptions | None = None,
                 progress: Callable[[int, int], None] | None = None) -> Detections:
    """Detect the person in every kept frame of ``path`` (streamed; memory does not grow per frame
    beyond the (33, 3) results). ``progress(done, total)`` after each frame, ``total`` an estimate.
    Raises ``video.VideoError`` for unreadable video, ``FileNotFoundError`` for a missing model.
    """
    o = options or DetectOptions()
    return _detections(path, o, _scan(path, o, progress, choose=o.person is None, keep_all=o.person is not None))


def detections_from_chunks(path, options: DetectOptions, info: video.VideoInfo, results: list[dict]) -> Detections:
    """``detect_video``'s result from chunk results computed elsewhere (``detect_worker.detect_chunk`` over
    ``detect_parallel.plan_chunks``, e.g. one Ray task per chunk), in time order."""
    scan = _choose_over(join_chunks(results), options, info, choose=options.person is None,
                        keep_all=options.person is not None)
    scan["processes"] = len(results)
    return _detections(path, options, scan)


def _detections(path, o: DetectOptions, scan: dict, track=None) -> Detections:
    """The kept person of a scan (the one-person choice, track ``o.person``, or ``track``) as ``Detections``."""
    info, times_a, idx = scan["info"], scan["times"], scan["indices"]
    people = scan["counts"]
    if track is None and o.person is None:
        lms, pres, world = scan["chosen"]
    else:
        if track is None:
            tracks = _tracks(scan, o)
            if not 0 <= o.person < len(tracks):
                raise PersonChoiceError(f"{path}: no person {o.person}: {len(tracks)} "
                                        f"{'person' if len(tracks) == 1 else 'people'} seen (numbered 0 to "
                                        f"{len(tracks) - 1} by time on screen)")
            track = tracks[o.person]
        lms, pres, world = track.landmarks, track.presence, track.world
    fps = info.fps
    if fps <= 0 and len(times_a) > 1:
        fps = float(1.0 / np.median(np.diff(times_a)))
    return Detections(times_a, idx, np.asarray(lms, np.float32), np.asarray(pres, np.float32),
                      np.asarray(world, np.float32), people, info.width, info.height, fps,
                      int(o.stride), str(path), scan["detect_s"], scan.get("processes", 1), scan["device"],
                      scan["device_note"])


class PersonChoiceError(ValueError):
    """``DetectOptions.person`` names a person the video does not have."""


def _tracks(scan: dict, o: DetectOptions) -> list:
    from .people import track_people

    return track_people(scan["poses"], scan["worlds"], scan["times"], scan["info"].width / scan["info"].height,
                        o.max_jump, o.reacquire_s)


def detect_people(path: str | os.PathLike, options: DetectOptions | None = None,
                  progress: Callable[[int, int], None] | None = None):
    """Everyone in the video: (``people.PersonTrack`` list, most present first; times_s (T,))."""
    scan = _scan(path, options or DetectOptions(), progress, choose=False, keep_all=True)
    return _tracks(scan, options or DetectOptions()), scan["times"]


def detect_everyone(path: str | os.PathLike, options: DetectOptions | None = None,
                    progress: Callable[[int, int], None] | None = None) -> list[Detections]:
    """One ``Detections`` per person seen (``people.track_people``, most present first), from one pass."""
    o = options or DetectOptions()
    scan = _scan(path, o, progress, choose=False, keep_all=True)
    return [_detections(path, o, scan, track) for track in _tracks(scan, o)]


def _scan(path, o: DetectOptions, progress, choose: bool = True, keep_all: bool = False) -> dict:
    """One pass of the detector over the kept frames: the one-person choice (``choose``) and every pose of
    every frame (``keep_all``; otherwise only their number, so memory stays flat on long videos)."""
    info = video.probe(path)
    total = video.expected_frames(info, o.start_s, o.end_s, o.stride)
    workers = default_workers() if o.workers is None else int(o.workers)
    chunks = plan_chunks(o.start_s, o.end_s, info.duration_s, info.fps, o.stride, workers)
    if len(chunks) > 1:
        return _scan_parallel(path, o, info, chunks, workers, total, progress, choose, keep_all)
    times, idx, poses, worlds, lms, pres, world, counts = [], [], [], [], [], [], [], []
    detect_s = 0.0
    with PoseDetector(o) as det:
        device = {"device": det.device, "device_note": det.device_note}
        for n, frame in enumerate(video.iter_frames(path, o.start_s, o.end_s, o.stride), 1):
            t0 = time.perf_counter()
            arr, wl = det.detect_all(frame.image, frame.time_s)
            if choose:
                lm, w, p, _k = det.choose(arr, wl, frame.time_s, info.width / info.height)
                lms.append(lm)
                world.append(w)
                pres.append(p)
            detect_s += time.perf_counter() - t0
            times.append(frame.time_s)
            idx.append(frame.index)
            counts.append(len(arr))
            if keep_all:
                poses.append(arr)
                worlds.append(wl)
            if progress is not None:
                progress(n, max(total, n))
    empty = np.zeros((0, skeleton.NUM_LANDMARKS, 3), np.float32)
    return {"info": info, "times": np.asarray(times, np.float64), "indices": np.asarray(idx, np.int64),
            "poses": poses, "worlds": worlds, "detect_s": detect_s, "counts": np.asarray(counts, np.int16),
            "chosen": (np.stack(lms) if lms else empty, np.asarray(pres, np.float32), np.stack(world) if world else empty),
            **device}


def _scan_parallel(path, o: DetectOptions, info, chunks, workers: int, total: int, progress, choose: bool,
                   keep_all: bool) -> dict:
    """``_scan`` over time chunks in worker processes (``detect_parallel``); the same result layout."""
    _check_model(o.model_path)
    scan = _choose_over(scan_chunks(path, o, chunks, workers, total, progress), o, info, choose, keep_all)
    scan["processes"] = min(workers, len(chunks))
    return scan


def _choose_over(scan: dict, o: DetectOptions, info, choose: bool, keep_all: bool) -> dict:
    """Add ``info`` and the one-person choice (``chosen``) to a joined chunk scan; drop the poses unless
    ``keep_all``."""
    scan["info"] = info
    lms, pres, world = [], [], []
    if choose:
        chooser = PersonChooser(o.max_jump, o.reacquire_s)
        for arr, wl, t in zip(scan["poses"], scan["worlds"], scan["times"]):
            lm, w, p, _k = chooser.choose(arr, wl, float(t), info.width / info.height)
            lms.append(lm)
            world.append(w)
            pres.append(p)
    if not keep_all:
        scan["poses"], scan["worlds"] = [], []
    empty = np.zeros((0, skeleton.NUM_LANDMARKS, 3), np.float32)
    scan["chosen"] = (np.stack(lms) if lms else empty, np.asarray(pres, np.float32),
                      np.stack(world) if world else empty)
    return scan
