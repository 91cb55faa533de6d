"""Torch twin of ``inference/core/rotations.py`` for training and ONNX export.

``inference/core/rotations.py`` is the source of truth; every convention here is identical:
- Quaternions are w-first ``(w, x, y, z)``, unit, Hamilton product; ``q`` and ``-q`` are the same
  rotation; ``matrix_to_quat`` returns ``w >= 0``.
- Rotation matrices act on column vectors (``v' = R @ v``); ``G[j] = G[parent] @ L[j]``.
- Axis-angle is unit axis times angle in radians, angle in [0, pi].
- 6D is the first two columns ``[R[:,0], R[:,1]]``; Gram-Schmidt restores ``(b1, b2, b1 x b2)``.
Functions with a numpy namesake match it numerically (tests/test_torch_rotations.py). Shapes are
batched ``(..., k)``; a bad shape raises ``ValueError`` naming it. Dtype and device follow the input.

Gradients are finite everywhere (zero angles, 180 degrees, zero-length cross products), and all
functions except ``svd_orthogonalize`` export with ``torch.onnx.export(..., dynamo=False)`` at
opset 17 (no SVD, no data-dependent Python branches).
"""
from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np
import torch
from torch import Tensor

_EPS = 1e-12
_SMALL_SQ = 1e-6  # squared angle below which series expansions replace sin(x)/x (angle < 1e-3 rad)


def _shape(x: Tensor) -> tuple[int, ...]:
    """Static shape as ints. While tracing for ONNX, sizes are traced values and comparing them
    warns; the checks below only validate the example input, so read them silently there."""
    if torch.jit.is_tracing():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            return tuple(int(s) for s in x.shape)
    return tuple(x.shape)


def _tensor(x, like: Tensor | None = None) -> Tensor:
    """Tensor from x (numpy arrays become trace constants), cast to like's dtype and device."""
    if not isinstance(x, Tensor):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            x = torch.as_tensor(np.asarray(x))
    return x if like is None else x.to(dtype=like.dtype, device=like.device)


def _check(x: Tensor, tail: tuple[int, ...], name: str) -> Tensor:
    x = _tensor(x)
    shape = _shape(x)
    if len(shape) < len(tail) or shape[len(shape) - len(tail):] != tail:
        raise ValueError(f"{name}: expected shape (..., {', '.join(map(str, tail))}), got {shape}")
    if not x.is_floating_point():
        x = x.to(torch.float64)
    return x


def _safe_norm(x: Tensor, keepdim: bool = False) -> Tensor:
    """Euclidean norm over the last axis whose gradient is 0 (not NaN) at the zero vector."""
    return torch.sqrt(torch.clamp((x * x).sum(-1, keepdim=keepdim), min=1e-30))


def _cross(a: Tensor, b: Tensor) -> Tensor:
    a0, a1, a2 = a.unbind(-1)
    b0, b1, b2 = b.unbind(-1)
    return torch.stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], dim=-1)


# --- quaternions -----------------------------------------------------------------------------
def quat_normalize(q: Tensor) -> Tensor:
    """(..., 4) -> (..., 4) unit quaternions."""
    q = _check(q, (4,), "quat_normalize")
    return q / torch.clamp(_safe_norm(q, keepdim=True), min=_EPS)


def quat_canonical(q: Tensor) -> Tensor:
    """(..., 4) -> (..., 4) the representative with w >= 0."""
    q = _check(q, (4,), "quat_canonical")
    return torch.where(q[..., :1] < 0, -q, q)


def quat_conjugate(q: Tensor) -> Tensor:
    """(..., 4) -> (..., 4) conjugate = inverse for unit quaternions."""
    q = _check(q, (4,), "quat_conjugate")
    return torch.cat([q[..., :1], -q[..., 1:]], dim=-1)


def quat_multiply(a: Tensor, b: Tensor) -> Tensor:
    """(..., 4) x (..., 4) -> (..., 4) Hamilton product a*b (apply b first, then a)."""
    a = _check(a, (4,), "quat_multiply a")
    b = _check(b, (4,), "quat_multiply b")
    aw, ax, ay, az = a.unbind(-1)
    bw, bx, by, bz = b.unbind(-1)
    return torch.stack([
        aw * bw - ax * bx - ay * by - az * bz,
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
    ], dim=-1)


def quat_apply(q: Tensor, v: Tensor) -> Tensor:
    """Rotate vectors: (..., 4), (..., 3) -> (..., 3)."""
    q = _check(q, (4,), "quat_apply q")
    v = _check(v, (3,), "quat_apply v")
    w, u = q[..., :1], q[..., 1:]
    t = 2.0 * _cross(u, v)
    return v + w * t + _cross(u, t)


def quat_to_matrix(q: Tensor) -> Tensor:
    """(..., 4) wxyz -> (..., 3, 3). Normalises first."""
    q = quat_normalize(q)
    w, x, y, z = q.unbind(-1)
    m = torch.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ], dim=-1)
    return m.unflatten(-1, (3, 3))


def matrix_to_quat(m: Tensor) -> Tensor:
    """(..., 3, 3) -> (..., 4) wxyz, w >= 0. Branch-free Shepperd: all four candidates, the one
    with the largest diagonal term picked by a one-hot mask (its norm is >= 2, so the
    normalisation and its gradient are safe)."""
    m = _check(m, (3, 3), "matrix_to_quat")
    m00, m01, m02 = m[..., 0, 0], m[..., 0, 1], m[..., 0, 2]
    m10, m11, m12 = m[..., 1, 0], m[..., 1, 1], m[..., 1, 2]
    m20, m21, m22 = m[..., 2, 0], m[..., 2, 1], m[..., 2, 2]
    d = torch.stack([1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22], -1)
    cand = torch.stack([
        torch.stack([d[..., 0], m21 - m12, m02 - m20, m10 - m01], -1),
        torch.stack([m21 - m12, d[..., 1], m01 + m10, m02 + m20], -1),
        torch.stack([m02 - m20, m01 + m10, d[..., 2], m12 + m21], -1),
        torch.stack([m10 - m01, m02 + m20, m12 + m21, d[..., 3]], -1),
    ], dim=-2)  # (..., 4 branches, 4)
    best = torch.argmax(d, dim=-1, keepdim=True)  # (..., 1)
    onehot = (best == torch.arange(4, device=m.device)).to(m.dtype)  # (..., 4)
    q = (cand * onehot[..., None]).sum(-2)
    return quat_canonical(quat_normalize(q))


def axis_angle_to_quat(aa: Tensor) -> Tensor:
    """(..., 3) axis * angle (rad) -> (..., 4) wxyz."""
    aa = _check(aa, (3,), "axis_angle_to_quat")
    sq = (aa * aa).sum(-1, keepdim=True)
    small = sq < _SMALL_SQ
    angle = torch.sqrt(torch.where(small, torch.ones_like(sq), sq))  # never sqrt(0): finite grads
    half = 0.5 * angle
    k = torch.where(small, 0.5 - sq / 48.0 + sq * sq / 3840.0, torch.sin(half) / angle)
    w = torch.where(small, 1.0 - sq / 8.0 + sq * sq / 384.0, torch.cos(half))
    return torch.cat([w, aa * k], dim=-1)


def quat_to_axis_angle(q: Tensor) -> Tensor:
    """(..., 4) wxyz -> (..., 3) axis * angle, angle in [0, pi]."""
    q = quat_canonical(quat_normalize(q))
    w, u = q[..., :1], q[..., 1:]
    sq = (u * u).sum(-1, keepdim=True)
    small = sq < 1e-16  # s < 1e-8 as in numpy
    s = torch.sqrt(torch.where(small, torch.ones_like(sq), sq))
    k = torch.where(small, 2.0 / torch.clamp(w, min=_EPS), 2.0 * torch.atan2(s, w) / s)
    return u * k


def axis_angle_to_matrix(aa: Tensor) -> Tensor:
    """(..., 3) -> (..., 3, 3)."""
    return quat_to_matrix(axis_angle_to_quat(aa))


def matrix_to_axis_angle(m: Tensor) -> Tensor:
    """(..., 3, 3) -> (..., 3)."""
    return quat_to_axis_angle(matrix_to_quat(m))


# --- 6D / 9D -----------------------------------------------------------------------------------
def matrix_to_6d(m: Tensor) -> Tensor:
    """(..., 3, 3) -> (..., 6): first column then second column."""
    m = _check(m, (3, 3), "matrix_to_6d")
    return torch.cat([m[..., :, 0], m[..., :, 1]], dim=-1)


def sixd_to_matrix(d6: Tensor) -> Tensor:
    """(..., 6) -> (..., 3, 3) by Gram-Schmidt; columns are (b1, b2, b1 x b2)."""
    d6 = _check(d6, (6,), "sixd_to_matrix")
    a1, a2 = d6[..., :3], d6[..., 3:]
    b1 = a1 / torch.clamp(_safe_norm(a1, keepdim=True), min=_EPS)
    a2 = a2 - (b1 * a2).sum(-1, keepdim=True) * b1
    b2 = a2 / torch.clamp(_safe_norm(a2, keepdim=True), min=_EPS)
    return torch.stack([b1, b2, _cross(b1, b2)], dim=-1)


def quat_to_6d(q: Tensor) -> Tensor:
    return matrix_to_6d(quat_to_matrix(q))


def sixd_to_quat(d6: Tensor) -> Tensor:
    return matrix_to_quat(sixd_to_matrix(d6))


def svd_orthogonalize(x: Tensor) -> Tensor:
    """(..., 9) row-major or (..., 3, 3) -> (..., 3, 3) nearest rotation (Frobenius), det +1:
    U diag(1, 1, det(U V^T)) V^T ("9D + SVD", Levinson et al. 2020). Training only: torch's SVD
    does not export to ONNX, and its gradient needs distinct singular values."""
    x = _tensor(x)
    if _shape(x)[-1:] == (9,):
        x = x.unflatten(-1, (3, 3))
    x = _check(x, (3, 3), "svd_orthogonalize")
    u, _, vh = torch.linalg.svd(x)
    det = torch.linalg.det(u @ vh)
    u = torch.cat([u[..., :2], u[..., 2:] * det[..., None, None]], dim=-1)
    return u @ vh


# --- angles / losses ---------------------------------------------------------------------------
def quat_angle(a: Tensor, b: Tensor) -> Tensor:
    """(..., 4), (..., 4) -> (...) geodesic angle between two rotations, radians in [0, pi]."""
    a = quat_normalize(a)
    b = quat_normalize(b)
    b = torch.where((a * b).sum(-1, keepdim=True) < 0, -b, b)
    return 4.0 * torch.atan2(_safe_norm(a - b), _safe_norm(a + b))


def matrix_angle(a: Tensor, b: Tensor) -> Tensor:
    """(..., 3, 3), (..., 3, 3) -> (...) geodesic angle of a^T b, radians in [0, pi].
    atan2(sin, cos) from the skew and trace parts: accurate and with a finite gradient at 0 and pi
    (unlike acos of the trace)."""
    a = _check(a, (3, 3), "matrix_angle a")
    b = _check(b, (3, 3), "matrix_angle b")
    r = a.transpose(-1, -2) @ b
    cos = 0.5 * (r[..., 0, 0] + r[..., 1, 1] + r[..., 2, 2] - 1.0)
    skew = torch.stack([r[..., 2, 1] - r[..., 1, 2], r[..., 0, 2] - r[..., 2, 0], r[..., 1, 0] - r[..., 0, 1]], -1)
    return torch.atan2(0.5 * _safe_norm(skew), cos)


def geodesic_loss(a: Tensor, b: Tensor) -> Tensor:
    """Scalar: mean geodesic angle (radians) between rotation matrices (..., 3, 3)."""
    return matrix_angle(a, b).mean()


# --- forward kinematics --------------------------------------------------------------------------
def forward_kinematics(local_rot: Tensor, root_translation: Tensor, offsets: Tensor,
                       parents: Sequence[int]) -> tuple[Tensor, Tensor]:
    """Local rest-relative rotations -> global joints (numpy namesake: same semantics).

    local_rot: (..., J, 4) wxyz or (..., J, 3, 3); root_translation: (..., 3) metres;
    offsets: (J, 3) or (..., J, 3) rest offsets from each parent (row 0 ignored);
    parents: (J,) ints (list, numpy or tensor) with parents[j] < j and parents[0] = -1.
    root_translation and offsets (tensors or numpy) are cast to local_rot's dtype and device.
    Returns (positions (..., J, 3), global rotation matrices (..., J, 3, 3)).
    """
    local_rot = _tensor(local_rot)
    if _shape(local_rot)[-1:] == (4,):
        local_rot = quat_to_matrix(local_rot)
    local_rot = _check(local_rot, (3, 3), "forward_kinematics local_rot")
    parents = [int(p) for p in parents]
    n = len(parents)
    shape = _shape(local_rot)
    if len(shape) < 3 or shape[-3] != n:
        raise ValueError(f"forward_kinematics: local_rot has {shape[-3] if len(shape) > 2 else 0} joints, parents has {n}")
    offsets = _check(_tensor(offsets, local_rot), (n, 3), "forward_kinematics offsets")
    root_translation = _check(_tensor(root_translation, local_rot), (3,), "forward_kinematics root_translation")
    glob = [local_rot[..., 0, :, :]]
    pos = [root_translation.expand_as(glob[0][..., 0])]
    for j in range(1, n):
        p = parents[j]
        glob.append(glob[p] @ local_rot[..., j, :, :])
        pos.append(pos[p] + (glob[p] @ offsets[..., j, :, None])[..., 0])
    return torch.stack(pos, dim=-2), torch.stack(glob, dim=-3)
