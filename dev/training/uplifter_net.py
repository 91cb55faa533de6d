"""The uplifter: a temporal transformer from 2D landmarks to 3D joints, joint rotations and bone lengths.

In the spirit of Ludwig et al. 2025 / PoseFormer / MotionAGFormer: a per-frame spatial embedding of
the 33 normalised landmarks (``inference/core/normalize.py``), a learned temporal position embedding
(sliced to the input length T <= ``window``, so ONNX time is dynamic), pre-norm temporal
self-attention blocks, and sequence-to-sequence heads per frame.

Input:  (B, T, 33, 3) float32 [u, v, visibility], MediaPipe order (``skeleton.MP_LANDMARK_NAMES``).
Output dict (camera frame: x right, y depth/forward, z up; metres):
- ``joints``       (B, T, 22, 3) root-relative positions (pelvis = 0)
- ``rot_mat``      (B, T, 22, 3, 3) local rest-relative rotations; index 0 = root in the camera frame
- ``quat``         (B, T, 22, 4) the same, wxyz unit, w >= 0
- ``bone_lengths`` (B, T, 22) = ``skeleton.bone_lengths()`` * exp(0.5 tanh(residual)) (root 0)
- ``rot_raw``      (B, T, 22, D) the raw rotation head output (D = 6, 9, 4 or 3)

Rotation representations: "6d" (Gram-Schmidt), "9d" (SVD orthogonalisation, Levinson et al. 2020;
a stable closed-form gradient in training, an SVD-free Horn/power iteration when exporting),
"quat" (normalised), "axis_angle".
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...inference.core import skeleton as sk
from . import torch_rotations as tr

REPR_DIMS = {"6d": 6, "9d": 9, "quat": 4, "axis_angle": 3}
NUM_LANDMARKS = sk.NUM_LANDMARKS
NUM_JOINTS = sk.NUM_JOINTS


@dataclass
class UplifterConfig:
    """Network hyper-parameters (stored in checkpoints as a dict)."""
    rotation_repr: str = "6d"
    window: int = 81          # frames (30 fps); the longest input the position embedding covers
    dim: int = 256
    depth: int = 6
    heads: int = 8
    mlp_ratio: float = 2.0
    dropout: float = 0.0       # dropout is slow on CPU (bernoulli); synthetic data rarely needs it

    def __post_init__(self):
        if self.rotation_repr not in REPR_DIMS:
            raise ValueError(f"rotation_repr must be one of {sorted(REPR_DIMS)}, got {self.rotation_repr!r}")
        if self.dim % self.heads:
            raise ValueError(f"dim {self.dim} is not divisible by heads {self.heads}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "UplifterConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


SIZES = {
    "default": dict(dim=256, depth=6, heads=8, mlp_ratio=2.0, dropout=0.0),
    "small": dict(dim=128, depth=4, heads=4, mlp_ratio=2.0, dropout=0.0),
    "tiny": dict(dim=32, depth=1, heads=2, mlp_ratio=2.0, dropout=0.0),
}


def make_config(size: str = "default", **overrides) -> UplifterConfig:
    """Config for a named size ("default" <= 5 M parameters, "small", "tiny" for tests)."""
    if size not in SIZES:
        raise ValueError(f"size must be one of {sorted(SIZES)}, got {size!r}")
    return UplifterConfig(**{**SIZES[size], **overrides})


# --- 9D: special orthogonal Procrustes ------------------------------------------------------------
class _SvdSpecialOrtho(torch.autograd.Function):
    """Nearest rotation U diag(1, 1, det) V^T of (N, 3, 3) matrices, with the closed-form gradient
    dL/dM = U [(H - H^T) / (s_i + s_j)] V'^T, H = U^T G V' (s, V' sign-corrected). Unlike
    differentiating torch.linalg.svd, this is finite for repeated singular values (near rotations)."""

    @staticmethod
    def forward(ctx, m: Tensor) -> Tensor:
        u, s, vh = torch.linalg.svd(m)
        d = torch.sign(torch.linalg.det(u @ vh))
        d = torch.where(d == 0, torch.ones_like(d), d)
        flip = torch.stack([torch.ones_like(d), torch.ones_like(d), d], dim=-1)  # (N, 3)
        v = vh.transpose(-1, -2) * flip[..., None, :]
        s = s * flip
        ctx.save_for_backward(u, s, v)
        return u @ v.transpose(-1, -2)

    @staticmethod
    def backward(ctx, g: Tensor) -> Tensor:
        u, s, v = ctx.saved_tensors
        h = u.transpose(-1, -2) @ g @ v
        denom = s[..., :, None] + s[..., None, :]
        denom = torch.where(denom.abs() < 1e-8, torch.full_like(denom, 1e-8), denom)
        return u @ ((h - h.transpose(-1, -2)) / denom) @ v.transpose(-1, -2)


def svd_special_orthogonalize(m: Tensor) -> Tensor:
    """(..., 3, 3) -> (..., 3, 3) nearest rotation (Frobenius), stable gradient. Not ONNX-exportable."""
    shape = m.shape
    return _SvdSpecialOrtho.apply(m.reshape(-1, 3, 3)).reshape(shape)


def horn_special_orthogonalize(m: Tensor, squarings: int = 16) -> Tensor:
    """(..., 3, 3) -> (..., 3, 3) nearest rotation without SVD (exports to ONNX opset 17).

    The rotation maximising tr(R^T M) is the quaternion of the top eigenvector of Horn's symmetric
    4x4 matrix N(M); N + s I (s = sqrt(3) |M|_F makes it positive semi-definite) is raised to the
    power 2**squarings by normalised repeated squaring, which converges to v v^T; its column with
    the largest diagonal entry is picked branch-free (one-hot) and normalised.
    """
    m00, m01, m02 = m[..., 0, 0], m[..., 0, 1], m[..., 0, 2]
    m10, m11, m12 = m[..., 1, 0], m[..., 1, 1], m[..., 1, 2]
    m20, m21, m22 = m[..., 2, 0], m[..., 2, 1], m[..., 2, 2]
    s = math.sqrt(3.0) * torch.sqrt((m * m).sum((-1, -2)) + 1e-30)
    n = torch.stack([
        torch.stack([m00 + m11 + m22 + s, m21 - m12, m02 - m20, m10 - m01], -1),
        torch.stack([m21 - m12, m00 - m11 - m22 + s, m01 + m10, m02 + m20], -1),
        torch.stack([m02 - m20, m01 + m10, -m00 + m11 - m22 + s, m12 + m21], -1),
        torch.stack([m10 - m01, m02 + m20, m12 + m21, -m00 - m11 + m22 + s], -1),
    ], dim=-2)
    for _ in range(squarings):
        n = n / torch.sqrt((n * n).sum((-1, -2), keepdim=True) + 1e-30)
        n = n @ n
    diag = torch.diagonal(n, dim1=-2, dim2=-1)
    onehot = (torch.argmax(diag, dim=-1, keepdim=True) == torch.arange(4, device=m.device)).to(m.dtype)
    q = (n * onehot[..., None, :]).sum(-1)  # the chosen column
    return tr.quat_to_matrix(q)


# --- network ----------------------------------------------------------------------------------
class Attention(nn.Module):
    def __init__(self, dim: int, heads: int, dropout: float):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.dropout = dropout

    def forward(self, x: Tensor) -> Tensor:
        b, t, c = x.shape
        qkv = self.qkv(x).reshape(b, t, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]  # (B, H, T, C/H)
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0)
        return self.proj(y.transpose(1, 2).reshape(b, t, c))


class Block(nn.Module):
    """Pre-norm transformer block: x + Attn(LN(x)); x + MLP(LN(x))."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float, dropout: float):
        super().__init__()
        hidden = int(dim * mlp_ratio)
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads, dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(hidden, dim), nn.Dropout(dropout))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.drop(self.attn(self.norm1(x)))
        return x + self.mlp(self.norm2(x))


def _identity_raw(repr_: str) -> list[float]:
    return {"6d": [1, 0, 0, 0, 1, 0], "9d": [1, 0, 0, 0, 1, 0, 0, 0, 1],
            "quat": [1, 0, 0, 0], "axis_angle": [0, 0, 0]}[repr_]


class UplifterNet(nn.Module):
    """(B, T, 33, 3) normalised landmarks -> dict of per-frame 3D outputs (see module docstring)."""

    def __init__(self, config: UplifterConfig | None = None):
        super().__init__()
        self.config = cfg = config or UplifterConfig()
        self.repr_dim = REPR_DIMS[cfg.rotation_repr]
        self.export_mode = False  # True: SVD-free 9D orthogonalisation (set by export_onnx)
        d_in = NUM_LANDMARKS * 3
        self.embed = nn.Sequential(nn.Linear(d_in, cfg.dim), nn.GELU(), nn.Linear(cfg.dim, cfg.dim))
        self.pos = nn.Parameter(torch.zeros(1, cfg.window, cfg.dim))
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg.dim, cfg.heads, cfg.mlp_ratio, cfg.dropout) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(cfg.dim)
        self.head_joints = nn.Linear(cfg.dim, NUM_JOINTS * 3)
        self.head_rot = nn.Linear(cfg.dim, NUM_JOINTS * self.repr_dim)
        self.head_bones = nn.Linear(cfg.dim, NUM_JOINTS)
        self.register_buffer("rest_lengths", torch.tensor(sk.bone_lengths(), dtype=torch.float32), persistent=False)
        self._init_weights()

    def _init_weights(self):
        nn.init.trunc_normal_(self.pos, std=0.02)
        for mod in self.modules():
            if isinstance(mod, nn.Linear):
                nn.init.trunc_normal_(mod.weight, std=0.02)
                nn.init.zeros_(mod.bias)
        with torch.no_grad():  # start near the rest pose: identity rotations, rest joints and bone lengths
            for head in (self.head_joints, self.head_rot, self.head_bones):
                head.weight.mul_(0.05)
            self.head_rot.bias.copy_(torch.tensor(_identity_raw(self.config.rotation_repr) * NUM_JOINTS))
            self.head_joints.bias.copy_(torch.tensor(sk.rest_positions(), dtype=torch.float32).reshape(-1))

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def rotation_from_raw(self, raw: Tensor) -> tuple[Tensor, Tensor]:
        """(..., D) raw head output -> (rotation matrices (..., 3, 3), quaternions (..., 4) wxyz, w >= 0)."""
        r = self.config.rotation_repr
        if r == "6d":
            mat = tr.sixd_to_matrix(raw)
            return mat, tr.matrix_to_quat(mat)
        if r == "9d":
            m = raw.unflatten(-1, (3, 3))
            mat = horn_special_orthogonalize(m) if self.export_mode else svd_special_orthogonalize(m)
            return mat, tr.matrix_to_quat(mat)
        if r == "quat":
            q = tr.quat_canonical(tr.quat_normalize(raw))
            return tr.quat_to_matrix(q), q
        q = tr.quat_canonical(tr.axis_angle_to_quat(raw))
        return tr.quat_to_matrix(q), q

    def forward(self, keypoints: Tensor) -> dict[str, Tensor]:
        b, t = keypoints.shape[0], keypoints.shape[1]
        if not torch.jit.is_tracing() and t > self.config.window:
            raise ValueError(f"input has {t} frames, the model's window is {self.config.window}")
        x = self.embed(keypoints.reshape(b, t, NUM_LANDMARKS * 3))
        x = self.drop(x + self.pos[:, :t])
        for blk in self.blocks:
            x = blk(x)
        x = self.norm(x)
        joints = self.head_joints(x).reshape(b, t, NUM_JOINTS, 3)
        joints = joints - joints[:, :, :1]
        raw = self.head_rot(x).reshape(b, t, NUM_JOINTS, self.repr_dim)
        rot_mat, quat = self.rotation_from_raw(raw)
        bones = self.rest_lengths * torch.exp(0.5 * torch.tanh(self.head_bones(x)))
        return {"joints": joints, "rot_mat": rot_mat, "quat": quat, "bone_lengths": bones, "rot_raw": raw}


def build_model(config: UplifterConfig | dict) -> UplifterNet:
    if isinstance(config, dict):
        config = UplifterConfig.from_dict(config)
    return UplifterNet(config)


def load_checkpoint(path, map_location: str = "cpu") -> tuple[UplifterNet, dict]:
    """Checkpoint written by ``dev.training.train`` -> (model in eval mode, checkpoint dict).
    The checkpoint holds "config" (UplifterConfig dict) and "model" (state dict)."""
    ckpt = torch.load(path, map_location=map_location, weights_only=False)
    model = build_model(ckpt["config"])
    model.load_state_dict(ckpt["model"])
    model.eval()
    return model, ckpt
