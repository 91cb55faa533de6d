"""Place the lifted, root-relative camera-frame motion in Blender's world: root trajectory, upright
orientation, floor at Z = 0, foot contacts and foot planting. numpy only.

Camera: a pinhole at the image centre, ``focal_px = focal_mm / sensor_mm * max(width, height)``
(``focal_mm`` is a 35 mm-equivalent focal length over the long image side; None = DEFAULT_FOCAL_MM,
28 mm, a typical phone main camera). Camera frame = the uplifter's: x image right, y depth, z image up.

Steps of ``solve_world``:

1. Root (pelvis) in the camera frame per frame: weighted linear least squares for the translation r
   that makes the projections of r + joints_cam match the 2D landmarks that sit on joints
   (``skeleton.MP_TO_JOINT``), weights = visibility, reweighted by depth and a Huber term. The
   depth comes from the body's scale. Frames with too few visible landmarks (or unkeyed ones) are
   interpolated; the track is smoothed (Gaussian, ROOT_SMOOTH_S).
2. Up direction in the camera frame: the median pelvis->neck direction, refined by the feet at
   contact: a plane through the contact points when they spread in two directions ("floor"), or
   made perpendicular to the line they spread along ("walk_line"), when that agrees with the first
   guess; else the spine direction is kept ("spine"). ``camera["up_source"]`` says which.
3. World frame: Z = up, Y = the camera's viewing direction projected on the floor, X = Y x Z, so a
   level camera looks along +Y and a person facing it faces -Y (identity root rotation). Floor at
   Z = 0: the soles (ankle - skeleton.ANKLE_HEIGHT) at contact frames. Horizontal origin: the root
   of the first keyed frame, so the motion starts at the armature's origin; ``camera["cam_position"]``
   is the camera centre in that world.
4. Foot contacts per foot (ankle slow and near the floor, with hysteresis, short ones dropped).
5. Foot planting (``plant_feet``, not with ``in_place``): during contacts the planted ankles'
   horizontal velocity is taken off the root (weights ramp in and out over PLANT_RAMP_S; with both
   feet down their mean), then the slow part of that correction (Gaussian, PLANT_DRIFT_S) is removed
   so the long-term path still follows the video. Root translation only, no IK.
6. ``in_place``: horizontal root = 0 in every frame, vertical motion kept.
7. A moving camera (``camera_motion`` "auto" finds it, "moving" assumes it): a camera that travels with
   the actor keeps them in the same place in the image, so the camera-frame root hardly moves and the
   planted feet slide backwards instead. The body itself then gives the travel: contacts come from the
   feet's height alone (the lower foot, near the floor: ``height_contacts``), and the root moves so that
   the planted toes stay put, with no slow part removed (``plant_root(toes, ..., keep_drift=False)``): the
   root's velocity is minus the planted toe's velocity relative to the root, whatever the camera did. "auto"
   calls the camera moving when the planted feet slide faster than MOVING_SLIDE_MPS on average over at
   least MIN_MOVING_CONTACT_S of contacts. ``camera["camera_motion"]`` says which, with
   ``camera["planted_slide_mps"]``. The camera's own turn (pans, ``cam_turn``, from the background:
   ``camera_rotation``) is taken out first, when the caller measured it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..core import rotations as R
from ..core import skeleton as sk
from .foot_contacts import (FOOT_SMOOTH_S, detect_contacts, foot_sliding, height_contacts,  # noqa: F401 - API
                            plant_root)
from .smoothing import gaussian_filter_time

DEFAULT_FOCAL_MM = 28.0         # 35 mm-equivalent, typical phone main camera
DEFAULT_SENSOR_MM = 36.0
ROOT_SMOOTH_S = 0.05            # Gaussian sigma for the camera-frame root track
MOVING_MIN_SLIDE_M = 1.0        # a moving camera: the planted toes slid this far (net) in its world ...
MOVING_CAMERA_SHARE = 0.3       # ... and the camera-frame root covers less than this share of the feet's travel
TRAVEL_DIR_S = 0.5              # Gaussian sigma of the travel direction (feet_path)
STANCE_MARGIN_MPS = 0.3         # a candidate within this of the most backward-moving toe is in stance
CAMERA_MOTIONS = ("auto", "static", "moving")
_MIN_VIS = 0.3                  # landmarks above this count towards a valid root fit
_MIN_LANDMARKS = 4
_HUBER = 0.02                   # normalised image units (fraction of the focal length)

_LM = np.array(sorted(sk.MP_TO_JOINT))                      # landmarks on joints
_LM_JOINT = np.array([sk.MP_TO_JOINT[i] for i in _LM])
_FEET = np.array([sk.JOINT_INDEX["foot_l"], sk.JOINT_INDEX["foot_r"]])
_TOES = np.array([sk.JOINT_INDEX["toe_l"], sk.JOINT_INDEX["toe_r"]])
_PELVIS, _NECK = sk.JOINT_INDEX["pelvis"], sk.JOINT_INDEX["neck"]


@dataclass
class WorldOptions:
    focal_mm: float | None = None   # 35 mm-equivalent focal length on the long side; None = DEFAULT_FOCAL_MM
    sensor_mm: float = DEFAULT_SENSOR_MM
    in_place: bool = False
    plant_feet: bool = True
    camera_motion: str = "auto"     # "auto": find out (step 7); "static": the camera never moves; "moving"


@dataclass
class WorldMotion:
    """root_translation (T, 3) float32 m, world (Z up, floor Z = 0); root_rot (T, 4) float32 wxyz
    pelvis world rotation; contacts (T, 2) bool [left, right]; camera: focal_px, cam_from_world
    (3, 3) (world vector -> camera frame x right / y depth / z up), cam_position (3,) m (camera centre
    in the world; its Z is the camera height above the floor), focal_mm, up_source."""
    root_translation: np.ndarray
    root_rot: np.ndarray
    contacts: np.ndarray
    camera: dict = field(default_factory=dict)


def focal_length_px(width: int, height: int, focal_mm: float | None = None,
                    sensor_mm: float = DEFAULT_SENSOR_MM) -> float:
    """Pinhole focal length in pixels from a 35 mm-equivalent focal length over the long image side."""
    f_mm = DEFAULT_FOCAL_MM if focal_mm is None else float(focal_mm)
    if not (f_mm > 0 and sensor_mm > 0 and width > 0 and height > 0):
        raise ValueError(f"focal length: need focal_mm, sensor_mm, width, height > 0, got "
                         f"{f_mm}, {sensor_mm}, {width}, {height}")
    return f_mm / float(sensor_mm) * max(width, height)


def _interp_invalid(x: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(T, k): replace rows where ~valid by linear interpolation over the frame index (held at the ends)."""
    t = np.arange(len(x))
    return np.stack([np.interp(t, t[valid], x[valid, i]) for i in range(x.shape[1])], axis=-1)


def fit_root_cam(landmarks: np.ndarray, width: int, height: int, focal_px: float, joints_cam: np.ndarray,
                 keyed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame pelvis position in the camera frame (T, 3) metres, unsmoothed, and (T,) bool valid.

    Minimises the weighted image error of project(r + joints_cam[j]) against the landmarks on joints;
    invalid frames (fewer than 4 landmarks above visibility 0.3, unkeyed, behind the camera) are
    interpolated from the valid ones.
    """
    lm = np.asarray(landmarks, dtype=np.float64)[:, _LM]
    jc = np.asarray(joints_cam, dtype=np.float64)[:, _LM_JOINT]                      # (T, L, 3)
    a = (lm[..., 0] * width - width / 2.0) / focal_px                                 # x / depth
    b = (height / 2.0 - lm[..., 1] * height) / focal_px                               # z / depth
    vis = np.nan_to_num(np.clip(lm[..., 2], 0.0, 1.0))
    ok = np.isfinite(a) & np.isfinite(b) & np.all(np.isfinite(jc), axis=-1)
    vis = np.where(ok, vis, 0.0)
    a, b, jc = np.where(ok, a, 0.0), np.where(ok, b, 0.0), np.where(ok[..., None], jc, 0.0)
    n = len(lm)
    # rows: r_x - a r_y = a J_y - J_x ; r_z - b r_y = b J_y - J_z
    one, zero = np.ones_like(a), np.zeros_like(a)
    rows = np.concatenate([np.stack([one, -a, zero], -1), np.stack([zero, -b, one], -1)], axis=1)  # (T, 2L, 3)
    rhs = np.concatenate([a * jc[..., 1] - jc[..., 0], b * jc[..., 1] - jc[..., 2]], axis=1)        # (T, 2L)
    w = np.concatenate([vis, vis], axis=1)
    r = np.zeros((n, 3))
    for it in range(4):
        ata = np.einsum("tli,tl,tlj->tij", rows, w, rows) + 1e-9 * np.eye(3)
        atb = np.einsum("tli,tl,tl->ti", rows, w, rhs)
        r = np.linalg.solve(ata, atb[..., None])[..., 0]
        depth = np.maximum(r[:, 1:2] + np.concatenate([jc[..., 1], jc[..., 1]], axis=1), 0.05)
        resid = np.abs(np.einsum("tli,ti->tl", rows, r) - rhs) / depth                # image units
        huber = np.minimum(1.0, _HUBER / np.maximum(resid, 1e-12)) if it else 1.0
        w = np.concatenate([vis, vis], axis=1) * huber / depth ** 2
    valid = (np.sum(vis > _MIN_VIS, axis=1) >= _MIN_LANDMARKS) & (r[:, 1] > 0.1) & np.all(np.isfinite(r), axis=1)
    if keyed is not None:
        valid &= np.asarray(keyed, dtype=bool)
    if not valid.any():
        raise ValueError("solve_world: no frame has enough visible landmarks to place the person")
    return _interp_invalid(r, valid), valid


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def _angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.degrees(np.arccos(np.clip(np.dot(_unit(a), _unit(b)), -1.0, 1.0))))


def world_from_cam(up_cam: np.ndarray) -> np.ndarray:
    """(3,) up direction in the camera frame -> (3, 3) R_world_from_cam: rows are the world X, Y, Z
    axes in camera coordinates (Z = up, Y = the viewing direction +y projected on the floor)."""
    z = _unit(np.asarray(up_cam, dtype=np.float64))
    fwd = np.array([0.0, 1.0, 0.0])
    y = fwd - np.dot(fwd, z) * z
    if np.linalg.norm(y) < 1e-6:
        raise ValueError("solve_world: the camera looks straight up or down; its heading is undefined")
    y = _unit(y)
    return np.stack([np.cross(y, z), y, z])


def _refined_up(up0: np.ndarray, joints_cam: np.ndarray, root_cam: np.ndarray, valid: np.ndarray, fps: float):
    """``up0`` refined by the feet at contact (step 2 of the module docstring): (up, "floor" | "walk_line"), or
    None when the contacts cannot tell."""
    feet_cam = root_cam[:, None] + joints_cam[:, _FEET]                             # (T, 2, 3)
    feet0 = feet_cam @ world_from_cam(up0).T
    feet0[..., 2] -= np.percentile(feet0[valid].min(axis=1)[:, 2], 20) - sk.ANKLE_HEIGHT
    contacts = detect_contacts(feet0, fps, valid)
    pts = feet_cam[contacts]
    if len(pts) < 6:
        return None
    centred = pts - pts.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    s = s / np.sqrt(len(pts))                                                       # std devs (m)
    if s[1] > 0.25:
        normal = vt[2] * np.sign(np.dot(vt[2], up0))
        if _angle_deg(normal, up0) < 25.0:
            return _unit(normal), "floor"
    if s[0] > 0.5:
        line = vt[0]
        up = _unit(up0 - np.dot(up0, line) * line)
        if _angle_deg(up, up0) < 20.0:
            return up, "walk_line"
    return None


def _estimate_up(joints_cam: np.ndarray, root_cam: np.ndarray, valid: np.ndarray, fps: float):
    """Up direction (3,) in the camera frame and its source ("floor" | "walk_line" | "spine")."""
    spine = _unit(np.median(_unit(joints_cam[valid, _NECK] - joints_cam[valid, _PELVIS]), axis=0))
    return _refined_up(spine, joints_cam, root_cam, valid, fps) or (spine, "spine")


def feet_path(root: np.ndarray, toes: np.ndarray, candidates: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """The root path the feet alone give: (T, 3) camera-frame root, (T, 2, 3) toes (world m), (T, 2) contact
    candidates (``height_contacts``) -> ((T, 3) root, (T, 2) stance contacts). A first path from every candidate
    gives the direction of travel; a candidate then counts only when its toe moves backwards (relative to the
    root, along that direction) within STANCE_MARGIN_MPS of the most backward one: a low swinging foot moves
    forwards."""
    first = plant_root(root, toes, candidates, fps, keep_drift=False)
    ahead = gaussian_filter_time(np.gradient(first[:, :2], axis=0), TRAVEL_DIR_S * fps) if len(root) > 1 else \
        np.zeros((len(root), 2))
    ahead /= np.maximum(np.linalg.norm(ahead, axis=1, keepdims=True), 1e-9)
    rel = gaussian_filter_time(np.asarray(toes, np.float64) - np.asarray(root, np.float64)[:, None],
                               FOOT_SMOOTH_S * fps)
    back = -np.sum((np.gradient(rel[..., :2], axis=0) if len(root) > 1 else rel[..., :2] * 0) * ahead[:, None],
                   axis=-1) * fps                                                   # (T, 2) m/s backwards
    best = np.where(candidates, back, -np.inf).max(axis=1, keepdims=True)
    stance = candidates & (back >= best - STANCE_MARGIN_MPS)
    return plant_root(root, toes, stance, fps, keep_drift=False), stance


def _camera_moves(by_camera: np.ndarray, by_feet: np.ndarray, valid: np.ndarray) -> tuple[bool, dict]:
    """Whether the camera travelled with the actor: the (T, 3) root path the feet give (planted toes held still)
    against the camera-frame one. Moving when the planted toes slid MOVING_MIN_SLIDE_M or more in all, net, and
    the camera-frame root covers less than MOVING_CAMERA_SHARE of the feet's travel."""
    idx = np.flatnonzero(valid)
    a, b = (idx[0], idx[-1]) if len(idx) else (0, len(by_feet) - 1)
    d_cam, d_feet = by_camera[b, :2] - by_camera[a, :2], by_feet[b, :2] - by_feet[a, :2]
    slid = float(np.linalg.norm(d_feet - d_cam))
    travel = {"travel_camera_m": float(np.linalg.norm(d_cam)), "travel_feet_m": float(np.linalg.norm(d_feet))}
    moving = slid >= MOVING_MIN_SLIDE_M and travel["travel_camera_m"] < MOVING_CAMERA_SHARE * travel["travel_feet_m"]
    return bool(moving), travel


def solve_world(landmarks: np.ndarray, width: int, height: int, joints_cam: np.ndarray, root_rot_cam: np.ndarray,
                offsets: np.ndarray, options: WorldOptions | None = None, *, fps: float = 30.0,
                keyed: np.ndarray | None = None, cam_turn: np.ndarray | None = None,
                cam_centre: np.ndarray | None = None) -> WorldMotion:
    """Camera-frame lifted motion -> world root motion (see the module doc).

    landmarks (T, 33, 3) [x_norm, y_norm, vis] (gaps filled); width, height: image size px;
    joints_cam (T, J, 3) m, root-relative camera frame; root_rot_cam (T, 4) wxyz pelvis rotation in
    the camera frame; offsets (J, 3) m (the body the joints were built with; checked for shape);
    fps: sample rate of the sequence (contact speeds); keyed (T,) bool: frames that carry
    information (unkeyed ones are interpolated and never in contact); cam_turn (T, 3, 3) the camera's own turn
    R_t<-0 in the camera frame's axes (``camera_rotation``): the motion is turned back into the first frame's camera
    before anything else, so a camera that only turns (a pan) becomes a static one; cam_centre (T, 3) m each
    frame's camera centre in the first frame's camera axes (``camera_travel``, with cam_turn): added too, so a
    camera that travels becomes a static one.
    """
    opt = options or WorldOptions()
    lm = np.asarray(landmarks, dtype=np.float64)
    jc = np.asarray(joints_cam, dtype=np.float64)
    n = len(lm)
    if lm.shape != (n, sk.NUM_LANDMARKS, 3) or n == 0:
        raise ValueError(f"solve_world: landmarks must be (T > 0, {sk.NUM_LANDMARKS}, 3), got {lm.shape}")
    if jc.shape != (n, sk.NUM_JOINTS, 3):
        raise ValueError(f"solve_world: joints_cam must be ({n}, {sk.NUM_JOINTS}, 3), got {jc.shape}")
    qc = np.asarray(root_rot_cam, dtype=np.float64)
    if qc.shape != (n, 4):
        raise ValueError(f"solve_world: root_rot_cam must be ({n}, 4), got {qc.shape}")
    if np.asarray(offsets).shape != (sk.NUM_JOINTS, 3):
        raise ValueError(f"solve_world: offsets must be ({sk.NUM_JOINTS}, 3), got {np.asarray(offsets).shape}")
    if not np.isfinite(fps) or fps <= 0:
        raise ValueError(f"solve_world: fps must be > 0, got {fps}")
    f = focal_length_px(width, height, opt.focal_mm, opt.sensor_mm)

    root_cam, valid = fit_root_cam(lm, width, height, f, jc, keyed)
    if cam_turn is not None:                                    # into camera 0's axes: R_0<-t = R_t<-0^T
        back = np.swapaxes(np.asarray(cam_turn, dtype=np.float64), -1, -2)
        root_cam = np.einsum("tij,tj->ti", back, root_cam)
        jc = np.einsum("tij,tkj->tki", back, jc)
        qc = R.quat_multiply(R.matrix_to_quat(back), qc)
        if cam_centre is not None:
            root_cam = root_cam + np.asarray(cam_centre, dtype=np.float64)
    root_cam = gaussian_filter_time(root_cam, ROOT_SMOOTH_S * fps)
    up, up_source = _estimate_up(jc, root_cam, valid, fps)
    r_wc = world_from_cam(up)

    root = root_cam @ r_wc.T                                                        # world axes, camera at 0
    feet = (root_cam[:, None] + jc[:, _FEET]) @ r_wc.T
    floor = np.percentile(feet[valid].min(axis=1)[:, 2], 20) - sk.ANKLE_HEIGHT
    for _ in range(2):                                # contacts -> floor from the planted soles -> contacts
        contacts = detect_contacts(feet - [0.0, 0.0, floor], fps, valid)
        if contacts.any():
            floor = float(np.median(feet[..., 2][contacts])) - sk.ANKLE_HEIGHT
    contacts = detect_contacts(feet - [0.0, 0.0, floor], fps, valid)
    first = int(np.argmax(valid))
    shift = np.array([-root[first, 0], -root[first, 1], -floor])
    root, feet = root + shift, feet + shift

    if opt.camera_motion not in CAMERA_MOTIONS:
        raise ValueError(f"solve_world: camera_motion must be one of {CAMERA_MOTIONS}, got {opt.camera_motion!r}")
    moving, travel = False, {"travel_camera_m": 0.0, "travel_feet_m": 0.0}
    if opt.camera_motion != "static":
        by_height = height_contacts(feet, fps, valid)
        if by_height.any():
            toes = (root_cam[:, None] + jc[:, _TOES]) @ r_wc.T + shift
            by_feet, stance = feet_path(root, toes, by_height, fps)
            moving, travel = _camera_moves(root, by_feet, valid)
            moving = moving or opt.camera_motion == "moving"
            if moving:
                contacts = stance
    if opt.in_place:
        root[:, :2] = 0.0
    elif moving:
        root = by_feet
    elif opt.plant_feet and contacts.any():
        root = plant_root(root, feet, contacts, fps)
    q_wc = R.matrix_to_quat(r_wc)
    root_rot = R.quat_normalize(R.quat_multiply(np.broadcast_to(q_wc, qc.shape), qc))
    camera = {"focal_px": float(f), "focal_mm": float(DEFAULT_FOCAL_MM if opt.focal_mm is None else opt.focal_mm),
              "cam_from_world": r_wc.T.copy(), "cam_position": shift.copy(), "up_source": up_source,
              "camera_motion": "moving" if moving else "static", **travel}
    return WorldMotion(root.astype(np.float32), root_rot.astype(np.float32), contacts, camera)


__all__ = ["DEFAULT_FOCAL_MM", "WorldOptions", "WorldMotion", "focal_length_px", "fit_root_cam", "world_from_cam",
           "detect_contacts", "height_contacts", "foot_sliding", "plant_root", "solve_world"]
