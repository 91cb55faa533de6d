"""Every axis convention in the project, as 3x3 change-of-basis matrices ``A_FROM_B`` (``v_a = A_FROM_B @ v_b``).

Frames (all right-handed, metres):
- **Blender / canonical world**: x right, y forward (away from a front view), z up. Motion clips,
  the canonical skeleton and keyed Actions live here.
- **BVH**: x right, y up, z toward the viewer (CMU / MotionBuilder convention), as Blender's BVH importer
  reads it with its defaults (forward -Z, up Y).
- **Uplift camera** (the network's output frame, ``docs/uplifter-contract.md``): x image right, y depth
  (forward, away from the camera), z image up.
- **OpenCV camera**: x image right, y image down, z depth (forward).
- **Blender camera**: x image right, y image up, z toward the viewer (the camera looks along -z).

A rotation expressed in frame B becomes ``A_FROM_B @ R @ A_FROM_B.T`` in frame A (``conjugate``).
"""
from __future__ import annotations

import numpy as np

BLENDER_FROM_BVH = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
BVH_FROM_BLENDER = BLENDER_FROM_BVH.T.copy()
CV_FROM_UPLIFT_CAM = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
UPLIFT_CAM_FROM_CV = CV_FROM_UPLIFT_CAM.T.copy()
CV_FROM_BLENDER_CAM = np.diag([1.0, -1.0, -1.0])

for _m in (BLENDER_FROM_BVH, BVH_FROM_BLENDER, CV_FROM_UPLIFT_CAM, UPLIFT_CAM_FROM_CV, CV_FROM_BLENDER_CAM):
    _m.setflags(write=False)


def conjugate(a_from_b: np.ndarray, rot_b: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) given in frame B -> the same rotations in frame A."""
    return a_from_b @ rot_b @ a_from_b.T
