"""Video -> ``MotionClip``: detection, left/right repair, gap filling, uplifting, world placement and smoothing.

    convert_video(path, options, progress, cancel) -> MotionClip
    lift_detections(detections, options, progress, cancel, uplifter) -> MotionClip

Stages (names used for ``progress`` and ``MotionClip.timings``): "detect" (video decoding and
MediaPipe, timed as "read" and "detect"; ``options.person`` picks one of several people), "hands" (a second
pass for the kept person's hands, ``options.hands``), "flips"
(``flips.repair_swaps``), "gaps" (``gaps.fill_gaps``), "lift" (normalisation and
the ONNX uplifter at its own frame rate, resampling when the video's differs; loading the model
is timed as "load": ``convert_video`` loads it in the background during detection; then the body's
offsets, ``proportions``, and the limb directions, ``limb_fusion``), "world"
(``world_motion.solve_world``), "smooth" (``smoothing``) and "fingers" (``finger_motion``).
``progress(stage, done, total)`` is called from the calling thread;
``cancel`` (a ``threading.Event``) is checked between frames and stages and raises ``Cancelled``.
Every failure a user can cause or fix is a ``PipelineError`` with a one-line message.
"""
from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..core import skeleton
from .errors import Cancelled, NoPersonError, PipelineError, failure_kind  # noqa: F401 - part of this API
from .providers import (UplifterLoader, device_label, get_uplifter, resolve_provider,  # noqa: F401
                        _cached_uplifter)
from .detect import DEFAULT_MODEL as DEFAULT_TASK_PATH
from .detect import DELEGATES, DetectOptions, Detections, detect_video
from .detect_parallel import DetectionWorkerError, default_workers
from .camera_rotation import measured_turn
from .finger_motion import solve_fingers
from .flips import repair_swaps
from .hands import HandOptions, HandTracks
from .hands_parallel import detect_hands_parallel
from .gaps import fill_gaps
from .limb_fusion import fuse_limb_directions
from .motion_clip import MotionClip
from ..core.normalize import LIMB_LANDMARKS, normalize_landmarks
from .proportions import measured_offsets
from ..core.rotations import forward_kinematics, quat_canonical, quat_normalize
from .smoothing import position_jitter_mm, rotation_jitter_deg, smooth_positions, smooth_rotations
from .uplifter import Uplifter, UpliftResult
from .video import VideoError
from .world_motion import CAMERA_MOTIONS, WorldOptions, solve_world

Progress = Callable[[str, int, int], None]
STAGES = ("detect", "hands", "flips", "gaps", "lift", "world", "smooth", "fingers")
_FALLBACK_FPS = 30.0


@dataclass
class ConvertOptions:
    """What to convert and how: the ``[start_s, end_s)`` range, every ``stride``-th frame;
    ``smoothing`` 0 (off) .. 1 (strongest); ``in_place`` keeps only vertical root motion;
    ``focal_mm`` 35 mm-equivalent focal length (None: default); ``provider`` ONNX Runtime provider
    ("CUDAExecutionProvider" or short "cuda", None: automatic); detection gaps up to ``max_gap_s``
    are interpolated, longer ones left unkeyed; ``model_path`` / ``task_path``: uplifter .onnx and
    MediaPipe .task (None: the shipped ones); ``measure_proportions``: hips, spine base, neck and
    clavicles attach where the performer's do (``proportions.measured_offsets``), else the canonical
    skeleton's directions scaled to the predicted bone lengths; ``mirror_average``: average the
    uplifter's output with that of the mirrored landmarks (``Uplifter.lift``); ``fuse_limbs``: aim
    the limbs halfway between the rotation and the joints heads' directions
    (``limb_fusion.fuse_limb_directions``); ``repair_swaps``: undo MediaPipe's left/right label swaps
    (``flips.repair_swaps``) before lifting; ``plant_feet``: keep feet in contact with the floor from sliding
    (``world_motion.plant_root``; never with ``in_place``); ``person``: None follows the largest person seen,
    N the N-th of everyone seen, most present first (``detect.detect_people``); ``workers``: detection processes over
    time chunks (``detect_parallel``; None: CPU cores - 1); ``detect_device`` "gpu" tries MediaPipe's GPU delegate
    (CPU when it cannot start; the clip's ``info["warnings"]`` says so); ``camera_motion`` "auto" finds a camera
    that travels with the actor and then takes the root's travel from the planted feet (``world_motion`` step 7;
    ``info["camera_motion"]``; its own turn, a pan, is read from the background and taken out: ``camera_rotation``,
    "turning" when it only turned; over a textured floor its travel too, ``camera_travel``: "travelling"),
    "static" / "moving" say so. Contacts, planting and smoothing run at the
    clip's own rate (video fps / stride). ``hands``: track both hands (``hands.detect_hands``, a second pass
    looking at every ``hands_every``-th frame) and give the clip finger motion (``finger_motion``)."""
    start_s: float = 0.0
    end_s: float | None = None
    stride: int = 1
    smoothing: float = 0.5
    in_place: bool = False
    focal_mm: float | None = None
    provider: str | None = None
    max_gap_s: float = 0.5
    model_path: Path | None = None
    task_path: Path | None = None
    measure_proportions: bool = True
    mirror_average: bool = True
    fuse_limbs: bool = True
    repair_swaps: bool = True
    plant_feet: bool = True
    person: int | None = None
    workers: int | None = None
    detect_device: str = "cpu"
    camera_motion: str = "auto"
    hands: bool = True
    hands_every: int = 2

    def validate(self) -> None:
        """Raise PipelineError naming the first bad setting."""
        if not (math.isfinite(self.start_s) and self.start_s >= 0):
            raise PipelineError(f"start must be a time >= 0 s, got {self.start_s}")
        if self.end_s is not None and not self.end_s > self.start_s:
            raise PipelineError(f"end ({self.end_s} s) must be after start ({self.start_s} s)")
        if int(self.stride) != self.stride or self.stride < 1:
            raise PipelineError(f"stride must be a positive integer, got {self.stride}")
        if not 0.0 <= self.smoothing <= 1.0:
            raise PipelineError(f"smoothing must be between 0 and 1, got {self.smoothing}")
        if self.focal_mm is not None and not (math.isfinite(self.focal_mm) and self.focal_mm > 0):
            raise PipelineError(f"focal length must be > 0 mm, got {self.focal_mm}")
        if not (math.isfinite(self.max_gap_s) and self.max_gap_s >= 0):
            raise PipelineError(f"max gap must be >= 0 s, got {self.max_gap_s}")
        if self.person is not None and (int(self.person) != self.person or self.person < 0):
            raise PipelineError(f"person must be a number >= 0, got {self.person}")
        if self.camera_motion not in CAMERA_MOTIONS:
            raise PipelineError(f"camera must be one of {', '.join(CAMERA_MOTIONS)}, got {self.camera_motion!r}")
        if self.detect_device not in DELEGATES:
            raise PipelineError(f"pose detection device must be one of {', '.join(DELEGATES)}, got {self.detect_device!r}")
        if int(self.hands_every) != self.hands_every or self.hands_every < 1:
            raise PipelineError(f"hands every must be a positive whole number of frames, got {self.hands_every}")
        if self.workers is not None and (int(self.workers) != self.workers or self.workers < 1):
            raise PipelineError(f"workers must be a number >= 1, got {self.workers}")


class _Run:
    """Stage bookkeeping for one conversion: timings, progress and cancel checks."""

    def __init__(self, progress: Progress | None, cancel: threading.Event | None):
        self.progress, self.cancel = progress, cancel
        self.timings: dict[str, float] = {}

    def check(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled("conversion cancelled")

    def report(self, stage: str, done: int, total: int) -> None:
        self.check()
        if self.progress is not None:
            self.progress(stage, done, total)

    def stage(self, name: str, fn, *args, **kwargs):
        self.report(name, 0, 1)
        t0 = time.perf_counter()
        out = fn(*args, **kwargs)
        self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - t0
        self.report(name, 1, 1)
        return out


def detect_options(o: ConvertOptions) -> DetectOptions:
    """The detector settings a conversion with options ``o`` uses."""
    return DetectOptions(model_path=Path(o.task_path) if o.task_path else DEFAULT_TASK_PATH,
                         start_s=float(o.start_s), end_s=o.end_s, stride=int(o.stride), person=o.person,
                         workers=o.workers, delegate=o.detect_device)


def convert_video(path, options: ConvertOptions | None = None, progress: Progress | None = None,
                  cancel: threading.Event | None = None, uplifter: Uplifter | None = None) -> MotionClip:
    """Convert the person in video ``path`` to a MotionClip (see the module docstring).

    Raises PipelineError (unreadable video, bad options, missing model), NoPersonError, Cancelled.
    ``uplifter``: an already loaded model to use (default: ``get_uplifter`` for the options).
    """
    o = options or ConvertOptions()
    o.validate()
    run = _Run(progress, cancel)
    run.check()
    path = Path(path)
    # load the model while MediaPipe runs; a bad provider or model path fails before detection
    loader = UplifterLoader(o.model_path, o.provider) if uplifter is None else None
    dopt = detect_options(o)
    t0 = time.perf_counter()
    try:
        det = detect_video(path, dopt, progress=lambda done, total: run.report("detect", done, total))
    except (VideoError, DetectionWorkerError) as err:
        raise PipelineError(str(err)) from err
    except (FileNotFoundError, ValueError) as err:  # missing .task bundle; bad range
        raise PipelineError(f"{path}: {err}".splitlines()[0]) from err
    wall = time.perf_counter() - t0
    hands = run.stage("hands", track_hands, path, det, o, run.report) if o.hands and det.detected.any() else None
    if loader is not None:
        t0 = time.perf_counter()
        uplifter = loader.result()
        run.timings["load"] = time.perf_counter() - t0  # only the wait after detection: the cost it adds
    clip = lift_detections(det, o, progress, cancel, uplifter, hands=hands)
    clip.timings = {"read": max(wall - det.detect_s, 0.0), "detect": det.detect_s,
                    **run.timings, **clip.timings}
    clip.timings["total"] = sum(v for k, v in clip.timings.items() if k != "total")
    return clip


def track_hands(path, det: Detections, o: ConvertOptions, progress: Progress | None = None) -> HandTracks:
    """The hands of the person in ``det`` (``hands.detect_hands``, every ``o.hands_every``-th frame, over time chunks
    on ``o.workers`` processes: ``hands_parallel``) for ``lift_detections``; PipelineError when the hand model is
    missing or a worker fails."""
    try:
        return detect_hands_parallel(path, det, HandOptions(every=int(o.hands_every)),
                                     workers=o.workers or default_workers(),
                                     progress=None if progress is None else lambda done, total: progress("hands", done,
                                                                                                         total))
    except (FileNotFoundError, DetectionWorkerError, VideoError, RuntimeError) as err:   # e.g. no hand model here
        raise PipelineError(str(err).splitlines()[0]) from err


def _people_warning(det: Detections, o: ConvertOptions) -> list[str]:
    """One line when MediaPipe saw more than one person at once and the largest one was followed by default."""
    most = int(det.num_people.max()) if len(det.num_people) else 0
    if most < 2 or o.person is not None:
        return []
    share = float(np.mean(det.num_people >= 2))
    return [f"{most} people seen at once in {100 * share:.0f}% of frames; followed the largest one (choose another "
            "with --person N or the panel's Person; --list-people lists them)"]


def _gap_records(gaps, times_s: np.ndarray) -> list[dict]:
    out = []
    for g in gaps:
        start, stop = int(g.start), int(g.stop)
        out.append({"start": start, "stop": stop, "frames": stop - start, "filled": bool(g.filled),
                    "start_s": float(times_s[start]), "duration_s": float(g.duration_s)})
    return out


def _confidence(det: Detections) -> np.ndarray:
    """(T,) float32: mean visibility of the 12 limb landmarks in detected frames, else 0."""
    vis = np.nan_to_num(det.landmarks[:, LIMB_LANDMARKS, 2], nan=0.0).mean(axis=1)
    return np.where(det.detected, np.clip(vis, 0.0, 1.0), 0.0).astype(np.float32)


def _interp_time(x: np.ndarray, t_src: np.ndarray, t_dst: np.ndarray, quat: bool = False) -> np.ndarray:
    """(T, ...) samples at times t_src (increasing) -> (T', ...) at t_dst, linear in time (held
    beyond the ends); ``quat``: (..., 4) wxyz, hemisphere-aligned and renormalised (w >= 0)."""
    x = np.asarray(x)
    if len(t_src) == 1:
        return np.repeat(x, len(t_dst), axis=0)
    i1 = np.clip(np.searchsorted(t_src, t_dst, side="right"), 1, len(t_src) - 1)
    i0 = i1 - 1
    w = np.clip((t_dst - t_src[i0]) / np.maximum(t_src[i1] - t_src[i0], 1e-12), 0.0, 1.0)
    w = w.reshape((-1,) + (1,) * (x.ndim - 1))
    a, b = x[i0].astype(np.float64), x[i1].astype(np.float64)
    if quat:
        b = np.where(np.sum(a * b, axis=-1, keepdims=True) < 0, -b, b)
    out = (1.0 - w) * a + w * b
    if quat:
        out = quat_canonical(quat_normalize(out))
    return out.astype(x.dtype)


def _lift_at_model_rate(uplifter: Uplifter, landmarks: np.ndarray, times_s: np.ndarray, fps: float,
                        width: int, height: int, mirror_average: bool = False) -> tuple[UpliftResult, bool]:
    """Lift (T, 33, 3) landmarks sampled at ``times_s``; when their rate is not the model's (other
    fps, stride, variable frame rate) they are resampled to the model's rate for the network and
    the results back to ``times_s``. Returns (result at times_s, whether it resampled)."""
    rate = uplifter.fps
    steps = np.diff(times_s)
    regular = len(steps) == 0 or (abs(fps - rate) <= 0.05 * rate and np.ptp(steps) <= 0.25 / rate)
    if regular:
        return uplifter.lift(normalize_landmarks(landmarks, width, height), mirror_average), False
    grid = times_s[0] + np.arange(int(np.floor((times_s[-1] - times_s[0]) * rate + 1e-6)) + 1) / rate
    res = uplifter.lift(normalize_landmarks(_interp_time(landmarks, times_s, grid), width, height), mirror_average)
    return UpliftResult(_interp_time(res.joints, grid, times_s), _interp_time(res.rotations, grid, times_s, quat=True),
                        _interp_time(res.bone_lengths, grid, times_s)), True


def _fk(local_rot: np.ndarray, root: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    return forward_kinematics(local_rot, root, offsets, skeleton.PARENTS)[0]


def lift_detections(det: Detections, options: ConvertOptions | None = None, progress: Progress | None = None,
                    cancel: threading.Event | None = None, uplifter: Uplifter | None = None,
                    hands: HandTracks | None = None) -> MotionClip:
    """Detections (2D landmarks of one person) -> MotionClip: flips, gaps, lift, world, smooth; with ``hands``
    (the same frames' ``HandTracks``) also fingers.

    Raises NoPersonError when no frame has the person, PipelineError for a model problem,
    Cancelled when ``cancel`` is set."""
    o = options or ConvertOptions()
    o.validate()
    run = _Run(progress, cancel)
    run.check()
    n = len(det.times_s)
    source = det.source or "landmarks"
    if n == 0 or not det.detected.any():
        raise NoPersonError(f"{source}: no person found in {n} frame{'s' if n != 1 else ''}")
    if uplifter is None:
        t0 = time.perf_counter()
        uplifter = get_uplifter(o.model_path, o.provider)
        run.timings["load"] = time.perf_counter() - t0
    fps = det.fps / max(int(det.stride), 1) if det.fps > 0 else _FALLBACK_FPS

    landmarks, swapped = det.landmarks, np.zeros(n, bool)
    if o.repair_swaps:
        fixed = run.stage("flips", repair_swaps, det.landmarks, det.detected, det.width, det.height)
        landmarks, swapped = fixed.landmarks, fixed.swapped_frames
    gf = run.stage("gaps", fill_gaps, landmarks, det.detected, det.times_s, max_gap_s=o.max_gap_s)
    res, resampled = run.stage("lift", _lift_at_model_rate, uplifter, gf.landmarks, np.asarray(det.times_s, np.float64),
                               fps, det.width, det.height, o.mirror_average)
    real = det.detected & np.asarray(gf.keyed, dtype=bool)  # frames with a real detection: the body's size
    measured = real if real.any() else det.detected
    lengths = np.median(res.bone_lengths[measured], axis=0).astype(np.float64)
    offsets = (measured_offsets(res.joints, res.rotations, lengths, measured) if o.measure_proportions
               else skeleton.offsets_from_lengths(lengths))
    rotations = fuse_limb_directions(res.joints, res.rotations, offsets) if o.fuse_limbs else res.rotations
    wopt = WorldOptions(focal_mm=o.focal_mm, in_place=o.in_place, plant_feet=o.plant_feet, camera_motion=o.camera_motion)
    keyed = np.asarray(gf.keyed, dtype=bool)
    def place():
        w = solve_world(gf.landmarks, det.width, det.height, res.joints, res.rotations[:, 0], offsets, wopt, fps=fps,
                        keyed=keyed)
        measured = measured_turn(det, w.camera, o.camera_motion) if not o.in_place else None
        if measured is None:
            return w
        turned, centre = measured
        w = solve_world(gf.landmarks, det.width, det.height, res.joints, res.rotations[:, 0], offsets, wopt, fps=fps,
                        keyed=keyed, cam_turn=turned, cam_centre=centre)   # the camera's motion taken out, solved again
        w.camera["camera_turn_deg"] = float(np.degrees(np.arccos(np.clip(
            (np.trace(turned, axis1=1, axis2=2) - 1.0) / 2.0, -1.0, 1.0))).max())
        if centre is not None:
            w.camera["camera_travel_m"] = float(np.linalg.norm(centre[-1] - centre[0]))
            w.camera["camera_motion"] = "travelling"           # its path followed over the floor
        elif w.camera["camera_motion"] == "static":
            w.camera["camera_motion"] = "turning"              # it turned where it stood (a pan)
        return w

    world = run.stage("world", place)

    def smooth():
        local = np.array(rotations, dtype=np.float64)
        local[:, 0] = world.root_rot
        root = np.asarray(world.root_translation, dtype=np.float64)
        before = (rotation_jitter_deg(local, fps, keyed), position_jitter_mm(_fk(local, root, offsets), keyed))
        if o.smoothing > 0:
            local = smooth_rotations(local, o.smoothing, fps, keyed)
            root = smooth_positions(root, o.smoothing, fps, keyed)
        joints = _fk(local, root, offsets)
        return local, root, joints, before, (rotation_jitter_deg(local, fps, keyed), position_jitter_mm(joints, keyed))

    local, root, joints, before, after = run.stage("smooth", smooth)
    if hands is not None and swapped.any():
        hands = hands.swap_sides(swapped)           # the hands were looked for at the unrepaired wrists
    fingers = (run.stage("fingers", solve_fingers, hands.image_points(det.width, det.height), hands.found, det.times_s,
                         fps, o.smoothing, o.max_gap_s) if hands is not None else None)
    camera = {k: (v.tolist() if isinstance(v, np.generic) else v) for k, v in world.camera.items()}
    info = {"width": int(det.width), "height": int(det.height), "video_fps": float(det.fps), "stride": int(det.stride),
            "frames": n, "detected_frames": int(det.detected.sum()), "detected_fraction": det.detected_fraction,
            "keyed_fraction": float(np.mean(keyed)), "gaps": _gap_records(gf.gaps, det.times_s),
            "max_people": int(det.num_people.max()) if len(det.num_people) else 0,
            "swapped_frames": int(swapped.sum()),
            "body_height_m": float(skeleton.rest_height(offsets)),
            "jitter_rot_deg_before": float(before[0]), "jitter_rot_deg_after": float(after[0]),
            "jitter_pos_mm_before": float(before[1]), "jitter_pos_mm_after": float(after[1]),
            "smoothing": float(o.smoothing), "in_place": bool(o.in_place),
            "contacts": np.asarray(world.contacts, dtype=bool), **camera,
            "lift_fps": float(uplifter.fps), "resampled_for_lift": resampled,
            "model_version": uplifter.model_version, "provider": uplifter.session.get_providers()[0],
            "detect_processes": int(det.processes),
            **({"hands_keyed_fraction": fingers.keyed_fraction, "hands_every": int(o.hands_every)} if fingers else {}),
            "warnings": ([det.device_note] if det.device_note else []) + _people_warning(det, o),
            "notes": ([f"the camera moves (the feet travel {camera['travel_feet_m']:.1f} m, the person's place in "
                       f"the image {camera['travel_camera_m']:.1f} m): root travel taken from the feet; say the "
                       "camera is static if it is not"]
                      if o.camera_motion == "auto" and camera.get("camera_motion") == "moving" else [])
                     + ([f"the camera turns (up to {camera['camera_turn_deg']:.0f} deg, seen in the background): its "
                         "turn is taken out of the motion"] if "camera_turn_deg" in camera else [])
                     + ([f"the camera travels ({camera['camera_travel_m']:.1f} m, followed over the floor): its path "
                         "is taken out of the motion"] if "camera_travel_m" in camera else []),
            "devices": {"detect": f"{det.device} (MediaPipe)" + (f" x {det.processes} processes" if det.processes > 1 else ""),
                        "lift": device_label(uplifter.session.get_providers()[0])}}
    timings = dict(run.timings)
    timings["total"] = sum(timings.values())
    return MotionClip(
        fps=float(fps), times_s=np.asarray(det.times_s, np.float64),
        frame_indices=np.asarray(det.frame_indices, np.int64),
        local_rot=local.astype(np.float32), root_translation=root.astype(np.float32), joints=joints.astype(np.float32),
        offsets=offsets.astype(np.float32), confidence=_confidence(det), keyed=keyed,
        timings=timings, source=str(det.source), info=info,
        fingers=None if fingers is None else fingers.rotations, finger_keyed=None if fingers is None else fingers.keyed)


__all__ = ["ConvertOptions", "PipelineError", "NoPersonError", "Cancelled", "STAGES", "convert_video", "track_hands",
           "lift_detections", "get_uplifter", "resolve_provider"]
