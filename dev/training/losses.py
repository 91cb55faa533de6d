"""Training losses and validation metrics for the uplifter.

All tensors follow the batch contract (camera frame, metres, root-relative):
- pred (``UplifterNet.forward``): joints (B, T, 22, 3), rot_mat (B, T, 22, 3, 3), bone_lengths (B, T, 22)
- batch (torch): joints (B, T, 22, 3), local_rot (B, T, 22, 4) wxyz, offsets (B, 22, 3), bone_lengths (B, 22)

Terms (each a scalar, before weighting):
- ``joints``   MPJPE, metres: mean Euclidean error of the joint head
- ``rotation`` geodesic angle, radians: mean over all 22 local rotations (root included)
- ``fk``       metres: FK of the predicted rotations with the predicted bone lengths (along the
               target offsets' directions: canonical for limbs and spine, the body's own for hips,
               shoulders and the lumbar offset) vs the target joints
- ``velocity`` metres/frame: mean error of the joints' first differences in time
- ``bones``    metres: mean absolute bone-length error
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor

from ...inference.core import skeleton as sk
from . import torch_rotations as tr


@dataclass
class LossWeights:
    joints: float = 1.0
    rotation: float = 0.3
    fk: float = 1.0
    velocity: float = 2.0
    bones: float = 1.0
    rotation_supervision: bool = True  # False: FK-only ablation (no direct rotation loss)

    def to_dict(self) -> dict:
        return asdict(self)


def mpjpe(a: Tensor, b: Tensor) -> Tensor:
    """Scalar mean Euclidean distance between (..., 3) point sets."""
    return torch.sqrt(((a - b) ** 2).sum(-1) + 1e-12).mean()


def fk_joints(rot_mat: Tensor, bone_lengths: Tensor, offsets: Tensor) -> Tensor:
    """(B, T, 22, 3, 3) local rotations, (B, T, 22) lengths, (B, 22, 3) offsets giving the directions
    -> (B, T, 22, 3) root-relative joint positions, metres."""
    norm = torch.sqrt((offsets ** 2).sum(-1, keepdim=True) + 1e-12)
    dirs = torch.where(norm > 1e-5, offsets / norm, torch.zeros_like(offsets))  # root row -> 0
    off = dirs[:, None] * bone_lengths[..., None]
    return tr.forward_kinematics(rot_mat, torch.zeros(3), off, sk.PARENTS)[0]


def compute_losses(pred: dict, batch: dict, weights: LossWeights | None = None) -> dict[str, Tensor]:
    """Weighted training loss: dict with every term (unweighted, detached) and "total" (with grad)."""
    w = weights or LossWeights()
    tgt_joints = batch["joints"]
    tgt_rot = tr.quat_to_matrix(batch["local_rot"])
    terms = {
        "joints": mpjpe(pred["joints"], tgt_joints),
        "rotation": tr.matrix_angle(pred["rot_mat"], tgt_rot).mean(),
        "fk": mpjpe(fk_joints(pred["rot_mat"], pred["bone_lengths"], batch["offsets"]), tgt_joints),
        "velocity": mpjpe(pred["joints"][:, 1:] - pred["joints"][:, :-1], tgt_joints[:, 1:] - tgt_joints[:, :-1]),
        "bones": (pred["bone_lengths"] - batch["bone_lengths"][:, None]).abs().mean(),
    }
    total = (w.joints * terms["joints"] + w.fk * terms["fk"] + w.velocity * terms["velocity"]
             + w.bones * terms["bones"])
    if w.rotation_supervision:
        total = total + w.rotation * terms["rotation"]
    out = {k: v.detach() for k, v in terms.items()}
    out["total"] = total
    return out


@torch.no_grad()
def metrics(pred: dict, batch: dict) -> dict[str, float]:
    """Validation metrics: MPJPE (mm) of the joint head and of FK, MPJAE (deg, all 22 local rotations,
    root orientation included), bone-length error (mm)."""
    tgt_rot = tr.quat_to_matrix(batch["local_rot"])
    fk = fk_joints(pred["rot_mat"], pred["bone_lengths"], batch["offsets"])
    return {
        "mpjpe_mm": float(mpjpe(pred["joints"], batch["joints"])) * 1000.0,
        "fk_mpjpe_mm": float(mpjpe(fk, batch["joints"])) * 1000.0,
        "mpjae_deg": float(torch.rad2deg(tr.matrix_angle(pred["rot_mat"], tgt_rot)).mean()),
        "bone_mm": float((pred["bone_lengths"] - batch["bone_lengths"][:, None]).abs().mean()) * 1000.0,
    }
