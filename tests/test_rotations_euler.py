"""inference/core/rotations.py Euler angles (BVH channel orders): hand-built products, round trips,
gimbal lock, bad orders; float32 and float64."""
from __future__ import annotations

import numpy as np
import pytest

from uplift_mocap.inference.core import rotations as R
from rotation_refs import DTYPES, ORDERS, tol, rx, ry, rz, AXIS_FN, assert_rotation


# --- Euler (BVH) ----------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("order", ORDERS)
def test_euler_to_matrix_matches_hand_product(order, dtype):
    rng = np.random.default_rng(6)
    ang = rng.uniform(-np.pi, np.pi, size=(2, 3, 3))
    m = R.euler_to_matrix(ang.astype(dtype), order)
    assert m.shape == (2, 3, 3, 3) and m.dtype == dtype
    for idx in np.ndindex(2, 3):
        a = ang[idx]
        ref = AXIS_FN[order[0]](a[0]) @ AXIS_FN[order[1]](a[1]) @ AXIS_FN[order[2]](a[2])
        np.testing.assert_allclose(m[idx], ref, atol=tol(dtype))
    # lower-case orders are accepted
    np.testing.assert_allclose(R.euler_to_matrix(ang, order.lower()), R.euler_to_matrix(ang, order), atol=0)


def test_bvh_zxy_convention():
    """BVH 'Zrotation Xrotation Yrotation': R = Rz @ Rx @ Ry, so Y is applied to the vector first."""
    a = np.radians([30.0, 45.0, 60.0])
    np.testing.assert_allclose(R.euler_to_matrix(a, "ZXY"), rz(a[0]) @ rx(a[1]) @ ry(a[2]), atol=1e-15)
    assert not np.allclose(R.euler_to_matrix(a, "ZXY"), ry(a[2]) @ rx(a[1]) @ rz(a[0]))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("order", ORDERS)
def test_euler_round_trip(order, dtype):
    rng = np.random.default_rng(7)
    ang = np.stack([rng.uniform(-3.1, 3.1, 20), rng.uniform(-1.5, 1.5, 20), rng.uniform(-3.1, 3.1, 20)], -1)
    ang = ang.reshape(4, 5, 3).astype(dtype)
    m = R.euler_to_matrix(ang, order)
    back = R.matrix_to_euler(m, order)
    assert back.shape == ang.shape and back.dtype == dtype
    # away from gimbal lock the angles are unique: middle in (-pi/2, pi/2), outer in (-pi, pi]
    np.testing.assert_allclose(back, ang, atol=tol(dtype) * 10)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("order", ORDERS)
def test_euler_gimbal_lock_reproduces_matrix(order, dtype):
    """At and near middle = +-90 deg the angles are not unique, but the matrix must come back."""
    rng = np.random.default_rng(8)
    mids = []
    for s in (1.0, -1.0):
        mids += [s * np.pi / 2, s * (np.pi / 2 - 1e-9), s * (np.pi / 2 - 1e-6), s * (np.pi / 2 - 1e-4),
                 s * (np.pi / 2 - 1e-2)]
    mids = np.array(mids)
    ang = np.stack([rng.uniform(-3, 3, mids.size), mids, rng.uniform(-3, 3, mids.size)], -1)
    m = R.euler_to_matrix(ang, order).astype(dtype)
    back = R.matrix_to_euler(m, order)
    assert np.all(np.isfinite(back))
    np.testing.assert_allclose(R.euler_to_matrix(back.astype(np.float64), order), m,
                               atol=1e-5 if dtype == np.float32 else 1e-9)
    # exactly locked: the whole rotation goes on the first angle, the last is 0
    exact = np.isin(mids, [np.pi / 2, -np.pi / 2])
    np.testing.assert_allclose(back[exact, 2], 0.0, atol=1e-6)


def test_euler_bad_order():
    with pytest.raises(ValueError, match="XXY"):
        R.euler_to_matrix(np.zeros(3), "XXY")
    with pytest.raises(ValueError, match="XY"):
        R.matrix_to_euler(np.eye(3), "XY")
