"""Rotation conventions and conversions (numpy), the single source of truth for the project.

Conventions:
- Quaternions are **w-first** ``(w, x, y, z)`` like Blender's ``mathutils.Quaternion``, unit
  length, Hamilton product; ``q`` and ``-q`` are the same rotation.
- Rotation matrices act on **column vectors**: ``v' = R @ v``. A joint's global rotation is
  ``G[j] = G[parent] @ L[j]``.
- Axis-angle is a 3-vector: unit axis times angle in radians.
- 6D is the first two **columns** of the rotation matrix, ``[R[:,0], R[:,1]]`` flattened to 6
  (Zhou et al. 2019); Gram-Schmidt restores the matrix.
- Euler angles (BVH) are in radians with an explicit order string such as ``"ZXY"``: the matrix
  is ``R = R_Z @ R_X @ R_Y`` (intrinsic, applied left to right as listed in the BVH header).

Every function takes a batch ``(..., k)`` and raises ``ValueError`` naming a bad shape.
The torch twin for training is ``dev/training/torch_rotations.py`` (kept equal by a parity test).
"""
from __future__ import annotations

import numpy as np

_EPS = 1e-12


def _check(x: np.ndarray, tail: tuple[int, ...], name: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim < len(tail) or tuple(x.shape[x.ndim - len(tail):]) != tail:
        raise ValueError(f"{name}: expected shape (..., {', '.join(map(str, tail))}), got {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    return x


# --- quaternions -----------------------------------------------------------------------------
def quat_normalize(q: np.ndarray) -> np.ndarray:
    """(..., 4) -> (..., 4) unit quaternions."""
    q = _check(q, (4,), "quat_normalize")
    return q / np.maximum(np.linalg.norm(q, axis=-1, keepdims=True), _EPS)


def quat_canonical(q: np.ndarray) -> np.ndarray:
    """(..., 4) -> (..., 4) the representative with w >= 0 (same rotation)."""
    q = _check(q, (4,), "quat_canonical")
    return np.where(q[..., :1] < 0, -q, q)


def quat_conjugate(q: np.ndarray) -> np.ndarray:
    """(..., 4) -> (..., 4) conjugate = inverse for unit quaternions."""
    q = _check(q, (4,), "quat_conjugate")
    return q * np.array([1.0, -1.0, -1.0, -1.0], dtype=q.dtype)


def quat_reflect_x(q: np.ndarray) -> np.ndarray:
    """(..., 4) -> (..., 4) the rotation seen in a mirror across the YZ plane (x -> -x):
    ``M R M`` with ``M = diag(-1, 1, 1)``, i.e. ``(w, x, y, z) -> (w, x, -y, -z)``."""
    q = _check(q, (4,), "quat_reflect_x")
    return q * np.array([1.0, 1.0, -1.0, -1.0], dtype=q.dtype)


def quat_multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(..., 4) x (..., 4) -> (..., 4) Hamilton product a*b (apply b first, then a)."""
    a = _check(a, (4,), "quat_multiply a")
    b = _check(b, (4,), "quat_multiply b")
    aw, ax, ay, az = np.moveaxis(a, -1, 0)
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    return np.stack([
        aw * bw - ax * bx - ay * by - az * bz,
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
    ], axis=-1)


def quat_apply(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vectors: (..., 4), (..., 3) -> (..., 3)."""
    q = _check(q, (4,), "quat_apply q")
    v = _check(v, (3,), "quat_apply v")
    w, u = q[..., :1], q[..., 1:]
    t = 2.0 * np.cross(u, v)
    return v + w * t + np.cross(u, t)


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """(..., 4) wxyz -> (..., 3, 3). Normalises first."""
    q = quat_normalize(q)
    w, x, y, z = np.moveaxis(q, -1, 0)
    m = np.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ], axis=-1)
    return m.reshape(q.shape[:-1] + (3, 3))


def matrix_to_quat(m: np.ndarray) -> np.ndarray:
    """(..., 3, 3) -> (..., 4) wxyz with w >= 0 (numerically stable branch per element)."""
    m = _check(m, (3, 3), "matrix_to_quat")
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    # Candidates from each of the four largest-component branches (Shepperd's method).
    cand = np.stack([
        np.stack([1 + m00 + m11 + m22, m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]], -1),
        np.stack([m[..., 2, 1] - m[..., 1, 2], 1 + m00 - m11 - m22, m[..., 0, 1] + m[..., 1, 0], m[..., 0, 2] + m[..., 2, 0]], -1),
        np.stack([m[..., 0, 2] - m[..., 2, 0], m[..., 0, 1] + m[..., 1, 0], 1 - m00 + m11 - m22, m[..., 1, 2] + m[..., 2, 1]], -1),
        np.stack([m[..., 1, 0] - m[..., 0, 1], m[..., 0, 2] + m[..., 2, 0], m[..., 1, 2] + m[..., 2, 1], 1 - m00 - m11 + m22], -1),
    ], axis=-2)  # (..., 4 branches, 4)
    diag = np.stack([1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22], -1)
    best = np.argmax(diag, axis=-1)
    q = np.take_along_axis(cand, best[..., None, None], axis=-2)[..., 0, :]
    return quat_canonical(quat_normalize(q))


def axis_angle_to_quat(aa: np.ndarray) -> np.ndarray:
    """(..., 3) axis * angle (rad) -> (..., 4) wxyz."""
    aa = _check(aa, (3,), "axis_angle_to_quat")
    angle = np.linalg.norm(aa, axis=-1, keepdims=True)
    half = 0.5 * angle
    # sin(half)/angle with its series near 0
    k = np.where(angle > 1e-8, np.sin(half) / np.maximum(angle, _EPS), 0.5 - angle ** 2 / 48.0)
    return np.concatenate([np.cos(half), aa * k], axis=-1)


def quat_to_axis_angle(q: np.ndarray) -> np.ndarray:
    """(..., 4) wxyz -> (..., 3) axis * angle, angle in [0, pi]."""
    q = quat_canonical(quat_normalize(q))
    s = np.linalg.norm(q[..., 1:], axis=-1, keepdims=True)
    angle = 2.0 * np.arctan2(s, q[..., :1])
    k = np.where(s > 1e-8, angle / np.maximum(s, _EPS), 2.0 / np.maximum(q[..., :1], _EPS))
    return q[..., 1:] * k


def axis_angle_to_matrix(aa: np.ndarray) -> np.ndarray:
    """(..., 3) -> (..., 3, 3)."""
    return quat_to_matrix(axis_angle_to_quat(aa))


def matrix_to_axis_angle(m: np.ndarray) -> np.ndarray:
    """(..., 3, 3) -> (..., 3)."""
    return quat_to_axis_angle(matrix_to_quat(m))


# --- 6D ----------------------------------------------------------------------------------------
def matrix_to_6d(m: np.ndarray) -> np.ndarray:
    """(..., 3, 3) -> (..., 6): first column then second column."""
    m = _check(m, (3, 3), "matrix_to_6d")
    return np.concatenate([m[..., :, 0], m[..., :, 1]], axis=-1)


def sixd_to_matrix(d6: np.ndarray) -> np.ndarray:
    """(..., 6) -> (..., 3, 3) by Gram-Schmidt; columns are (b1, b2, b1 x b2)."""
    d6 = _check(d6, (6,), "sixd_to_matrix")
    a1, a2 = d6[..., :3], d6[..., 3:]
    b1 = a1 / np.maximum(np.linalg.norm(a1, axis=-1, keepdims=True), _EPS)
    a2 = a2 - np.sum(b1 * a2, axis=-1, keepdims=True) * b1
    b2 = a2 / np.maximum(np.linalg.norm(a2, axis=-1, keepdims=True), _EPS)
    return np.stack([b1, b2, np.cross(b1, b2)], axis=-1)


def quat_to_6d(q: np.ndarray) -> np.ndarray:
    return matrix_to_6d(quat_to_matrix(q))


def sixd_to_quat(d6: np.ndarray) -> np.ndarray:
    return matrix_to_quat(sixd_to_matrix(d6))


# --- Euler (BVH) -------------------------------------------------------------------------------
def _axis_matrix(axis: str, angle: np.ndarray) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    o, z = np.ones_like(angle), np.zeros_like(angle)
    rows = {
        "X": [o, z, z, z, c, -s, z, s, c],
        "Y": [c, z, s, z, o, z, -s, z, c],
        "Z": [c, -s, z, s, c, z, z, z, o],
    }[axis]
    return np.stack(rows, axis=-1).reshape(angle.shape + (3, 3))


def euler_to_matrix(angles: np.ndarray, order: str) -> np.ndarray:
    """(..., 3) radians in the listed order, e.g. "ZXY" -> R = Rz @ Rx @ Ry, (..., 3, 3)."""
    angles = _check(angles, (3,), "euler_to_matrix")
    order = order.upper()
    if sorted(order) != ["X", "Y", "Z"]:
        raise ValueError(f"euler_to_matrix: order must be a permutation of XYZ, got {order!r}")
    m = _axis_matrix(order[0], angles[..., 0])
    for i in (1, 2):
        m = m @ _axis_matrix(order[i], angles[..., i])
    return m


def matrix_to_euler(m: np.ndarray, order: str) -> np.ndarray:
    """(..., 3, 3) -> (..., 3) radians in the given order (inverse of euler_to_matrix)."""
    m = _check(m, (3, 3), "matrix_to_euler")
    order = order.upper()
    if sorted(order) != ["X", "Y", "Z"]:
        raise ValueError(f"matrix_to_euler: order must be a permutation of XYZ, got {order!r}")
    i, j, k = ("XYZ".index(a) for a in order)
    # R = Ri(a) Rj(b) Rk(c); parity of the permutation sets the signs.
    sign = 1.0 if (j - i) % 3 == 1 else -1.0
    cos_b = np.hypot(m[..., j, k], m[..., k, k])
    b = np.arctan2(sign * m[..., i, k], cos_b)  # atan2, not arcsin: exact near +-90 deg
    a = np.arctan2(-sign * m[..., j, k], m[..., k, k])
    # gimbal lock: put the whole rotation on the first angle (c comes out 0)
    gimbal = cos_b < 8 * np.finfo(m.dtype).eps
    a = np.where(gimbal, np.arctan2(sign * m[..., k, j], m[..., j, j]), a)
    # c from Ri(a)^T R = Rj(b) Rk(c), whose row j is row j of Rk(c): consistent with a even near lock
    ca, sa = np.cos(a), np.sin(a)
    c = np.arctan2(sign * (ca * m[..., j, i] + sign * sa * m[..., k, i]), ca * m[..., j, j] + sign * sa * m[..., k, j])
    return np.stack([a, b, c], axis=-1)


# --- helpers -----------------------------------------------------------------------------------
def rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(..., 3), (..., 3) -> (..., 4) shortest-arc rotation taking direction a onto direction b."""
    a = _check(a, (3,), "rotation_between a")
    b = _check(b, (3,), "rotation_between b")
    dtype = np.result_type(a, b)
    a = a.astype(np.float64)  # float64 inside: opposite vectors are only found reliably there
    b = b.astype(np.float64)
    a = a / np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), _EPS)
    b = b / np.maximum(np.linalg.norm(b, axis=-1, keepdims=True), _EPS)
    w = 0.5 * np.sum((a + b) ** 2, axis=-1, keepdims=True)  # = 1 + a.b without cancellation
    xyz = np.cross(a, b)
    # (nearly) opposite vectors, no usable cross product: 180 deg about an axis perpendicular to a
    opp = np.sum(xyz * xyz, axis=-1) + w[..., 0] ** 2 < 1e-14
    if np.any(opp):
        least = np.eye(3)[np.argmin(np.abs(a), axis=-1)]  # basis axis least aligned with a
        xyz = np.where(opp[..., None], np.cross(a, least), xyz)
        w = np.where(opp[..., None], 0.0, w)
    return quat_normalize(np.concatenate([w, xyz], axis=-1)).astype(dtype, copy=False)


def quat_angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(..., 4), (..., 4) -> (...) geodesic angle between two rotations, radians in [0, pi]."""
    a = quat_normalize(a)
    b = quat_normalize(b)
    b = np.where(np.sum(a * b, axis=-1, keepdims=True) < 0, -b, b)
    # 4 atan2(|a - b|, |a + b|) = 2 acos|a.b|, but accurate near 0 as well
    return 4.0 * np.arctan2(np.linalg.norm(a - b, axis=-1), np.linalg.norm(a + b, axis=-1))


def quat_make_continuous(q: np.ndarray, axis: int = 0) -> np.ndarray:
    """Flip signs along ``axis`` (time) so consecutive quaternions lie in one hemisphere."""
    q = _check(q, (4,), "quat_make_continuous")
    q = np.moveaxis(q.copy(), axis, 0)
    if q.shape[0] > 1:
        dots = np.sum(q[1:] * q[:-1], axis=-1)
        flips = np.cumprod(np.where(dots < 0, -1.0, 1.0), axis=0)
        q[1:] *= flips[..., None]
    return np.moveaxis(q, 0, axis)


def kabsch(src: np.ndarray, dst: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Best rotation R (..., 3, 3) minimising sum w * |R @ src_i - dst_i|^2 for (..., N, 3) sets."""
    src = _check(src, (3,), "kabsch src")
    dst = _check(dst, (3,), "kabsch dst")
    dtype = np.result_type(src, dst)
    w = np.ones(src.shape[-2], dtype) if weights is None else np.asarray(weights).astype(dtype, copy=False)
    h = np.einsum("...ni,...nj,n->...ij", dst, src, w)
    u, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(u @ vt))
    u = u.copy()
    u[..., :, 2] *= d[..., None]
    return u @ vt


# --- forward kinematics --------------------------------------------------------------------------
def forward_kinematics(local_rot: np.ndarray, root_translation: np.ndarray, offsets: np.ndarray,
                       parents: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Local rest-relative rotations -> global joints.

    local_rot: (..., J, 4) wxyz or (..., J, 3, 3); root_translation: (..., 3) metres;
    offsets: (J, 3) or (..., J, 3) rest offsets from each parent (row 0 ignored);
    parents: (J,) with parents[j] < j and parents[0] = -1.
    Returns (positions (..., J, 3), global rotation matrices (..., J, 3, 3)).
    """
    local_rot = np.asarray(local_rot)
    if local_rot.shape[-1] == 4:
        local_rot = quat_to_matrix(local_rot)
    local_rot = _check(local_rot, (3, 3), "forward_kinematics local_rot")
    n = len(parents)
    if local_rot.shape[-3] != n:
        raise ValueError(f"forward_kinematics: local_rot has {local_rot.shape[-3]} joints, parents has {n}")
    offsets = _check(offsets, (n, 3), "forward_kinematics offsets")
    root_translation = _check(root_translation, (3,), "forward_kinematics root_translation")
    batch = local_rot.shape[:-3]
    glob = [None] * n
    pos = [None] * n
    off = np.broadcast_to(offsets, batch + (n, 3))
    glob[0] = local_rot[..., 0, :, :]
    pos[0] = np.broadcast_to(root_translation, batch + (3,))
    for j in range(1, n):
        p = parents[j]
        glob[j] = glob[p] @ local_rot[..., j, :, :]
        pos[j] = pos[p] + np.einsum("...ij,...j->...i", glob[p], off[..., j, :])
    return np.stack(pos, axis=-2), np.stack(glob, axis=-3)
