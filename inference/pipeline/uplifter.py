"""Run the uplifter ONNX model (numpy + onnxruntime): normalised 2D landmarks -> 3D joints, joint
rotations and bone lengths for a sequence of any length.

Model contract (written by ``dev/training/export_onnx.py``): input "keypoints" (batch, time, 33, 3)
float32 from ``inference.core.normalize.normalize_landmarks``; outputs "joints" (batch, time, 22, 3)
metres, camera frame (x right, y depth, z up), root-relative; "rotations" (batch, time, 22, 4) wxyz
unit w >= 0 (index 0 = pelvis orientation in the camera frame, others rest-relative local);
"bone_lengths" (batch, time, 22) metres. Metadata ``uplift.*`` is checked on load.

Long sequences are cut into overlapping windows of the model's window size, run several windows per
``session.run``, and blended with trapezoid (linear cross-fade) weights; quaternions are
hemisphere-aligned before the weighted average and renormalised. Sequences shorter than a window
are edge-padded.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core import skeleton as sk
from ..core.assets import UPLIFTER_MODEL
from ..core.normalize import NORMALISATION_ID
from ..core.rotations import quat_canonical, quat_normalize, quat_reflect_x

DEFAULT_MODEL_PATH = UPLIFTER_MODEL
PROVIDER_PREFERENCE = ("CUDAExecutionProvider", "DmlExecutionProvider", "CoreMLExecutionProvider",
                       "CPUExecutionProvider")
# The ONNX contract (docs/uplifter-contract.md); the exporter (dev/training/export_onnx.py) imports these.
LANDMARKS_ID = "mediapipe33"
INPUT_NAME = "keypoints"
OUTPUT_NAMES = ("joints", "rotations", "bone_lengths")
MODEL_FPS = "30"
META_WINDOW = "uplift.window"
META_FPS = "uplift.fps"
META_JOINT_ORDER = "uplift.joint_order_hash"
META_LANDMARKS = "uplift.landmarks"
META_NORMALISATION = "uplift.normalisation"
META_MODEL_VERSION = "uplift.model_version"
META_ROTATION_REPR = "uplift.rotation_repr"
META_CONFIG = "uplift.config"
META_METRICS = "uplift.metrics"


class ModelMismatchError(ValueError):
    """The ONNX model's metadata does not match this code (skeleton, landmarks, normalisation, fps)."""


@dataclass
class UpliftResult:
    """joints (T, 22, 3) float32 metres, camera frame, root-relative; rotations (T, 22, 4) float32
    wxyz unit, w >= 0 (root in the camera frame, others rest-relative local); bone_lengths (T, 22)
    float32 metres (root 0)."""
    joints: np.ndarray
    rotations: np.ndarray
    bone_lengths: np.ndarray


def select_providers(available: list[str] | None = None, preferred: list[str] | None = None) -> list[str]:
    """Execution providers in preference order (CUDA, DirectML, CoreML, then CPU), keeping those
    in ``available`` (default: ``onnxruntime.get_available_providers()``); CPU always comes last.
    ``preferred`` overrides the preference order."""
    if available is None:
        import onnxruntime as ort
        available = ort.get_available_providers()
    order = list(preferred) if preferred else list(PROVIDER_PREFERENCE)
    chosen = [p for p in order if p in available and p != "CPUExecutionProvider"]
    return chosen + ["CPUExecutionProvider"]


def expected_metadata() -> dict[str, str]:
    """The metadata values this code needs from a model."""
    return {META_JOINT_ORDER: sk.joint_order_hash(), META_LANDMARKS: LANDMARKS_ID, META_FPS: MODEL_FPS,
            META_NORMALISATION: NORMALISATION_ID}


def check_metadata(meta: dict[str, str], source: str = "model") -> int:
    """Raise ModelMismatchError naming the first mismatching key; return the window size (frames)."""
    for key, want in expected_metadata().items():
        got = meta.get(key)
        same = got is not None and (got == want if key != META_FPS else _float(got) == float(want))
        if not same:
            raise ModelMismatchError(f"{source}: metadata {key!r} is {got!r}, expected {want!r} "
                                     f"(the model was built for a different skeleton, landmark layout, "
                                     f"input normalisation or frame rate)")
    window = meta.get(META_WINDOW)
    if window is None or not window.isdigit() or int(window) < 1:
        raise ModelMismatchError(f"{source}: metadata 'uplift.window' is {window!r}, expected a positive int")
    return int(window)


def _float(s: str) -> float:
    try:
        return float(s)
    except ValueError:
        return float("nan")


def window_starts(n: int, window: int, stride: int) -> list[int]:
    """Start frames of windows covering [0, n) for n >= window; the last window ends at n."""
    starts = list(range(0, n - window + 1, stride))
    if starts[-1] != n - window:
        starts.append(n - window)
    return starts


def blend_weights(window: int, ramp: int) -> np.ndarray:
    """(window,) trapezoid weights: linear ramps of ``ramp`` frames at both ends, 1 in between (> 0)."""
    i = np.arange(window, dtype=np.float64)
    r = max(int(ramp), 1)
    return np.minimum(1.0, np.minimum((i + 1.0) / (r + 1.0), (window - i) / (r + 1.0)))


class Uplifter:
    """ONNX Runtime session for the uplifter with metadata checks and windowed inference.

    model_path: .onnx file (default: the packaged ``models/uplifter.onnx``); providers: ORT
    providers to use (default: ``select_providers()``); overlap: frames shared by consecutive
    windows (default window // 4); batch_windows: windows per ``session.run``; threads: ORT
    intra-op threads (0 = ORT default).
    """

    def __init__(self, model_path: str | Path | None = None, providers: list[str] | None = None,
                 overlap: int | None = None, batch_windows: int = 16, threads: int = 0):
        import onnxruntime as ort

        self.model_path = Path(model_path) if model_path is not None else DEFAULT_MODEL_PATH
        if not self.model_path.is_file():
            raise FileNotFoundError(f"uplifter model not found: {self.model_path}")
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = int(threads)
        self.providers = list(providers) if providers else select_providers()
        self.session = ort.InferenceSession(str(self.model_path), sess_options=opts, providers=self.providers)
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)
        self.window = check_metadata(self.metadata, source=str(self.model_path))
        self.fps = float(self.metadata[META_FPS])
        self.rotation_repr = self.metadata.get(META_ROTATION_REPR, "")
        self.model_version = self.metadata.get(META_MODEL_VERSION, "")
        self.overlap = self.window // 4 if overlap is None else int(overlap)
        if not 0 <= self.overlap < self.window:
            raise ValueError(f"overlap must be in [0, {self.window}), got {self.overlap}")
        self.batch_windows = max(1, int(batch_windows))

    def run(self, keypoints: np.ndarray, mirror_average: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One direct model call: (B, T, 33, 3) with T <= window -> (joints, rotations, bone_lengths).

        ``mirror_average``: the mirror image (u -> -u, left/right landmarks swapped) goes through in
        the same call, its output is mirrored back and the two are averaged (test-time flip
        augmentation; twice the batch)."""
        x = np.asarray(keypoints, dtype=np.float32)
        if mirror_average:
            x = np.concatenate([x, x[..., sk.MP_MIRROR, :] * sk.MIRROR_SIGN.astype(np.float32)])
        j, q, lengths = self.session.run(list(OUTPUT_NAMES), {INPUT_NAME: np.ascontiguousarray(x)})
        if not mirror_average:
            return j, q, lengths
        b = len(j) // 2
        back = quat_reflect_x(q[b:, ..., sk.MIRROR, :])
        q = q[:b]
        sign = np.where(np.sum(q * back, axis=-1, keepdims=True) < 0, -1.0, 1.0)
        q = quat_canonical(quat_normalize(q + sign * back)).astype(np.float32)
        j = ((j[:b] + j[b:, ..., sk.MIRROR, :] * sk.MIRROR_SIGN) / 2.0).astype(np.float32)
        return j, q, ((lengths[:b] + lengths[b:, ..., sk.MIRROR]) / 2.0).astype(np.float32)

    def lift(self, keypoints: np.ndarray, mirror_average: bool = False) -> UpliftResult:
        """(T, 33, 3) normalised landmarks -> UpliftResult for all T frames (any T >= 1);
        ``mirror_average`` as in ``run``."""
        x = np.asarray(keypoints, dtype=np.float32)
        if x.ndim != 3 or x.shape[1:] != (sk.NUM_LANDMARKS, 3):
            raise ValueError(f"lift: expected (T, {sk.NUM_LANDMARKS}, 3) keypoints, got {x.shape}")
        n, win = x.shape[0], self.window
        if n == 0:
            raise ValueError("lift: empty sequence")
        x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
        pad_left = 0
        if n < win:  # edge padding, the clip in the middle
            pad_left = (win - n) // 2
            x = np.pad(x, ((pad_left, win - n - pad_left), (0, 0), (0, 0)), mode="edge")
        total = x.shape[0]
        starts = window_starts(total, win, win - self.overlap)
        w = blend_weights(win, self.overlap)[:, None]  # (win, 1)
        joints = np.zeros((total, sk.NUM_JOINTS, 3))
        quats = np.zeros((total, sk.NUM_JOINTS, 4))
        bones = np.zeros((total, sk.NUM_JOINTS))
        wsum = np.zeros((total, 1))
        for b in range(0, len(starts), self.batch_windows):
            chunk = starts[b:b + self.batch_windows]
            j_out, q_out, l_out = self.run(np.stack([x[s:s + win] for s in chunk]), mirror_average)
            for s, jo, qo, lo in zip(chunk, j_out, q_out, l_out):
                sl = slice(s, s + win)
                acc = quats[sl]
                sign = np.where(np.sum(acc * qo, axis=-1, keepdims=True) < 0, -1.0, 1.0)
                quats[sl] += w[..., None] * sign * qo
                joints[sl] += w[..., None] * jo
                bones[sl] += w * lo
                wsum[sl] += w
        keep = slice(pad_left, pad_left + n)
        joints = joints[keep] / wsum[keep, :, None]
        bones = bones[keep] / wsum[keep]
        q = quats[keep]
        q = q / np.maximum(np.linalg.norm(q, axis=-1, keepdims=True), 1e-12)
        q = np.where(q[..., :1] < 0, -q, q)
        return UpliftResult(joints.astype(np.float32), q.astype(np.float32), bones.astype(np.float32))


__all__ = ["Uplifter", "UpliftResult", "ModelMismatchError", "select_providers", "check_metadata",
           "expected_metadata", "window_starts", "blend_weights", "DEFAULT_MODEL_PATH", "PROVIDER_PREFERENCE"]
