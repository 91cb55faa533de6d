"""How far and where the root went: our root path against the true one, up to where the world starts and which
way it faces (our world's heading comes from the camera, the truth's from the scene), never its scale.

``align_path_2d(ours, truth)``: (T, 2) -> (T, 2) ours turned about Z and shifted to fit ``truth`` best (least
squares, no scale). ``root_path_scores(ours, truth)``: (T, 3) root positions (m, Z up) -> travel (net horizontal
displacement, first to last frame) of each and their ratio, the truth's path length, and the RMS horizontal
distance after alignment (``path_err_m``).
"""
from __future__ import annotations

import numpy as np


def align_path_2d(ours: np.ndarray, truth: np.ndarray) -> np.ndarray:
    a, b = np.asarray(ours, np.float64), np.asarray(truth, np.float64)
    ca, cb = a.mean(axis=0), b.mean(axis=0)
    u, _, vt = np.linalg.svd((a - ca).T @ (b - cb))
    r = u @ vt
    if np.linalg.det(r) < 0:                  # a rotation, never a mirror
        u[:, -1] *= -1
        r = u @ vt
    return (a - ca) @ r + cb


def root_path_scores(ours: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    a, b = np.asarray(ours, np.float64)[:, :2], np.asarray(truth, np.float64)[:, :2]
    if a.shape != b.shape or len(a) < 2:
        raise ValueError(f"root paths must be the same (T >= 2, 3) shape, got {np.shape(ours)} and {np.shape(truth)}")
    travel_ours, travel_truth = float(np.linalg.norm(a[-1] - a[0])), float(np.linalg.norm(b[-1] - b[0]))
    err = np.linalg.norm(align_path_2d(a, b) - b, axis=1)
    return {"travel_truth_m": travel_truth, "travel_ours_m": travel_ours,
            "travel_ratio": travel_ours / max(travel_truth, 1e-9),
            "path_len_truth_m": float(np.linalg.norm(np.diff(b, axis=0), axis=1).sum()),
            "path_err_m": float(np.sqrt(np.mean(err ** 2)))}
