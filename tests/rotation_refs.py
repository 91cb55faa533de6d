"""First-principles rotation references shared by the rotation tests: hand-written axis matrices,
Rodrigues' formula, random rotations, tolerances. Never calls the module under test."""
from __future__ import annotations

import itertools

import numpy as np

DTYPES = [np.float32, np.float64]
SHAPES = [(5,), (2, 3)]
ORDERS = ["".join(p) for p in itertools.permutations("XYZ")]


def tol(dtype) -> float:
    return 5e-5 if dtype == np.float32 else 1e-11


# --- first-principles references --------------------------------------------------------------
def rx(t):
    c, s = np.cos(t), np.sin(t)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def ry(t):
    c, s = np.cos(t), np.sin(t)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def rz(t):
    c, s = np.cos(t), np.sin(t)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


AXIS_FN = {"X": rx, "Y": ry, "Z": rz}


def rodrigues(aa: np.ndarray) -> np.ndarray:
    """Single (3,) axis-angle -> (3, 3), float64: I + sin K + (1 - cos) K^2."""
    aa = np.asarray(aa, dtype=np.float64)
    t = np.linalg.norm(aa)
    if t == 0:
        return np.eye(3)
    x, y, z = aa / t
    k = np.array([[0, -z, y], [z, 0, -x], [-y, x, 0]])
    return np.eye(3) + np.sin(t) * k + (1 - np.cos(t)) * k @ k


def rodrigues_batch(aa: np.ndarray) -> np.ndarray:
    flat = np.asarray(aa, dtype=np.float64).reshape(-1, 3)
    return np.stack([rodrigues(v) for v in flat]).reshape(aa.shape[:-1] + (3, 3))


def random_axis_angle(rng, shape, max_angle=np.pi - 1e-3):
    axis = rng.normal(size=shape + (3,))
    axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
    return axis * rng.uniform(0.0, max_angle, size=shape + (1,))


def random_quat(rng, shape):
    q = rng.normal(size=shape + (4,))
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def random_matrix(rng, shape):
    return rodrigues_batch(random_axis_angle(rng, shape))


def assert_rotation(m, atol):
    m = np.asarray(m, dtype=np.float64)
    eye = np.broadcast_to(np.eye(3), m.shape)
    np.testing.assert_allclose(np.swapaxes(m, -1, -2) @ m, eye, atol=atol)
    np.testing.assert_allclose(np.linalg.det(m), 1.0, atol=atol)


def sign_align(q, ref):
    """Flip q (..., 4) onto ref's hemisphere to compare rotations given as quaternions."""
    return np.where(np.sum(q * ref, axis=-1, keepdims=True) < 0, -q, q)
