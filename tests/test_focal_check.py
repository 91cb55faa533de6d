"""``dev/evaluation/focal_check``: the reprojection error it compares across focal lengths is zero at the lens a
skeleton was projected with and grows away from it (a body near the camera, where perspective is strong)."""
from __future__ import annotations

import numpy as np

from uplift_mocap.dev.evaluation.focal_check import reprojection_px


def test_reprojection_is_exact_at_the_true_focal_and_worse_elsewhere():
    rng = np.random.default_rng(3)
    joints = rng.normal(0.0, 0.35, size=(20, 12, 3))                    # root-relative, x right / y depth / z up
    trans = np.array([0.2, 2.0, -0.3])                                  # 2 m away: strong perspective
    f, cx, cy = 800.0, 320.0, 240.0
    q = joints + trans
    uv = np.stack([cx + f * q[..., 0] / q[..., 1], cy - f * q[..., 2] / q[..., 1]], axis=-1)
    at_truth = reprojection_px(joints, uv, f, cx, cy)
    assert at_truth < 1e-6
    assert reprojection_px(joints, uv, 0.6 * f, cx, cy) > 1.0 and reprojection_px(joints, uv, 1.6 * f, cx, cy) > 1.0
    uv[3] = np.nan                                                       # frames without landmarks are skipped
    assert reprojection_px(joints, uv, f, cx, cy) < 1e-6
