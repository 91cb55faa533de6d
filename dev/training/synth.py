"""Training-data synthesis for the uplifter: canonical mocap -> random body, camera and
MediaPipe-like 2D landmarks, with 3D targets in the camera frame (contract: docs/uplifter-contract.md).

Per window (vectorised over the batch): random clip and start, time warp (speed factor), mirror,
per-segment bone scaling and a random height, a static random perspective camera placed so the
body spans a random fraction of the frame, the 33 landmarks from skeleton.MP_ANCHOR_* projected
with the pinhole ``u = cx + f x / y, v = cy - f z / y``, geometric visibility (self-occlusion,
out of frame) and, in noisy mode, MediaPipe-like noise (see ``_add_noise``). Camera frame:
x image right, y depth, z image up. numpy only; deterministic given the generator(s).

Batch dict: the contract keys "kp2d" (normalised per window), "joints", "local_rot", "offsets",
"bone_lengths", plus extras for evaluation and tests: "landmarks" (B, W, 33, 3) float32 raw
[x_norm, y_norm, vis] (NaN coordinates in missing frames), "image_size" (B, 2) [W, H] px,
"focal_px" (B,), "root_cam" (B, W, 3) pelvis in the camera frame (m), "height" (B,) m,
"clip" (B,) int64 library index, "mirrored" (B,) bool.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...inference.core import rotations as R
from ...inference.core import skeleton as sk
from ...inference.core.normalize import normalize_landmarks
from .motion_library import Motion, slerp

_NAMES = sk.MP_LANDMARK_NAMES


def _has(name: str, *words: str) -> bool:
    return any(w in name for w in words)


# Relative 2D noise per landmark (1 = face/torso); hands and feet are the least stable in MediaPipe.
_NOISE_WEIGHT = np.array([2.5 if _has(n, "pinky", "index", "thumb", "heel") else
                          2.0 if _has(n, "wrist", "ankle") else 1.5 if _has(n, "elbow", "knee") else
                          1.3 if _has(n, "hip") else 1.0 for n in _NAMES])
_ARM = ("elbow", "wrist", "pinky", "index", "thumb")
_LEG = ("knee", "ankle", "heel", "foot_index")
# Limb chains that an occlusion hides: left arm, right arm, left leg, right leg -> (4, 33) bool.
_CHAINS = np.array([[n.startswith(side) and _has(n, *part) and not (part is _ARM and "foot" in n)
                     for n in _NAMES] for part in (_ARM, _LEG) for side in ("left", "right")])
# Left/right confusions: whole body, legs only, arms only -> (3, 33) landmark permutations.
_SWAPS = np.stack([sk.MP_MIRROR] + [np.where([_has(n, *part) and not (part is _ARM and "foot" in n)
                                              for n in _NAMES], sk.MP_MIRROR, np.arange(len(_NAMES)))
                                    for part in (_LEG, _ARM)])
_LM = {n: sk.MP_INDEX[n] for n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip",
                                    "left_ear", "right_ear")}


@dataclass
class SynthConfig:
    """Window length, seed and every augmentation range (angles in degrees, lengths in metres)."""
    window: int = 81
    fps: float = 30.0
    seed: int = 0
    speed_range: tuple[float, float] = (0.8, 1.25)        # time-warp factor, log-uniform
    height_range: tuple[float, float] = (1.45, 2.0)       # standing height (skeleton.rest_height)
    bone_sigma: float = 0.08                              # log-normal per-segment scale, left = right
    bone_asym_sigma: float = 0.015                        # extra independent per-joint scale
    bone_clip: tuple[float, float] = (0.75, 1.3)
    mirror_prob: float = 0.5
    elevation_range: tuple[float, float] = (-10.0, 45.0)
    roll_max: float = 5.0
    focal_mm_range: tuple[float, float] = (18.0, 85.0)    # full-frame equivalent, log-uniform
    image_sizes: tuple[tuple[int, int], ...] = ((1920, 1080), (1080, 1920), (1280, 720), (720, 1280),
                                                (640, 480), (480, 640))
    span_range: tuple[float, float] = (0.30, 0.95)        # body extent / frame height
    margin: float = 0.02                                  # kept free at the image border (fraction)
    off_centre: float = 0.8                               # fraction of the free space used for placement
    min_depth: float = 0.5                                # nearest landmark to the camera
    clean_fraction: float = 0.1                           # windows left noise-free in noisy batches
    noise_level_range: tuple[float, float] = (0.5, 2.0)   # per-window noise multiplier, log-uniform
    jitter: float = 0.004                                 # white jitter sigma / body height (px / px)
    drift: float = 0.008                                  # slow drift sigma / body height
    drift_knot_frames: int = 15
    vis_range: tuple[float, float] = (0.9, 1.0)
    swap_prob: float = 0.15
    swap_frames: tuple[int, int] = (2, 8)
    lowvis_prob: float = 0.2
    lowvis_frames: tuple[int, int] = (3, 15)
    occlusion_prob: float = 0.25
    occlusion_frames: tuple[int, int] = (3, 20)
    missing_prob: float = 0.15
    missing_frames: tuple[int, int] = (1, 10)
    missing_frame_rate: float = 0.01                      # isolated dropped frames


def _loguniform(rng, lo, hi, size):
    return np.exp(rng.uniform(np.log(lo), np.log(hi), size))


def _segments(rng, prob, frames, b, w, gate):
    """(B, W) bool: with probability ``prob`` per window one run of ``frames`` (min, max) frames."""
    on = (rng.random(b) < prob) & gate
    length = rng.integers(frames[0], frames[1] + 1, b)
    start = rng.integers(0, np.maximum(w - length, 0) + 1)
    t = np.arange(w)
    return on[:, None] & (t >= start[:, None]) & (t < (start + length)[:, None])


def _smoothstep(x, lo, hi):
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _rotate(rot: np.ndarray, v: np.ndarray) -> np.ndarray:
    """(B, 3, 3) applied to vectors (B, ..., 3) -> (B, ..., 3)."""
    flat = v.reshape(len(v), -1, 3)
    return (flat @ np.swapaxes(rot, -1, -2)).reshape(v.shape)


def camera_rotation(yaw: np.ndarray, elevation: np.ndarray, roll: np.ndarray) -> np.ndarray:
    """(B,) radians -> (B, 3, 3) R_cam_from_world. The camera looks along (cos el cos yaw,
    cos el sin yaw, -sin el) in the world (positive elevation looks down), image up ~ world +Z,
    then rolls about its view axis. yaw = pi/2, el = roll = 0 gives the identity."""
    ce, se = np.cos(elevation), np.sin(elevation)
    fwd = np.stack([ce * np.cos(yaw), ce * np.sin(yaw), -se], -1)
    right = np.cross(fwd, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right, axis=-1, keepdims=True)
    up = np.cross(right, fwd)
    r_cw = np.stack([right, fwd, up], axis=-2)                 # rows = camera axes in the world
    cr, sr = np.cos(roll), np.sin(roll)
    z, o = np.zeros_like(roll), np.ones_like(roll)
    r_roll = np.stack([cr, z, sr, z, o, z, -sr, z, cr], -1).reshape(-1, 3, 3)
    return r_roll @ r_cw


def mirror_motion(local_rot: np.ndarray, root: np.ndarray, offsets: np.ndarray):
    """Reflect across the world YZ plane (x -> -x) and swap sides: (..., J, 4), (..., 3), (..., J, 3).
    FK of the result = the original joints reflected, with left and right exchanged."""
    return (R.quat_reflect_x(local_rot[..., sk.MIRROR, :]), root * sk.MIRROR_SIGN, offsets[..., sk.MIRROR, :] * sk.MIRROR_SIGN)


class Synthesizer:
    """Draws training windows from a motion library (list of ``Motion`` at cfg.fps)."""

    def __init__(self, library: list[Motion], cfg: SynthConfig | None = None):
        if not library:
            raise ValueError("Synthesizer: empty motion library")
        self.cfg = cfg or SynthConfig()
        self.library = library
        self.lengths = np.array([m.num_frames for m in library], dtype=np.int64)
        self.starts = np.concatenate([[0], np.cumsum(self.lengths)[:-1]])
        self.rot = np.concatenate([m.local_rot for m in library]).astype(np.float64)
        self.root = np.concatenate([m.root for m in library]).astype(np.float64)
        self.offsets = np.stack([m.offsets for m in library]).astype(np.float64)
        self._c0 = sk.rest_height(np.zeros((sk.NUM_JOINTS, 3)))   # constant part (head top, sole)
        self.clip_heights = np.array([sk.rest_height(o) for o in self.offsets])
        self._default_height = sk.rest_height()
        self._weights = self.lengths / self.lengths.sum()
        self.rng = np.random.default_rng(self.cfg.seed)   # used when batch() gets no generator

    # --- public ---------------------------------------------------------------------------------
    def batch(self, batch_size: int, rng: np.random.Generator | None = None, noisy: bool = True) -> dict:
        """A training batch (contract keys plus extras, see ``_render``); cfg.clean_fraction of
        the windows of a noisy batch stay clean. Without ``rng``: the synthesiser's own generator
        (seeded with cfg.seed, so a fresh Synthesizer repeats the same sequence of batches)."""
        cfg = self.cfg
        rng = self.rng if rng is None else rng
        clips = rng.choice(len(self.library), size=batch_size, p=self._weights)
        speed = _loguniform(rng, *cfg.speed_range, batch_size)
        start = self._starts(clips, speed, rng)
        noise = (rng.random(batch_size) >= cfg.clean_fraction) if noisy else np.zeros(batch_size, bool)
        return self._render(clips, start, speed, cfg.window, rng, rng, noise)

    def fixed_eval_set(self, n_windows: int, seed: int, noisy: bool, chunk: int = 64) -> dict:
        """Reproducible windows for validation/testing: no time warp; bodies, mirroring and cameras
        come from ``seed`` alone, so the clean and the noisy set share the same geometry."""
        geo = np.random.default_rng(seed)
        noise_rng = np.random.default_rng([seed, 1])
        parts = []
        for i in range(0, n_windows, chunk):
            b = min(chunk, n_windows - i)
            clips = geo.choice(len(self.library), size=b, p=self._weights)
            speed = np.ones(b)
            start = self._starts(clips, speed, geo)
            parts.append(self._render(clips, start, speed, self.cfg.window, geo, noise_rng, np.full(b, noisy)))
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}

    def sequence(self, clip: int, seed: int, noisy: bool) -> dict:
        """A whole clip (B = 1, W = its length) under one random body and static camera."""
        geo = np.random.default_rng([seed, clip])
        return self._render(np.array([clip]), np.zeros(1), np.ones(1), int(self.lengths[clip]),
                            geo, np.random.default_rng([seed, clip, 1]), np.array([noisy]))

    # --- steps ----------------------------------------------------------------------------------
    def _starts(self, clips, speed, rng):
        span = speed * (self.cfg.window - 1)
        room = np.maximum(self.lengths[clips] - 1 - span, 0.0)
        return rng.random(len(clips)) * room

    def _sample_motion(self, clips, start, speed, w):
        """Slerp/lerp at fractional frames -> (B, W, J, 4), (B, W, 3)."""
        t = start[:, None] + speed[:, None] * np.arange(w)
        t = np.clip(t, 0.0, (self.lengths[clips] - 1)[:, None])
        i0 = np.floor(t).astype(np.int64)
        i1 = np.minimum(i0 + 1, (self.lengths[clips] - 1)[:, None])
        frac = t - i0
        g0, g1 = self.starts[clips][:, None] + i0, self.starts[clips][:, None] + i1
        rot = slerp(self.rot[g0], self.rot[g1], np.broadcast_to(frac[..., None], g0.shape + (sk.NUM_JOINTS,)))
        root = self.root[g0] * (1.0 - frac[..., None]) + self.root[g1] * frac[..., None]
        return rot, root

    def _body(self, clips, rng):
        """Random proportions -> offsets (B, J, 3), heights (B,), root scale (B,)."""
        cfg, b = self.cfg, len(clips)
        twin = np.minimum(np.arange(sk.NUM_JOINTS), sk.MIRROR)
        z = rng.normal(size=(b, sk.NUM_JOINTS))
        log_s = cfg.bone_sigma * z[:, twin] + cfg.bone_asym_sigma * rng.normal(size=(b, sk.NUM_JOINTS))
        scale = np.clip(np.exp(log_s), *cfg.bone_clip)
        height = rng.uniform(*cfg.height_range, b)
        off = self.offsets[clips] * scale[..., None]
        cur = np.array([sk.rest_height(o) for o in off])
        off *= ((height - self._c0) / (cur - self._c0))[:, None, None]
        root_scale = (height - self._c0) / (self.clip_heights[clips] - self._c0)
        return off, height, root_scale

    def _place_camera(self, q, f, img_w, img_h, rng):
        """q: (B, W, L, 3) points in camera axes relative to the target. Returns the camera
        translation (B, 3) to add to q so that the body spans a random fraction of the frame height,
        sits off-centre at random and stays inside the image (zooming out when it must)."""
        cfg = self.cfg
        span = rng.uniform(*cfg.span_range, len(q))
        qz_t = np.ascontiguousarray(q[..., 2])
        ext = np.max(qz_t.max(-1) - qz_t.min(-1), axis=-1)                     # (B,) tallest frame
        dist = f * ext / (span * img_h)
        dist = np.maximum(dist, cfg.min_depth - q[..., 1].reshape(len(q), -1).min(-1))
        shift = np.zeros((len(q), 2))                                            # camera x, z (m)
        avail = np.stack([img_w, img_h], -1) * (0.5 - cfg.margin)               # half extents, px
        place = rng.uniform(-1.0, 1.0, (len(q), 2)) * cfg.off_centre

        qx, qy, qz = (np.ascontiguousarray(q[..., i].reshape(len(q), -1)) for i in range(3))

        def bbox():
            k = f[:, None] / (qy + dist[:, None])
            u = (qx - shift[:, :1]) * k
            v = (shift[:, 1:] - qz) * k
            return (np.stack([u.min(-1), v.min(-1)], -1),
                    np.stack([u.max(-1), v.max(-1)], -1))                        # (B, 2) each, px

        for it in range(5):
            lo, hi = bbox()
            k = np.max((hi - lo) / (2.0 * avail), axis=-1)
            dist = np.where(k > 1.0, (dist + 0.05) * k * 1.02, dist)
            lo, hi = bbox()
            centre, half = (lo + hi) / 2.0, (hi - lo) / 2.0
            goal = np.clip(place * np.maximum(avail - half, 0.0) if it == 0 else centre,
                           -(avail - half), avail - half)
            goal = np.where(half > avail, 0.0, goal)
            # camera moves by d (m): image points move by -f d / depth; depth ~ dist
            shift += (centre - goal) * dist[:, None] / f[:, None] * np.array([1.0, -1.0])
        return np.stack([-shift[:, 0], dist, -shift[:, 1]], -1)

    def _visibility(self, lm, height, noisy, rng_noise, uv, img_wh):
        """Geometric visibility (B, W, L): self-occlusion by torso and head spheres, out of frame."""
        sc = height / self._default_height
        torso = lm[..., [_LM["left_shoulder"], _LM["right_shoulder"], _LM["left_hip"], _LM["right_hip"]], :].mean(-2)
        head = lm[..., [_LM["left_ear"], _LM["right_ear"]], :].mean(-2)
        occ = np.zeros(lm.shape[:-1])
        for centre, radius in ((torso, 0.17), (head, 0.09)):
            c = centre[..., None, :]
            depth = lm[..., 1] - c[..., 1]
            proj = lm[..., [0, 2]] / lm[..., 1:2] - c[..., [0, 2]] / c[..., 1:2]
            lat = np.linalg.norm(proj, axis=-1) * c[..., 1]
            r = radius * sc[:, None, None]
            occ = np.maximum(occ, _smoothstep(depth, 0.02 * sc[:, None, None], 0.08 * sc[:, None, None])
                             * (1.0 - _smoothstep(lat, 0.6 * r, r)))
        vis = 1.0 - 0.85 * occ
        inside = np.all((uv >= 0.0) & (uv <= img_wh[:, None, None, :]), axis=-1)
        vis = np.where(inside, vis, 0.15 * vis)
        if np.any(noisy):
            base = rng_noise.uniform(*self.cfg.vis_range, lm.shape[:-1])
            vis = np.where(noisy[:, None, None], vis * base, vis)
        return vis

    def _add_noise(self, uv, vis, body_px, noisy, rng):
        """MediaPipe-like corruption, in place on pixel coords uv (B, W, L, 2) and vis (B, W, L),
        only for windows with noisy[b]. Sigmas scale with the body's pixel height body_px (B, W)."""
        cfg = self.cfg
        b, w, n_lm, _ = uv.shape
        level = _loguniform(rng, *cfg.noise_level_range, b) * noisy
        amp = (body_px * level[:, None])[..., None, None] * _NOISE_WEIGHT[:, None]   # (B, W, L, 1)
        if not np.any(noisy):
            return
        uv += rng.standard_normal(uv.shape, dtype=np.float32) * cfg.jitter * amp
        n_knots = w // cfg.drift_knot_frames + 2                                     # slow drift
        knots = rng.normal(size=(b, n_knots, n_lm, 2))
        pos = np.arange(w) / cfg.drift_knot_frames
        k0 = np.floor(pos).astype(np.int64)
        a = (pos - k0)[None, :, None, None]
        uv += (knots[:, k0] * (1 - a) + knots[:, k0 + 1] * a) * cfg.drift * amp
        # brief left/right confusions (whole body, legs or arms)
        m = _segments(rng, cfg.swap_prob, cfg.swap_frames, b, w, noisy)
        perm = _SWAPS[rng.integers(0, len(_SWAPS), b)][:, None, :]                  # (B, 1, L)
        uv[:] = np.where(m[..., None, None], np.take_along_axis(uv, perm[..., None], axis=2), uv)
        vis[:] = np.where(m[..., None], np.take_along_axis(vis, perm, axis=2) * 0.8, vis)
        # occluded limb chain: low visibility, a wrong guess of the position
        m = _segments(rng, cfg.occlusion_prob, cfg.occlusion_frames, b, w, noisy)
        chain = _CHAINS[rng.integers(0, len(_CHAINS), b)][:, None, :] & m[..., None]  # (B, W, L)
        guess = rng.normal(size=(b, 1, n_lm, 2)) * 0.05
        i = np.nonzero(chain)
        uv[i] += (guess[i[0], 0, i[2]] + rng.normal(size=(len(i[0]), 2)) * 2 * cfg.jitter) * amp[i]
        vis[:] = np.where(chain, vis * rng.uniform(0.0, 0.4, (b, 1, 1)), vis)
        # low-confidence stretch: lower visibility, doubled jitter
        m = _segments(rng, cfg.lowvis_prob, cfg.lowvis_frames, b, w, noisy)
        uv[m] += rng.normal(size=uv[m].shape) * cfg.jitter * amp[m]
        vis[:] = np.where(m[..., None], vis * rng.uniform(0.2, 0.6, (b, 1, 1)), vis)
        # missing frames (no detection): a run plus isolated drops
        m = _segments(rng, cfg.missing_prob, cfg.missing_frames, b, w, noisy)
        m |= (rng.random((b, w)) < cfg.missing_frame_rate) & noisy[:, None]
        uv[m] = np.nan
        vis[m] = 0.0

    def _render(self, clips, start, speed, w, rng, rng_noise, noisy) -> dict:
        """Everything for windows of clips[b] from fractional frame start[b] at speed[b]."""
        cfg, b = self.cfg, len(clips)
        noisy = np.asarray(noisy, dtype=bool)
        rot, root = self._sample_motion(clips, start, speed, w)
        offsets, height, root_scale = self._body(clips, rng)
        root = root * root_scale[:, None, None]
        mirrored = rng.random(b) < cfg.mirror_prob
        if mirrored.any():
            rot[mirrored], root[mirrored], offsets[mirrored] = mirror_motion(rot[mirrored], root[mirrored],
                                                                             offsets[mirrored])
        pos, glob = R.forward_kinematics(rot, root, offsets[:, None], sk.PARENTS)
        anchor = sk.MP_ANCHOR_OFFSET * (height / self._default_height)[:, None, None]   # (B, L, 3)
        lm_w = pos[..., sk.MP_ANCHOR_JOINT, :] + (glob[..., sk.MP_ANCHOR_JOINT, :, :]
                                                  @ anchor[:, None, :, :, None])[..., 0]
        # camera
        yaw = rng.uniform(0.0, 2.0 * np.pi, b)
        el = np.radians(rng.uniform(*cfg.elevation_range, b))
        roll = np.radians(rng.uniform(-cfg.roll_max, cfg.roll_max, b))
        r_cw = camera_rotation(yaw, el, roll)
        sizes = np.array(cfg.image_sizes, dtype=np.float64)[rng.integers(0, len(cfg.image_sizes), b)]
        img_w, img_h = sizes[:, 0], sizes[:, 1]
        f = _loguniform(rng, *cfg.focal_mm_range, b) / 36.0 * sizes.max(-1)
        target = (lm_w.min(axis=(1, 2)) + lm_w.max(axis=(1, 2))) / 2.0
        q = _rotate(r_cw, lm_w - target[:, None, None])
        cam_t = self._place_camera(q, f, img_w, img_h, rng)
        lm = q + cam_t[:, None, None]                                               # camera frame, m
        uv = np.stack([img_w[:, None, None] / 2 + f[:, None, None] * lm[..., 0] / lm[..., 1],
                       img_h[:, None, None] / 2 - f[:, None, None] * lm[..., 2] / lm[..., 1]], -1)
        root_c = _rotate(r_cw, root - target[:, None]) + cam_t[:, None]
        vis = self._visibility(lm, height, noisy, rng_noise, uv, sizes)
        body_px = f[:, None] * height[:, None] / root_c[..., 1]
        self._add_noise(uv, vis, body_px, noisy, rng_noise)
        raw = np.concatenate([uv / sizes[:, None, None, :], vis[..., None]], -1)
        # targets: root rotation in the camera frame, joints root-relative in the camera frame
        q_cw = R.matrix_to_quat(r_cw)[:, None]
        rot[..., 0, :] = R.quat_multiply(q_cw, rot[..., 0, :])
        joints = _rotate(r_cw, pos - root[:, :, None])
        f32 = np.float32
        return {
            "kp2d": normalize_landmarks(raw, img_w, img_h),
            "joints": joints.astype(f32),
            "local_rot": R.quat_canonical(R.quat_normalize(rot)).astype(f32),
            "offsets": offsets.astype(f32),
            "bone_lengths": sk.bone_lengths(offsets).astype(f32),
            # extras (see the module docstring)
            "landmarks": raw.astype(f32),
            "image_size": sizes.astype(f32),
            "focal_px": f.astype(f32),
            "root_cam": root_c.astype(f32),
            "height": height.astype(f32),
            "clip": clips.astype(np.int64),
            "mirrored": mirrored,
        }


__all__ = ["SynthConfig", "Synthesizer", "camera_rotation", "mirror_motion"]
