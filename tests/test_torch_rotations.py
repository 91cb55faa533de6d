"""dev/training/torch_rotations.py: parity with inference/core/rotations.py, finite gradients, ONNX export."""
from __future__ import annotations

import io
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from uplift_mocap.inference.core import rotations as R  # noqa: E402
from uplift_mocap.inference.core import skeleton as S  # noqa: E402
from uplift_mocap.dev.training import torch_rotations as T  # noqa: E402

DTYPES = [np.float32, np.float64]


def tol(dtype) -> float:
    return 2e-5 if dtype == np.float32 else 1e-12


def quats(rng, n):
    q = rng.normal(size=(n, 4))
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def axis_angles(rng, n):
    """Random axis-angles including zero, tiny and near-180 deg magnitudes."""
    axis = rng.normal(size=(n, 3))
    axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
    ang = np.concatenate([rng.uniform(0, np.pi, n - 8), [0, 1e-9, 1e-6, 1e-4, 9e-4, 1.1e-3, np.pi - 1e-4, np.pi]])
    return axis * ang[:, None]


def matrices(rng, n):
    """Random rotations plus identity and 180 deg turns about X, Y, Z (every Shepperd branch)."""
    m = R.quat_to_matrix(quats(rng, n))
    extra = [np.eye(3), np.diag([1.0, -1, -1]), np.diag([-1.0, 1, -1]), np.diag([-1.0, -1, 1])]
    return np.concatenate([m, np.stack(extra)])


def check(np_fn, t_fn, *args, dtype, atol=None):
    args = [np.asarray(a, dtype=dtype) for a in args]
    want = np_fn(*args)
    got = t_fn(*[torch.from_numpy(a) for a in args])
    assert got.dtype == torch.float32 if dtype == np.float32 else got.dtype == torch.float64
    assert tuple(got.shape) == want.shape
    err = np.abs(got.numpy().astype(np.float64) - want).max()
    assert err <= (atol or tol(dtype)), f"{t_fn.__name__}: max abs diff {err}"
    return err


# --- parity ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_quaternion_parity(dtype):
    rng = np.random.default_rng(0)
    a, b = quats(rng, 64), quats(rng, 64) * 1.7
    v = rng.normal(size=(64, 3))
    check(R.quat_normalize, T.quat_normalize, b, dtype=dtype)
    check(R.quat_canonical, T.quat_canonical, b, dtype=dtype)
    check(R.quat_conjugate, T.quat_conjugate, b, dtype=dtype)
    check(R.quat_multiply, T.quat_multiply, a, b, dtype=dtype)
    check(R.quat_apply, T.quat_apply, a, v, dtype=dtype)
    check(R.quat_to_matrix, T.quat_to_matrix, b, dtype=dtype)
    check(R.quat_angle, T.quat_angle, a, b, dtype=dtype, atol=1e-4 if dtype == np.float32 else 1e-10)
    check(R.quat_angle, T.quat_angle, a, a, dtype=dtype)  # exactly 0
    check(R.quat_to_6d, T.quat_to_6d, b, dtype=dtype)
    check(R.quat_to_axis_angle, T.quat_to_axis_angle, np.concatenate([b, [[1.0, 0, 0, 0], [-1.0, 0, 0, 0]]]),
          dtype=dtype, atol=1e-4 if dtype == np.float32 else 1e-10)


@pytest.mark.parametrize("dtype", DTYPES)
def test_matrix_and_axis_angle_parity(dtype):
    rng = np.random.default_rng(1)
    m = matrices(rng, 64)
    aa = axis_angles(rng, 64)
    loose = 1e-4 if dtype == np.float32 else 1e-10  # arctan2 near pi in float32
    check(R.matrix_to_quat, T.matrix_to_quat, m, dtype=dtype)
    check(R.axis_angle_to_quat, T.axis_angle_to_quat, aa, dtype=dtype)
    check(R.axis_angle_to_matrix, T.axis_angle_to_matrix, aa, dtype=dtype)
    check(R.matrix_to_axis_angle, T.matrix_to_axis_angle, m[:-4], dtype=dtype, atol=loose)
    check(R.quat_to_axis_angle, T.quat_to_axis_angle, R.axis_angle_to_quat(aa)[:-1], dtype=dtype, atol=loose)
    check(R.matrix_to_6d, T.matrix_to_6d, m, dtype=dtype)
    d6 = rng.normal(size=(64, 6)) * 2.5
    check(R.sixd_to_matrix, T.sixd_to_matrix, d6, dtype=dtype)
    check(R.sixd_to_quat, T.sixd_to_quat, d6, dtype=dtype)
    # batched shapes come through unchanged
    got = T.matrix_to_quat(torch.from_numpy(m[:60].reshape(3, 4, 5, 3, 3).astype(dtype)))
    assert tuple(got.shape) == (3, 4, 5, 4) and bool((got[..., 0] >= 0).all())


@pytest.mark.parametrize("dtype", DTYPES)
def test_matrix_angle_and_svd_against_numpy(dtype):
    rng = np.random.default_rng(2)
    a, b = matrices(rng, 32), matrices(rng, 32)
    want = R.quat_angle(R.matrix_to_quat(a), R.matrix_to_quat(b))
    check(lambda x, y: want, T.matrix_angle, a, b, dtype=dtype, atol=1e-4 if dtype == np.float32 else 1e-9)
    got = T.geodesic_loss(torch.from_numpy(a.astype(dtype)), torch.from_numpy(b.astype(dtype)))
    assert got.ndim == 0 and abs(float(got) - want.mean()) < 1e-5
    # 9D+SVD = the rotation R maximising tr(R^T M) = kabsch with src = basis vectors, dst = M's columns
    x = rng.normal(size=(32, 3, 3))
    ref = R.kabsch(np.broadcast_to(np.eye(3), x.shape), np.swapaxes(x, -1, -2))
    check(lambda y: ref, T.svd_orthogonalize, x, dtype=dtype, atol=1e-4 if dtype == np.float32 else 1e-9)
    flat = T.svd_orthogonalize(torch.from_numpy(x.reshape(32, 9).astype(dtype)))  # (..., 9) row-major
    np.testing.assert_allclose(flat.numpy(), ref, atol=1e-4 if dtype == np.float32 else 1e-9)
    assert np.allclose(np.linalg.det(flat.numpy().astype(np.float64)), 1.0, atol=1e-5)
    np.testing.assert_allclose(T.svd_orthogonalize(torch.from_numpy(a)).numpy(), a, atol=1e-12)  # fixed point


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("use_matrix", [False, True])
def test_forward_kinematics_parity(dtype, use_matrix):
    rng = np.random.default_rng(3)
    q = quats(rng, 2 * 3 * S.NUM_JOINTS).reshape(2, 3, S.NUM_JOINTS, 4).astype(dtype)
    root = rng.normal(size=(2, 3, 3)).astype(dtype)
    local = R.quat_to_matrix(q) if use_matrix else q
    for offsets in (S.REST_OFFSETS, S.REST_OFFSETS * rng.uniform(0.8, 1.2, size=(2, 3, S.NUM_JOINTS, 1))):
        want_p, want_g = R.forward_kinematics(local, root, offsets.astype(dtype), S.PARENTS)
        # offsets may stay numpy float64: they follow the rotations' dtype
        got_p, got_g = T.forward_kinematics(torch.from_numpy(local), torch.from_numpy(root), offsets, S.PARENTS)
        assert got_p.dtype == got_g.dtype == torch.from_numpy(local).dtype
        assert np.abs(got_p.numpy() - want_p).max() < tol(dtype) and np.abs(got_g.numpy() - want_g).max() < tol(dtype)
    # parents as a tensor, root as (3,)
    p2, _ = T.forward_kinematics(torch.from_numpy(local[0, 0]), torch.zeros(3, dtype=torch.float64),
                                 torch.from_numpy(S.REST_OFFSETS), torch.from_numpy(S.PARENTS))
    np.testing.assert_allclose(p2.numpy(), R.forward_kinematics(local[0, 0], np.zeros(3), S.REST_OFFSETS, S.PARENTS)[0],
                               atol=tol(dtype))


# --- gradients ------------------------------------------------------------------------------------
def _grad(fn, x):
    x = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(fn(x).sum(), x)
    return g


def test_gradients_finite_at_singular_points():
    eye = torch.eye(3, dtype=torch.float64).expand(4, 3, 3)
    rz_pi = torch.tensor(R.axis_angle_to_matrix([[0, 0, np.pi]]))
    near_pi = torch.tensor(R.axis_angle_to_matrix([[0, 0, np.pi - 1e-6], [0, np.pi - 1e-3, 0]]))
    for target in (eye[:1], rz_pi, near_pi):  # geodesic loss at identity, at pi and near pi
        g = _grad(lambda x: T.geodesic_loss(x, target), eye[: len(target)])
        assert torch.isfinite(g).all()
    g = _grad(lambda x: T.matrix_angle(x, near_pi[:1]), eye[:1])
    assert g.abs().max() > 0.1  # near pi the loss still pulls (acos would give inf or 0)
    for x in (torch.zeros(2, 3, dtype=torch.float64), torch.full((1, 3), 1e-5, dtype=torch.float64)):
        assert torch.isfinite(_grad(T.axis_angle_to_quat, x)).all()
        assert torch.isfinite(_grad(T.axis_angle_to_matrix, x)).all()
    ident_q = torch.tensor([[1.0, 0, 0, 0], [-1.0, 0, 0, 0]], dtype=torch.float64)
    assert torch.isfinite(_grad(T.quat_to_axis_angle, ident_q)).all()
    assert torch.isfinite(_grad(lambda q: T.quat_angle(q, ident_q), ident_q)).all()
    for m in (eye, rz_pi, near_pi):  # every Shepperd branch, w = 0 included
        assert torch.isfinite(_grad(T.matrix_to_quat, m)).all()
    degenerate = torch.tensor([[1.0, 0, 0, 2.0, 0, 0], [0, 0, 0, 0, 1, 0]], dtype=torch.float64)
    assert torch.isfinite(_grad(T.sixd_to_matrix, degenerate)).all()


def test_gradcheck_sixd_svd_and_geodesic():
    rng = np.random.default_rng(4)
    d6 = torch.tensor(rng.normal(size=(3, 6)), requires_grad=True)
    assert torch.autograd.gradcheck(T.sixd_to_matrix, (d6,))
    nine = torch.tensor(rng.normal(size=(3, 9)), requires_grad=True)
    assert torch.autograd.gradcheck(T.svd_orthogonalize, (nine,))
    a = torch.tensor(R.quat_to_matrix(quats(rng, 3)), requires_grad=True)
    b = torch.tensor(R.quat_to_matrix(quats(rng, 3)))
    assert torch.autograd.gradcheck(lambda x: T.matrix_angle(x, b), (a,))
    small = torch.tensor([[1e-5, -2e-5, 3e-5], [0.3, 0.2, -0.1]], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(T.axis_angle_to_quat, (small,))


def test_sixd_training_step_reduces_geodesic_loss():
    """Plain gradient descent on 6D through Gram-Schmidt and the geodesic loss reaches the targets."""
    rng = np.random.default_rng(5)
    target = torch.tensor(R.quat_to_matrix(quats(rng, 16)), dtype=torch.float32)
    d6 = torch.tensor(rng.normal(size=(16, 6)), dtype=torch.float32, requires_grad=True)
    losses = []
    for _ in range(100):
        loss = T.geodesic_loss(T.sixd_to_matrix(d6), target)
        losses.append(float(loss.detach()))
        (g,) = torch.autograd.grad(loss, d6)
        with torch.no_grad():
            d6 -= 4.0 * g
    assert losses[0] > 1.0 and losses[-1] < 0.1 * losses[0]


# --- shapes, dtype and ONNX -----------------------------------------------------------------------
@pytest.mark.parametrize("fn, shape", [
    (T.quat_to_matrix, (2, 3)), (T.matrix_to_quat, (4, 4)), (T.sixd_to_matrix, (5,)), (T.matrix_to_6d, (3,)),
    (T.axis_angle_to_quat, (4,)), (T.svd_orthogonalize, (8,)), (lambda x: T.quat_multiply(x, x), (3,)),
    (lambda x: T.matrix_angle(x, x), (3, 2)),
    (lambda x: T.forward_kinematics(x, torch.zeros(3), S.REST_OFFSETS, S.PARENTS), (5, 3)),
])
def test_bad_shape_names_shape(fn, shape):
    with pytest.raises(ValueError) as err:
        fn(torch.ones(shape))
    assert str(shape) in str(err.value)


def test_fk_joint_count_error():
    with pytest.raises(ValueError, match="joints"):
        T.forward_kinematics(torch.ones(3, 4), torch.zeros(3), S.REST_OFFSETS, S.PARENTS)


class _Head(torch.nn.Module):
    """What an exported model does with its rotations: 6D -> matrix -> quaternion, FK, axis-angle."""

    def forward(self, d6, root):
        m = T.sixd_to_matrix(d6)
        q = T.matrix_to_quat(m)
        pos, glob = T.forward_kinematics(q, root[:, None], S.REST_OFFSETS, S.PARENTS)
        return q, pos, T.quat_to_axis_angle(T.quat_multiply(q, T.quat_conjugate(q[..., :1, :]))), \
            T.matrix_angle(m, glob), T.axis_angle_to_matrix(T.matrix_to_axis_angle(m)), T.quat_apply(q, root[:, None, None])


def test_onnx_export_matches_numpy():
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    buf = io.BytesIO()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.onnx.export(_Head(), (torch.randn(2, 3, S.NUM_JOINTS, 6), torch.randn(2, 3)), buf, dynamo=False,
                          opset_version=17, input_names=["d6", "root"],
                          output_names=["q", "pos", "aa", "ang", "m2", "v"],
                          dynamic_axes={"d6": {0: "batch", 1: "time"}, "root": {0: "batch"}})
    tracer = [str(w.message) for w in caught if issubclass(w.category, torch.jit.TracerWarning)]
    assert not tracer, tracer  # nothing data-dependent was baked into the graph
    sess = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(6)
    d6 = rng.normal(size=(4, 5, S.NUM_JOINTS, 6)).astype(np.float32)  # other batch and time sizes
    d6[0, 0, :4] = R.matrix_to_6d(np.stack([np.eye(3), np.diag([1.0, -1, -1]), np.diag([-1.0, 1, -1]),
                                            np.diag([-1.0, -1, 1])]))
    root = rng.normal(size=(4, 3)).astype(np.float32)
    q, pos, aa, ang, m2, v = sess.run(None, {"d6": d6, "root": root})
    m = R.sixd_to_matrix(d6)
    q_np = R.matrix_to_quat(m)
    np.testing.assert_allclose(q, q_np, atol=1e-5)
    np.testing.assert_allclose(pos, R.forward_kinematics(q_np, root[:, None], S.REST_OFFSETS, S.PARENTS)[0], atol=1e-5)
    rel = R.quat_multiply(q_np, R.quat_conjugate(q_np[..., :1, :]))
    np.testing.assert_allclose(aa, R.quat_to_axis_angle(rel), atol=1e-4)
    np.testing.assert_allclose(m2, m, atol=1e-5)
    np.testing.assert_allclose(v, R.quat_apply(q_np, root[:, None, None]), atol=1e-5)
    assert ang.shape == (4, 5, S.NUM_JOINTS)
