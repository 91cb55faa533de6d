"""Foot contacts and foot planting of a world-placed motion (``world_motion`` steps 4, 5 and 7). numpy only.

Feet (T, 2, 3) are the ankles in the world (m, Z up, floor at Z = 0); contacts (T, 2) bool [left, right].
* ``detect_contacts``: an ankle slow (``CONTACT_ON`` / ``CONTACT_OFF`` speed, with hysteresis) and near the
  floor (sole = ankle - ``skeleton.ANKLE_HEIGHT``), runs shorter than MIN_CONTACT_S dropped.
* ``height_contacts``: near the floor and the lower foot (a camera that travels makes speeds meaningless).
* ``plant_root``: the planted feet's horizontal velocity taken off the root (ramps of PLANT_RAMP_S), the slow
  part of the correction (PLANT_DRIFT_S) given back unless ``keep_drift`` is False.
* ``foot_sliding``: mean horizontal speed of the planted feet (m/s).
"""
from __future__ import annotations

import numpy as np

from ..core import skeleton as sk
from .smoothing import gaussian_filter_time, true_runs

FOOT_SMOOTH_S = 0.04            # Gaussian sigma for ankle tracks before contact speeds
CONTACT_ON = (0.35, 0.05)       # (speed m/s, sole height m) below both: contact starts
CONTACT_OFF = (0.60, 0.09)      # above either: contact ends
MIN_CONTACT_S = 0.08
PLANT_RAMP_S = 0.06
PLANT_DRIFT_S = 1.0
LOWER_FOOT_M = 0.03             # height contacts: a foot this much above the other one is swinging


def _contacts_1d(speed: np.ndarray, sole: np.ndarray, valid: np.ndarray, fps: float) -> np.ndarray:
    """Hysteresis on (T,) ankle speed (m/s) and sole height above the floor (m); short runs dropped."""
    out = np.zeros(len(speed), dtype=bool)
    on = False
    for t in range(len(speed)):
        if not valid[t]:
            on = False
        elif on:
            on = speed[t] <= CONTACT_OFF[0] and sole[t] <= CONTACT_OFF[1]
        else:
            on = speed[t] < CONTACT_ON[0] and sole[t] < CONTACT_ON[1]
        out[t] = on
    for a, b in true_runs(out):
        if (b - a) < MIN_CONTACT_S * fps:
            out[a:b] = False
    return out


def detect_contacts(feet: np.ndarray, fps: float, valid: np.ndarray | None = None) -> np.ndarray:
    """(T, 2, 3) ankle positions in the world (floor at Z = 0), metres -> (T, 2) bool contacts [left, right]."""
    feet = gaussian_filter_time(np.asarray(feet, dtype=np.float64), FOOT_SMOOTH_S * fps)
    valid = np.ones(len(feet), dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
    speed = np.linalg.norm(np.gradient(feet, axis=0), axis=-1) * fps if len(feet) > 1 else np.zeros(feet.shape[:2])
    sole = feet[..., 2] - sk.ANKLE_HEIGHT
    return np.stack([_contacts_1d(speed[:, k], sole[:, k], valid, fps) for k in range(2)], axis=-1)


def foot_sliding(feet: np.ndarray, contacts: np.ndarray, fps: float) -> float:
    """Mean horizontal ankle speed (m/s) over frame steps where that foot is in contact at both ends;
    feet (T, 2, 3) world metres, contacts (T, 2) bool. 0 without contacts."""
    feet = np.asarray(feet, dtype=np.float64)
    both = contacts[1:] & contacts[:-1]
    if not both.any():
        return 0.0
    step = np.linalg.norm(np.diff(feet[..., :2], axis=0), axis=-1)
    return float(step[both].mean() * fps)


def _ramp_weights(contacts: np.ndarray, fps: float) -> np.ndarray:
    """(T, 2) bool -> (T, 2) trapezoid weights rising/falling over PLANT_RAMP_S inside each contact."""
    ramp = max(PLANT_RAMP_S * fps, 1.0)
    w = np.zeros(contacts.shape)
    for k in range(contacts.shape[1]):
        for a, b in true_runs(contacts[:, k]):
            i = np.arange(a, b)
            w[a:b, k] = np.minimum(1.0, np.minimum(i - a + 1, b - i) / ramp)
    return w


def height_contacts(feet: np.ndarray, fps: float, valid: np.ndarray | None = None) -> np.ndarray:
    """(T, 2, 3) ankles (world, floor at Z = 0) -> (T, 2) bool contacts from height alone (for a moving camera,
    where speeds in the camera's world mean nothing): near the floor (``CONTACT_ON`` / ``CONTACT_OFF`` heights,
    with hysteresis) and not more than LOWER_FOOT_M above the other foot."""
    feet = gaussian_filter_time(np.asarray(feet, dtype=np.float64), FOOT_SMOOTH_S * fps)
    valid = np.ones(len(feet), dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
    sole = feet[..., 2] - sk.ANKLE_HEIGHT
    lower = sole <= sole[:, ::-1] + LOWER_FOOT_M
    still = np.zeros(len(feet))
    return np.stack([_contacts_1d(still, sole[:, k], valid & lower[:, k], fps) for k in range(2)], axis=-1)


def plant_root(root: np.ndarray, feet: np.ndarray, contacts: np.ndarray, fps: float,
               keep_drift: bool = True) -> np.ndarray:
    """Foot planting on the root translation only: (T, 3) root, (T, 2, 3) ankles (world, m),
    (T, 2) contacts -> (T, 3) root whose horizontal motion cancels the planted ankles' sliding.
    ``keep_drift``: the slow part of the correction is removed, so the long-term path follows the camera-frame
    root (a static camera); False: the root travels entirely as the planted points say (a moving camera; there
    ``feet`` are best the toes, which stay put through the whole stance while the ankle rolls over them)."""
    feet = gaussian_filter_time(np.asarray(feet, dtype=np.float64), FOOT_SMOOTH_S * fps)
    w = _ramp_weights(np.asarray(contacts, dtype=bool), fps)
    wm = 0.5 * (w[1:] + w[:-1])                                                     # per frame step
    vel = np.diff(feet[..., :2], axis=0)                                            # (T-1, 2, 2)
    total = wm.sum(axis=1)
    den = np.maximum(1.0, total) if keep_drift else np.where(total > 0, total, 1.0)  # moving: full speed in ramps
    dv = -np.sum(wm[..., None] * vel, axis=1) / den[:, None]
    corr = np.concatenate([np.zeros((1, 2)), np.cumsum(dv, axis=0)], axis=0)       # (T, 2)
    if keep_drift:
        corr = corr - gaussian_filter_time(corr, PLANT_DRIFT_S * fps)
    out = np.array(root, dtype=np.float64)
    out[:, :2] += corr
    return out
