"""inference/core/rotations.py: round trips, hand-built references, edge cases, shapes and dtypes.

References are written from first principles (``rotation_refs.py``: hand-written axis matrices,
Rodrigues' formula; Gram-Schmidt by hand below), never by calling the module under test. Euler
angles: ``test_rotations_euler.py``.
"""
from __future__ import annotations

import numpy as np
import pytest

from uplift_mocap.inference.core import rotations as R
from rotation_refs import (DTYPES, SHAPES, assert_rotation, random_axis_angle, random_matrix, random_quat, rodrigues,
                           rodrigues_batch, sign_align, tol)


# --- quaternion <-> matrix ----------------------------------------------------------------------
def test_known_values():
    q90z = np.array([np.cos(np.pi / 4), 0, 0, np.sin(np.pi / 4)])  # +90 deg about Z (w first)
    np.testing.assert_allclose(R.quat_to_matrix(q90z), [[0, -1, 0], [1, 0, 0], [0, 0, 1]], atol=1e-15)
    np.testing.assert_allclose(R.quat_apply(q90z, [1.0, 0, 0]), [0, 1, 0], atol=1e-15)  # x -> y
    np.testing.assert_allclose(R.axis_angle_to_quat([0, 0, np.pi / 2]), q90z, atol=1e-15)
    np.testing.assert_allclose(R.matrix_to_quat(np.eye(3)), [1, 0, 0, 0], atol=0)
    np.testing.assert_allclose(R.quat_to_matrix([1.0, 0, 0, 0]), np.eye(3), atol=0)
    np.testing.assert_allclose(R.quat_to_axis_angle([1.0, 0, 0, 0]), [0, 0, 0], atol=0)
    np.testing.assert_allclose(R.axis_angle_to_quat([0.0, 0, 0]), [1, 0, 0, 0], atol=0)
    # quat_to_matrix normalises: a scaled quaternion is the same rotation
    np.testing.assert_allclose(R.quat_to_matrix(3.0 * q90z), R.quat_to_matrix(q90z), atol=1e-15)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_axis_angle_conversions_match_rodrigues(dtype, shape):
    rng = np.random.default_rng(1)
    aa = random_axis_angle(rng, shape).astype(dtype)
    ref = rodrigues_batch(aa)
    m = R.axis_angle_to_matrix(aa)
    assert m.shape == shape + (3, 3) and m.dtype == dtype
    np.testing.assert_allclose(m, ref, atol=tol(dtype))
    q = R.axis_angle_to_quat(aa)
    angle = np.linalg.norm(aa.astype(np.float64), axis=-1, keepdims=True)
    hand = np.concatenate([np.cos(angle / 2), np.sin(angle / 2) * aa / angle], axis=-1)
    np.testing.assert_allclose(q, hand, atol=tol(dtype))
    np.testing.assert_allclose(R.quat_to_matrix(q), ref, atol=tol(dtype))
    np.testing.assert_allclose(R.quat_to_axis_angle(q), aa, atol=tol(dtype) * 10)
    np.testing.assert_allclose(R.matrix_to_axis_angle(ref.astype(dtype)), aa, atol=tol(dtype) * 10)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_quat_matrix_round_trip(dtype, shape):
    rng = np.random.default_rng(2)
    q = random_quat(rng, shape).astype(dtype)
    m = R.quat_to_matrix(q)
    assert m.shape == shape + (3, 3) and m.dtype == dtype
    assert_rotation(m, tol(dtype))
    np.testing.assert_allclose(R.quat_to_matrix(-q), m, atol=tol(dtype))  # q and -q: same rotation
    back = R.matrix_to_quat(m)
    assert back.dtype == dtype and back.shape == shape + (4,)
    assert np.all(back[..., 0] >= 0)
    np.testing.assert_allclose(back, np.where(q[..., :1] < 0, -q, q), atol=tol(dtype) * 4)
    np.testing.assert_allclose(R.matrix_to_quat(R.quat_to_matrix(-q)), back, atol=tol(dtype))
    # the rotation the quaternion applies equals the matrix
    v = rng.normal(size=shape + (3,)).astype(dtype)
    np.testing.assert_allclose(R.quat_apply(q, v), np.einsum("...ij,...j->...i", m, v), atol=tol(dtype) * 4)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_quat_reflect_x_is_the_mirrored_rotation(dtype, shape):
    rng = np.random.default_rng(12)
    q = random_quat(rng, shape).astype(dtype)
    mq = R.quat_reflect_x(q)
    assert mq.dtype == dtype and mq.shape == q.shape
    flip = np.diag([-1.0, 1.0, 1.0]).astype(dtype)
    np.testing.assert_allclose(R.quat_to_matrix(mq), flip @ R.quat_to_matrix(q) @ flip, atol=tol(dtype) * 4)
    np.testing.assert_allclose(R.quat_reflect_x(mq), q, atol=0)   # a mirror twice is no mirror


@pytest.mark.parametrize("dtype", DTYPES)
def test_matrix_to_quat_every_branch_and_180(dtype):
    """Angles near pi about each axis select each Shepperd branch; exact 180 deg too."""
    rng = np.random.default_rng(3)
    axes = np.concatenate([np.eye(3), rng.normal(size=(5, 3))])
    axes /= np.linalg.norm(axes, axis=-1, keepdims=True)
    angles = np.array([np.pi, np.pi - 1e-3, np.pi - 1e-6, 2.0, 1e-7, 0.0])
    aa = (axes[:, None, :] * angles[None, :, None]).reshape(-1, 3)
    ref = rodrigues_batch(aa)
    q = R.matrix_to_quat(ref.astype(dtype))
    assert np.all(q[..., 0] >= 0)
    np.testing.assert_allclose(np.linalg.norm(q, axis=-1), 1.0, atol=tol(dtype))
    np.testing.assert_allclose(R.quat_to_matrix(q), ref, atol=tol(dtype) * 4)
    # quaternion equals the hand formula up to sign
    t = np.linalg.norm(aa, axis=-1, keepdims=True)
    unit = np.divide(aa, t, out=np.zeros_like(aa), where=t > 0)
    hand = np.concatenate([np.cos(t / 2), np.sin(t / 2) * unit], axis=-1)
    np.testing.assert_allclose(sign_align(q, hand), hand, atol=tol(dtype) * 4)
    # 180 deg about X: w = 0, axis +-X
    np.testing.assert_allclose(np.abs(R.matrix_to_quat(np.diag([1.0, -1, -1]).astype(dtype))), [0, 1, 0, 0], atol=1e-7)


@pytest.mark.parametrize("dtype", DTYPES)
def test_axis_angle_near_zero_and_180(dtype):
    axis = np.array([0.48, -0.6, 0.64])  # unit
    for angle in (0.0, 1e-12, 1e-9, 1e-7, 1e-5, 1e-3):
        aa = (axis * angle).astype(dtype)
        q = R.axis_angle_to_quat(aa)
        assert np.all(np.isfinite(q)) and q.dtype == dtype
        np.testing.assert_allclose(q[1:], 0.5 * aa, rtol=1e-5, atol=1e-30)  # sin(t/2)/t -> 1/2
        back = R.quat_to_axis_angle(q)
        np.testing.assert_allclose(back, aa, rtol=1e-4 if dtype == np.float32 else 1e-9, atol=1e-30)
        np.testing.assert_allclose(R.matrix_to_axis_angle(R.axis_angle_to_matrix(aa)), aa,
                                   atol=2e-6 if dtype == np.float32 else 1e-12)
    aa = (axis * np.pi).astype(dtype)
    back = R.quat_to_axis_angle(R.axis_angle_to_quat(aa))
    assert np.allclose(back, aa, atol=1e-5) or np.allclose(back, -aa, atol=1e-5)  # both are 180 deg
    back = R.matrix_to_axis_angle(rodrigues(aa).astype(dtype))
    np.testing.assert_allclose(np.linalg.norm(back), np.pi, atol=1e-5)
    np.testing.assert_allclose(rodrigues(back), rodrigues(aa), atol=1e-5)
    # angles come back in [0, pi] even when given a longer way round
    aa = (axis * 1.5 * np.pi).astype(dtype)
    back = R.quat_to_axis_angle(R.axis_angle_to_quat(aa))
    np.testing.assert_allclose(back, -axis * 0.5 * np.pi, atol=1e-5)


# --- 6D -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_6d_round_trips_and_layout(dtype, shape):
    rng = np.random.default_rng(4)
    m = random_matrix(rng, shape).astype(dtype)
    d6 = R.matrix_to_6d(m)
    assert d6.shape == shape + (6,) and d6.dtype == dtype
    np.testing.assert_array_equal(d6[..., :3], m[..., :, 0])  # first column
    np.testing.assert_array_equal(d6[..., 3:], m[..., :, 1])  # then second column
    back = R.sixd_to_matrix(d6)
    assert back.dtype == dtype
    np.testing.assert_allclose(back, m, atol=tol(dtype))
    q = R.matrix_to_quat(m)
    np.testing.assert_allclose(R.quat_to_6d(q), d6, atol=tol(dtype))
    np.testing.assert_allclose(R.sixd_to_quat(d6), q, atol=tol(dtype) * 4)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sixd_to_matrix_gram_schmidt_by_hand(dtype):
    rng = np.random.default_rng(5)
    d6 = (rng.normal(size=(7, 6)) * 3).astype(dtype)  # not orthonormal, arbitrary scale
    m = R.sixd_to_matrix(d6)
    assert_rotation(m, tol(dtype) * 2)
    for row, mat in zip(d6.astype(np.float64), m):
        a1, a2 = row[:3], row[3:]
        b1 = a1 / np.linalg.norm(a1)
        b2 = a2 - (b1 @ a2) * b1
        b2 /= np.linalg.norm(b2)
        ref = np.column_stack([b1, b2, np.cross(b1, b2)])
        np.testing.assert_allclose(mat, ref, atol=tol(dtype) * 4)


# --- helpers ------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_rotation_between(dtype, shape):
    rng = np.random.default_rng(9)
    a = (rng.normal(size=shape + (3,)) * rng.uniform(0.1, 5, size=shape + (1,))).astype(dtype)
    b = (rng.normal(size=shape + (3,)) * rng.uniform(0.1, 5, size=shape + (1,))).astype(dtype)
    q = R.rotation_between(a, b)
    assert q.shape == shape + (4,) and q.dtype == dtype
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    ua = a64 / np.linalg.norm(a64, axis=-1, keepdims=True)
    ub = b64 / np.linalg.norm(b64, axis=-1, keepdims=True)
    np.testing.assert_allclose(R.quat_apply(q.astype(np.float64), ua), ub, atol=tol(dtype) * 4)
    # shortest arc: rotation angle equals the angle between a and b, axis perpendicular to both
    angle = 2 * np.arctan2(np.linalg.norm(q[..., 1:], axis=-1), np.abs(q[..., 0]))
    np.testing.assert_allclose(angle, np.arccos(np.clip(np.sum(ua * ub, -1), -1, 1)), atol=tol(dtype) * 20)
    np.testing.assert_allclose(np.sum(q[..., 1:] * ua, -1), 0, atol=tol(dtype) * 4)
    np.testing.assert_allclose(np.sum(q[..., 1:] * ub, -1), 0, atol=tol(dtype) * 4)


@pytest.mark.parametrize("dtype", DTYPES)
def test_rotation_between_parallel_and_opposite(dtype):
    rng = np.random.default_rng(10)
    a = rng.normal(size=(50, 3))
    a = np.concatenate([a, np.eye(3), -np.eye(3)]).astype(dtype)
    np.testing.assert_allclose(R.rotation_between(a, 2 * a), np.tile([1, 0, 0, 0], (len(a), 1)), atol=tol(dtype))
    for b in (-a, -3 * a):
        q = R.rotation_between(a, b)
        assert q.dtype == dtype
        ua = a / np.linalg.norm(a, axis=-1, keepdims=True)
        np.testing.assert_allclose(np.abs(q[:, 0]), 0, atol=1e-4 if dtype == np.float32 else 1e-9)  # 180 deg
        np.testing.assert_allclose(R.quat_apply(q, ua), -ua, atol=tol(dtype) * 4)
    # nearly opposite: still maps a onto b
    a = np.array([[0.3, -0.2, 0.9]] * 4)
    b = -a + np.array([[1e-3, 0, 0], [0, 1e-4, 0], [0, 0, 1e-5], [1e-6, 1e-6, 0]])
    q = R.rotation_between(a.astype(dtype), b.astype(dtype))
    ub = b / np.linalg.norm(b, axis=-1, keepdims=True)
    np.testing.assert_allclose(R.quat_apply(q, a / np.linalg.norm(a, axis=-1, keepdims=True)), ub,
                               atol=1e-5 if dtype == np.float32 else 1e-9)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_quat_angle(dtype, shape):
    rng = np.random.default_rng(11)
    a = random_quat(rng, shape)
    b = random_quat(rng, shape)
    ang = R.quat_angle(a.astype(dtype), b.astype(dtype))
    assert ang.shape == shape and ang.dtype == dtype
    # reference: angle of the relative rotation matrix, from its trace
    rel = np.swapaxes(R.quat_to_matrix(a), -1, -2) @ R.quat_to_matrix(b)
    ref = np.arccos(np.clip((np.trace(rel, axis1=-2, axis2=-1) - 1) / 2, -1, 1))
    np.testing.assert_allclose(ang, ref, atol=1e-5 if dtype == np.float32 else 1e-7)
    np.testing.assert_allclose(R.quat_angle(a, -b), R.quat_angle(a, b), atol=1e-15)  # sign-invariant
    np.testing.assert_allclose(R.quat_angle(a, 2.0 * b), R.quat_angle(a, b), atol=1e-12)  # normalises
    assert np.all((ang >= 0) & (ang <= np.pi + 1e-6))


@pytest.mark.parametrize("dtype", DTYPES)
def test_quat_angle_small_and_180(dtype):
    ident = np.array([1.0, 0, 0, 0], dtype=dtype)
    axis = np.array([0.36, 0.48, 0.8])
    small = (1e-3, 1e-4) if dtype == np.float32 else (1e-4, 1e-6, 1e-8)
    for t in small:
        q = np.concatenate([[np.cos(t / 2)], np.sin(t / 2) * axis]).astype(dtype)
        np.testing.assert_allclose(R.quat_angle(ident, q), t, rtol=1e-2)
    assert R.quat_angle(ident, ident) == 0
    np.testing.assert_allclose(R.quat_angle(ident, np.array([0, 0.36, 0.48, 0.8], dtype)), np.pi, atol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
def test_quat_make_continuous(dtype):
    rng = np.random.default_rng(12)
    t = np.linspace(0, 6 * np.pi, 40)  # several full turns: the quaternion path crosses w = 0
    axes = random_axis_angle(rng, (3,))
    axes /= np.linalg.norm(axes, axis=-1, keepdims=True)
    q = np.stack([np.concatenate([np.cos(t / 2)[:, None], np.sin(t / 2)[:, None] * ax], -1) for ax in axes], 1)
    flips = rng.choice([-1.0, 1.0], size=(40, 3, 1))
    flips[0] = 1.0
    noisy = (q * flips).astype(dtype)  # (T, J, 4)
    out = R.quat_make_continuous(noisy)
    assert out.dtype == dtype and out.shape == noisy.shape
    np.testing.assert_allclose(out, q, atol=tol(dtype))  # first frame is kept, so the rest follow it
    assert np.all(np.sum(out[1:] * out[:-1], -1) > 0)
    np.testing.assert_array_equal(noisy, (q * flips).astype(dtype))  # input untouched
    # time on another axis: (J, T, 4) with axis=1
    out1 = R.quat_make_continuous(np.swapaxes(noisy, 0, 1), axis=1)
    np.testing.assert_allclose(np.swapaxes(out1, 0, 1), q, atol=tol(dtype))
    one = R.quat_make_continuous(noisy[:1])
    np.testing.assert_array_equal(one, noisy[:1])


@pytest.mark.parametrize("dtype", DTYPES)
def test_kabsch_recovers_rotation(dtype):
    rng = np.random.default_rng(13)
    rot = random_matrix(rng, (2, 3))
    src = rng.normal(size=(2, 3, 10, 3))
    dst = np.einsum("...ij,...nj->...ni", rot, src)
    est = R.kabsch(src.astype(dtype), dst.astype(dtype))
    assert est.shape == (2, 3, 3, 3) and est.dtype == dtype
    np.testing.assert_allclose(est, rot, atol=tol(dtype) * 10)
    # a zero-weight outlier is ignored
    bad = dst.copy()
    bad[..., 0, :] += 5.0
    w = np.r_[0.0, np.ones(9)]
    np.testing.assert_allclose(R.kabsch(src, bad, w), rot, atol=1e-9)
    assert not np.allclose(R.kabsch(src, bad), rot, atol=1e-3)


def test_kabsch_reflection_gives_proper_rotation():
    """A mirrored target: plain U V^T would be a reflection; the result must be the best *rotation*."""
    rng = np.random.default_rng(14)
    src = rng.normal(size=(12, 3)) * [3.0, 1.0, 0.3]
    dst = src * [-1.0, 1.0, 1.0]
    est = R.kabsch(src, dst)
    assert_rotation(est, 1e-10)

    def cost(m):
        return np.sum((np.einsum("...ij,nj->...ni", m, src) - dst) ** 2, axis=(-1, -2))

    cands = rodrigues_batch(random_axis_angle(rng, (3000,), max_angle=np.pi))
    cands = np.concatenate([cands, np.einsum("ij,njk->nik", est, rodrigues_batch(random_axis_angle(rng, (300,), 0.05)))])
    assert cost(est) <= cost(cands).min() + 1e-9


# --- shapes and dtypes --------------------------------------------------------------------------
BAD_SHAPE_CALLS = [
    (R.quat_normalize, (5, 3)), (R.quat_canonical, (3,)), (R.quat_conjugate, (2, 5)),
    (lambda x: R.quat_multiply(x, np.ones(4)), (2, 3)), (lambda x: R.quat_multiply(np.ones(4), x), (7,)),
    (lambda x: R.quat_apply(x, np.ones(3)), (3,)), (lambda x: R.quat_apply(np.ones(4), x), (4,)),
    (R.quat_to_matrix, (3, 3)), (R.matrix_to_quat, (4, 4)), (R.matrix_to_quat, (9,)),
    (R.axis_angle_to_quat, (4,)), (R.quat_to_axis_angle, (3,)), (R.axis_angle_to_matrix, (2, 2)),
    (R.matrix_to_axis_angle, (3, 4)), (R.matrix_to_6d, (2, 3)), (R.sixd_to_matrix, (5, 3, 2)),
    (R.quat_to_6d, (6,)), (R.sixd_to_quat, (4,)), (lambda x: R.euler_to_matrix(x, "XYZ"), (2, 4)),
    (lambda x: R.matrix_to_euler(x, "XYZ"), (3,)), (lambda x: R.rotation_between(x, np.ones(3)), (2,)),
    (lambda x: R.quat_angle(x, np.ones(4)), (3,)), (R.quat_make_continuous, (10, 3)),
    (lambda x: R.kabsch(x, np.ones((4, 3))), (4, 2)),
]


@pytest.mark.parametrize("fn, shape", BAD_SHAPE_CALLS)
def test_bad_shape_raises_value_error_naming_shape(fn, shape):
    with pytest.raises(ValueError) as err:
        fn(np.ones(shape))
    assert str(shape) in str(err.value)


def test_int_input_becomes_float64_and_float32_is_kept():
    assert R.quat_to_matrix(np.array([1, 0, 0, 0])).dtype == np.float64
    x32 = np.array([[0.1, 0.2, 0.3]], np.float32)
    for out in (R.axis_angle_to_quat(x32), R.quat_to_axis_angle(R.axis_angle_to_quat(x32)),
                R.quat_conjugate(R.axis_angle_to_quat(x32)), R.quat_normalize(R.axis_angle_to_quat(x32)),
                R.quat_apply(R.axis_angle_to_quat(x32), x32), R.euler_to_matrix(x32, "ZXY"),
                R.quat_multiply(R.axis_angle_to_quat(x32), R.axis_angle_to_quat(x32))):
        assert out.dtype == np.float32
