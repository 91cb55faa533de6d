"""The canonical motion behind an Action Uplift made, kept on that Action so it can be re-applied to
another rig later, also after the file is saved and reopened.

Stored as the custom property ``MOTION_KEY`` of the Action (an ID-property group of flat arrays):
    version 1, source (str), fps (float), frames (T,) float64 scene frames of the samples,
    local_rot (T*J*4) float32 wxyz rest-relative local (root = world rotation), root_translation (T*3)
    float32 m (Blender Z-up, floor at Z = 0), offsets (J*3) float32 m, keyed (T,) int32 0/1; with fingers
    also fingers (T*30*4) float32 wxyz (``skeleton.FINGER_JOINT_NAMES``) and finger_keyed (T*2) int32 0/1.
J is ``skeleton.NUM_JOINTS``; joints are ``skeleton.JOINT_NAMES``.
"""
from __future__ import annotations

from dataclasses import dataclass

import bpy
import numpy as np

from ..inference.core import skeleton as S

MOTION_KEY = "uplift_motion"
_VERSION = 1


@dataclass
class StoredMotion:
    """Canonical motion read back from an Action (shapes as in the module docstring, unflattened)."""
    source: str
    fps: float
    frames: np.ndarray            # (T,) float64 scene frames
    local_rot: np.ndarray         # (T, J, 4) float32 wxyz
    root_translation: np.ndarray  # (T, 3) float32 m
    offsets: np.ndarray           # (J, 3) float32 m
    keyed: np.ndarray             # (T,) bool
    fingers: np.ndarray | None = None        # (T, 30, 4) float32 wxyz
    finger_keyed: np.ndarray | None = None   # (T, 2) bool


def store_motion(action, clip, frames) -> None:
    """Keep ``clip`` (MotionClip-like: local_rot, root_translation, offsets, keyed, fps, source) and the
    (T,) scene ``frames`` it was keyed at on ``action``."""
    t = int(np.asarray(frames).shape[0])
    keyed = getattr(clip, "keyed", None)
    keyed = np.ones(t, bool) if keyed is None else np.asarray(keyed, bool)
    action[MOTION_KEY] = {
        "version": _VERSION,
        "source": str(getattr(clip, "source", "")),
        "fps": float(getattr(clip, "fps", 0.0)),
        "frames": np.asarray(frames, np.float64).ravel(),
        "local_rot": np.asarray(clip.local_rot, np.float32).ravel(),
        "root_translation": np.asarray(clip.root_translation, np.float32).ravel(),
        "offsets": np.asarray(clip.offsets, np.float32).ravel(),
        "keyed": keyed.astype(np.int32).ravel(),
    }
    if getattr(clip, "fingers", None) is not None:
        action[MOTION_KEY]["fingers"] = np.asarray(clip.fingers, np.float32).ravel()
        action[MOTION_KEY]["finger_keyed"] = np.asarray(clip.finger_keyed, np.int32).ravel()


def load_motion(action) -> StoredMotion | None:
    """The motion stored on ``action``, or None when it has none; ValueError when it is damaged."""
    if action is None or MOTION_KEY not in action:
        return None
    g = action[MOTION_KEY]
    try:
        frames = np.array(g["frames"], np.float64)
        t, j = frames.shape[0], S.NUM_JOINTS
        return StoredMotion(
            source=str(g.get("source", "")), fps=float(g.get("fps", 0.0)), frames=frames,
            local_rot=np.array(g["local_rot"], np.float32).reshape(t, j, 4),
            root_translation=np.array(g["root_translation"], np.float32).reshape(t, 3),
            offsets=np.array(g["offsets"], np.float32).reshape(j, 3),
            keyed=np.array(g["keyed"], np.int32).reshape(t).astype(bool),
            **({"fingers": np.array(g["fingers"], np.float32).reshape(t, S.NUM_FINGER_JOINTS, 4),
                "finger_keyed": np.array(g["finger_keyed"], np.int32).reshape(t, 2).astype(bool)}
               if "fingers" in g else {}))
    except (KeyError, ValueError, TypeError) as exc:
        raise ValueError(f"Action {action.name!r}: stored motion is damaged ({exc})") from exc


def motion_actions() -> list:
    """Actions of this file that carry a stored motion, by name."""
    return sorted((a for a in bpy.data.actions if MOTION_KEY in a), key=lambda a: a.name)


__all__ = ["MOTION_KEY", "StoredMotion", "store_motion", "load_motion", "motion_actions"]
