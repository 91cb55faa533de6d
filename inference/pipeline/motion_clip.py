"""``MotionClip``: the result of the video pipeline, and its writers (npz, JSON, BVH).

A clip is canonical-skeleton motion in Blender's world frame (Z up, metres, character faces -Y,
quaternions wxyz), one sample per kept video frame; see ``docs/pipeline-contract.md``.

Writers are registered by format name in ``WRITERS`` (``bvh``, ``npz``, ``json``); other front
ends (the Blender add-on: ``blend``) add theirs with ``register_writer``, and ``write_clip``
writes any registered set. ``read_npz`` restores a clip exactly.
"""
from __future__ import annotations

import importlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np

from ..core import skeleton
from ..mocap.bvh_writer import write_bvh as _write_bvh_file
from ..core.rotations import quat_normalize

_ARRAYS = ("times_s", "frame_indices", "local_rot", "root_translation", "joints", "offsets", "confidence",
           "keyed")
_FINGER_ARRAYS = ("fingers", "finger_keyed")    # present when the clip has fingers
_INFO_ARRAY = "info."           # npz key prefix of ndarray values in ``info``
FORMAT_ID = "uplift-motion-clip"
FORMAT_VERSION = 1


@dataclass
class MotionClip:
    """Canonical-skeleton motion of one video (shapes: T samples, J = skeleton.NUM_JOINTS joints).

    fps: nominal sample rate (video fps / stride). times_s (T,) float64 presentation times in the
    source video (s); frame_indices (T,) int64 source frame numbers. local_rot (T, J, 4) float32
    wxyz, rest-relative local rotations (index 0: the pelvis' world rotation). root_translation
    (T, 3) float32 m, pelvis world position, floor at Z = 0. joints (T, J, 3) float32 m world
    positions = FK(local_rot, root_translation, offsets). offsets (J, 3) float32 m rest offsets of
    this body. confidence (T,) float32 0..1 (0 = no detection). keyed (T,) bool frames to key
    (False inside long detection gaps). timings: seconds per stage. info: extras (JSON-able values
    or ndarrays). fingers (T, 30, 4) float32 wxyz rest-relative local rotations of
    ``skeleton.FINGER_JOINT_NAMES`` (every frame filled) and finger_keyed (T, 2) bool per hand (left, right),
    or None when hands were not tracked (``full_motion`` joins them to the body).
    """
    fps: float
    times_s: np.ndarray
    frame_indices: np.ndarray
    local_rot: np.ndarray
    root_translation: np.ndarray
    joints: np.ndarray
    offsets: np.ndarray
    confidence: np.ndarray
    keyed: np.ndarray
    joint_names: tuple[str, ...] = skeleton.JOINT_NAMES
    timings: dict[str, float] = field(default_factory=dict)
    source: str = ""
    info: dict = field(default_factory=dict)
    fingers: np.ndarray | None = None
    finger_keyed: np.ndarray | None = None

    @property
    def has_fingers(self) -> bool:
        return self.fingers is not None

    @property
    def num_frames(self) -> int:
        return int(self.local_rot.shape[0])

    @property
    def duration_s(self) -> float:
        return self.num_frames / self.fps if self.fps > 0 else 0.0


def clip_from_motion(local_rot: np.ndarray, root_translation: np.ndarray, offsets: np.ndarray, fps: float,
                     source: str = "") -> MotionClip:
    """A fully keyed MotionClip of canonical motion (e.g. ``mocap.convert.load_canonical``'s): local_rot
    (T, J, 4) wxyz, root_translation (T, 3) m, offsets (J, 3) m; joints by forward kinematics."""
    from ..core.rotations import forward_kinematics

    t = len(local_rot)
    joints = forward_kinematics(np.asarray(local_rot, np.float64), np.asarray(root_translation, np.float64),
                                np.asarray(offsets, np.float64), skeleton.PARENTS)[0]
    return MotionClip(fps=float(fps), times_s=np.arange(t) / float(fps), frame_indices=np.arange(t),
                      local_rot=np.asarray(local_rot, np.float32), root_translation=np.asarray(root_translation, np.float32),
                      joints=joints.astype(np.float32), offsets=np.asarray(offsets, np.float32),
                      confidence=np.ones(t, np.float32), keyed=np.ones(t, bool), source=source)


# --- helpers ----------------------------------------------------------------------------------------
def _jsonable(value):
    """numpy scalars/arrays (also nested in dicts/lists/tuples) -> plain Python for json."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def dense_motion(clip: MotionClip) -> tuple[np.ndarray, np.ndarray]:
    """(local_rot (T, J, 4), root_translation (T, 3)) float64 with every unkeyed frame filled:
    normalised linear interpolation (hemisphere-aligned) between the keyed frames around it, the
    nearest keyed frame before the first / after the last. Raises ValueError without keyed frames."""
    q = np.asarray(clip.local_rot, dtype=np.float64)
    root = np.asarray(clip.root_translation, dtype=np.float64)
    keyed = np.asarray(clip.keyed, dtype=bool)
    if keyed.all():
        return q, root
    idx = np.flatnonzero(keyed)
    if len(idx) == 0:
        raise ValueError("clip has no keyed frames: nothing to write")
    t = np.arange(len(keyed))
    hi = np.clip(np.searchsorted(idx, t), 1, len(idx) - 1) if len(idx) > 1 else np.zeros_like(t)
    lo = np.maximum(hi - 1, 0)
    i0, i1 = idx[lo], idx[hi]
    span = np.maximum(i1 - i0, 1)
    w = np.clip((t - i0) / span, 0.0, 1.0)[:, None]           # 0 before the first, 1 after the last
    q0, q1 = q[i0], q[i1]
    q1 = np.where(np.sum(q0 * q1, axis=-1, keepdims=True) < 0, -q1, q1)
    fill_q = quat_normalize((1.0 - w[..., None]) * q0 + w[..., None] * q1)
    fill_r = (1.0 - w) * root[i0] + w * root[i1]
    return np.where(keyed[:, None, None], q, fill_q), np.where(keyed[:, None], root, fill_r)


class FullMotion(NamedTuple):
    """A clip on the full skeleton (body, then fingers when the clip has them): names (J',), parents (J',) int64,
    local_rot (T, J', 4) float64 wxyz, root_translation (T, 3) m, offsets (J', 3) m, keyed (T, J') bool (a finger
    joint is keyed where the body is and its hand was seen)."""
    names: tuple[str, ...]
    parents: np.ndarray
    local_rot: np.ndarray
    root_translation: np.ndarray
    offsets: np.ndarray
    keyed: np.ndarray


def full_motion(clip: MotionClip, dense: bool = False, fingers: bool = True) -> FullMotion:
    """The clip's body and finger motion as one skeleton (``FullMotion``); the body alone when it has no fingers
    (or ``fingers`` is False). ``dense``: body rotations and root filled at unkeyed frames (``dense_motion``).
    ``clip``: a MotionClip or anything with its fields (``fingers`` optional)."""
    q, root = dense_motion(clip) if dense else (np.asarray(clip.local_rot, np.float64),
                                                 np.asarray(clip.root_translation, np.float64))
    keyed = getattr(clip, "keyed", None)
    keyed = np.ones(len(q), bool) if keyed is None else np.asarray(keyed, bool)
    body_keyed = np.repeat(keyed[:, None], q.shape[1], axis=1)
    offsets = np.asarray(getattr(clip, "offsets", skeleton.REST_OFFSETS), np.float64)
    if not fingers or getattr(clip, "fingers", None) is None:
        return FullMotion(skeleton.JOINT_NAMES, skeleton.PARENTS, q, root, offsets, body_keyed)
    per_hand = skeleton.NUM_FINGER_JOINTS // 2
    hands = np.repeat(np.asarray(clip.finger_keyed, bool), per_hand, axis=1) & keyed[:, None]
    return FullMotion(skeleton.FULL_JOINT_NAMES, skeleton.FULL_PARENTS,
                      np.concatenate([q, np.asarray(clip.fingers, np.float64)], axis=1), root,
                      skeleton.full_offsets(offsets),
                      np.concatenate([body_keyed, hands], axis=1))


# --- writers ----------------------------------------------------------------------------------------
def write_npz(clip: MotionClip, path: str | os.PathLike) -> None:
    """Every field, exactly (``read_npz`` gives the same arrays, dtypes and dicts back)."""
    arrays = {k: np.asarray(getattr(clip, k)) for k in _ARRAYS + _FINGER_ARRAYS if getattr(clip, k) is not None}
    info_arrays = {_INFO_ARRAY + k: v for k, v in clip.info.items() if isinstance(v, np.ndarray)}
    info_rest = {k: v for k, v in clip.info.items() if not isinstance(v, np.ndarray)}
    with open(path, "wb") as fh:  # a file object: np.savez would otherwise append ".npz" to any name
        np.savez_compressed(fh, **arrays, **info_arrays, fps=np.float64(clip.fps),
                            joint_names=np.array(clip.joint_names), source=np.array(clip.source),
                            timings=np.array(json.dumps(_jsonable(clip.timings))),
                            info=np.array(json.dumps(_jsonable(info_rest))),
                            format=np.array(f"{FORMAT_ID}/{FORMAT_VERSION}"))


def read_npz(path: str | os.PathLike) -> MotionClip:
    """A clip written by ``write_npz``; ValueError naming the file when it is not one."""
    try:
        z = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:
        raise ValueError(f"{path}: cannot read motion clip: {err}") from err
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise ValueError(f"{path}: not a motion clip (.npz written by uplift convert/lift)")
    with z:
        if "format" not in z.files or not str(z["format"]).startswith(FORMAT_ID + "/"):
            raise ValueError(f"{path}: not a motion clip (.npz written by uplift convert/lift)")
        arrays = {k: z[k] for k in _ARRAYS + _FINGER_ARRAYS if k in z.files}
        info = json.loads(str(z["info"]))
        info.update({k[len(_INFO_ARRAY):]: z[k] for k in z.files if k.startswith(_INFO_ARRAY)})
        return MotionClip(fps=float(z["fps"]), **arrays, joint_names=tuple(str(n) for n in z["joint_names"]),
                          timings=json.loads(str(z["timings"])), source=str(z["source"]), info=info)


def write_json(clip: MotionClip, path: str | os.PathLike, decimals: int = 6) -> None:
    """Human-readable JSON: header (format, fps, joint names and parents, offsets, source, timings,
    info) and ``frames``: one object per sample with time_s, frame, keyed, confidence,
    root_translation [x, y, z] m, local_rot [[w, x, y, z] per joint] and joints [[x, y, z] per joint] m.
    A clip with fingers adds finger_joint_names, finger_parents (indices into joint names + finger joint names)
    and finger_offsets to the header, finger_keyed [left, right] and finger_rot [[w, x, y, z] per finger joint]
    to each frame."""
    def r(a):
        return np.round(np.asarray(a, dtype=np.float64), decimals).tolist()

    local, root, joints = r(clip.local_rot), r(clip.root_translation), r(clip.joints)
    frames = [{"time_s": round(float(clip.times_s[i]), 6), "frame": int(clip.frame_indices[i]),
               "keyed": bool(clip.keyed[i]), "confidence": round(float(clip.confidence[i]), 4),
               "root_translation": root[i], "local_rot": local[i], "joints": joints[i]}
              for i in range(clip.num_frames)]
    if clip.has_fingers:
        fingers = r(clip.fingers)
        for i, frame in enumerate(frames):
            frame["finger_keyed"] = [bool(k) for k in clip.finger_keyed[i]]
            frame["finger_rot"] = fingers[i]
    doc = {"format": FORMAT_ID, "version": FORMAT_VERSION,
           "conventions": "Blender world: Z up, metres, character faces -Y; quaternions wxyz, rest-relative "
                          "local (joint 0: pelvis world rotation)",
           "fps": clip.fps, "num_frames": clip.num_frames, "source": clip.source,
           "joint_names": list(clip.joint_names), "parents": skeleton.PARENTS.tolist(),
           "offsets": r(clip.offsets),
           **({"finger_joint_names": list(skeleton.FINGER_JOINT_NAMES),
               "finger_parents": skeleton.FULL_PARENTS[skeleton.NUM_JOINTS:].tolist(),
               "finger_offsets": r(skeleton.full_offsets(clip.offsets)[skeleton.NUM_JOINTS:])}
              if clip.has_fingers else {}),
           "timings": _jsonable(clip.timings), "info": _jsonable(clip.info),
           "frames": frames}
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=1)
        fh.write("\n")


def write_clip_bvh(clip: MotionClip, path: str | os.PathLike, units: str = "m") -> None:
    """BVH (Y up, opens in Blender's importer) through ``bvh_writer.write_bvh``; dense: unkeyed
    frames are filled by ``dense_motion``. One BVH frame per sample at ``clip.fps``; with fingers, the full
    skeleton (``full_motion``)."""
    m = full_motion(clip, dense=True)
    _write_bvh_file(path, m.local_rot, m.root_translation, clip.fps, offsets=m.offsets, names=m.names,
                    parents=m.parents, units=units)


# --- registry ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Writer:
    """An output format: file suffix and ``write(clip, path, **options)`` (or "module:function",
    imported when first used, so e.g. a Blender-only writer costs nothing until asked for)."""
    name: str
    suffix: str
    write: Callable | str
    description: str = ""
    check: Callable | str | None = None     # check(**options): raise ValueError before any work starts

    def resolve(self) -> Callable:
        return _resolve(self.write)

    def check_options(self, **options) -> None:
        """Raise ValueError when ``options`` cannot be written (e.g. a rig file without that armature)."""
        if self.check is not None:
            try:
                check = _resolve(self.check)
            except ImportError as exc:
                raise ValueError(f"format {self.name!r} cannot be written here ({exc}): {self.description}") from None
            check(**options)


def _resolve(target: Callable | str) -> Callable:
    if callable(target):
        return target
    module, _, func = target.partition(":")
    return getattr(importlib.import_module(module), func)


WRITERS: dict[str, Writer] = {}


def register_writer(name: str, suffix: str, write: Callable | str, description: str = "",
                    check: Callable | str | None = None) -> None:
    """Add (or replace) output format ``name`` written to ``<stem><suffix>``; ``check(**options)`` (optional)
    validates the writer's options before any video is processed."""
    WRITERS[name] = Writer(name, suffix, write, description, check)


register_writer("bvh", ".bvh", write_clip_bvh, "BVH motion capture (opens in Blender, MotionBuilder, ...)")
register_writer("npz", ".npz", write_npz, "numpy archive of the whole MotionClip (exact)")
register_writer("json", ".json", write_json, "JSON, one object per frame (human readable)")


def parse_formats(text: str | list[str] | tuple[str, ...]) -> list[str]:
    """"bvh,npz" (or a list) -> ["bvh", "npz"]; ValueError naming the unknown ones."""
    items = text.split(",") if isinstance(text, str) else list(text)
    names = list(dict.fromkeys(s.strip().lower() for s in items if s.strip()))
    if not names:
        raise ValueError("no output format given")
    unknown = [n for n in names if n not in WRITERS]
    if unknown:
        raise ValueError(f"unknown output format {', '.join(repr(u) for u in unknown)} "
                         f"(available: {', '.join(sorted(WRITERS))})")
    return names


def format_for_path(path: str | os.PathLike) -> str:
    """The registered format whose suffix ends ``path`` (".npz" -> "npz"); ValueError otherwise."""
    name = str(path).lower()
    for w in sorted(WRITERS.values(), key=lambda w: -len(w.suffix)):
        if name.endswith(w.suffix.lower()):
            return w.name
    raise ValueError(f"{path}: cannot tell the output format from the extension "
                     f"(use one of {', '.join(sorted(w.suffix for w in WRITERS.values()))})")


def write_clip(clip: MotionClip, out_dir: str | os.PathLike, stem: str, formats=("bvh",),
               options: dict[str, dict] | None = None) -> list[Path]:
    """Write ``clip`` as ``out_dir/<stem><suffix>`` for each format; returns the paths written.
    ``options[format]`` are extra keyword arguments for that format's writer."""
    names = parse_formats(formats)
    out_dir = Path(out_dir)
    paths = []
    for name in names:
        w = WRITERS[name]
        path = out_dir / f"{stem}{w.suffix}"
        write_atomically(path, lambda tmp: w.resolve()(clip, tmp, **(options or {}).get(name, {})))
        paths.append(path)
    return paths


def write_atomically(path: str | os.PathLike, write: Callable[[Path], None]) -> None:
    """``write(tmp)`` to a temporary name beside ``path``, then rename it to ``path``: a reader never sees
    a half-written file, and a failed write leaves nothing (and an existing ``path`` as it was)."""
    path = Path(path)
    folder = path.with_name(f".{path.name}.{os.getpid()}.tmp")   # same file name inside: writers that name
    tmp = folder / path.name                                      # things after the file (a scene) see it
    folder.mkdir(exist_ok=True)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        for leftover in folder.iterdir():
            leftover.unlink()
        folder.rmdir()


__all__ = ["MotionClip", "clip_from_motion", "dense_motion", "FullMotion", "full_motion", "write_npz", "read_npz", "write_json", "write_clip_bvh", "Writer", "WRITERS",
           "register_writer", "parse_formats", "format_for_path", "write_clip", "write_atomically"]
