"""The canonical humanoid skeleton, defined once for the whole project.

Frame: Blender world, metres, Z up, the character faces -Y, so its left side is +X.
Rest pose: a T-pose (arms along +/-X, legs straight down, feet forward along -Y).
Every joint's rest frame is aligned with the world axes, so a "local rotation" of joint j is
its rotation relative to the rest pose, expressed in the parent's (rest-aligned) frame:

    G[root] = L[root],          p[root] = root_translation
    G[j]    = G[parent] @ L[j], p[j]    = p[parent] + G[parent] @ REST_OFFSETS[j]

Joint j is the *head* of the bone from j to its primary child (or to LEAF_TAILS[j] for leaves).
Everything else (children, mirror map, bone list, landmark table) is derived from the arrays
below; no other module repeats a joint list or an index table.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

# (name, parent name) in topological order; index 0 is the root.
_JOINTS = (
    ("pelvis", None),
    ("spine_01", "pelvis"),
    ("spine_02", "spine_01"),
    ("spine_03", "spine_02"),
    ("neck", "spine_03"),
    ("head", "neck"),
    ("clavicle_l", "spine_03"),
    ("upperarm_l", "clavicle_l"),
    ("forearm_l", "upperarm_l"),
    ("hand_l", "forearm_l"),
    ("clavicle_r", "spine_03"),
    ("upperarm_r", "clavicle_r"),
    ("forearm_r", "upperarm_r"),
    ("hand_r", "forearm_r"),
    ("thigh_l", "pelvis"),
    ("shin_l", "thigh_l"),
    ("foot_l", "shin_l"),
    ("toe_l", "foot_l"),
    ("thigh_r", "pelvis"),
    ("shin_r", "thigh_r"),
    ("foot_r", "shin_r"),
    ("toe_r", "foot_r"),
)

JOINT_NAMES: tuple[str, ...] = tuple(n for n, _ in _JOINTS)
NUM_JOINTS = len(JOINT_NAMES)
JOINT_INDEX: dict[str, int] = {n: i for i, n in enumerate(JOINT_NAMES)}
PARENTS: np.ndarray = np.array([-1 if p is None else JOINT_INDEX[p] for _, p in _JOINTS], dtype=np.int64)
ROOT = 0


def _children(parents: np.ndarray) -> tuple[tuple[int, ...], ...]:
    out = [[] for _ in parents]
    for j, p in enumerate(parents):
        if p >= 0:
            out[p].append(j)
    return tuple(tuple(c) for c in out)


def _mirror(names: tuple[str, ...]) -> np.ndarray:
    """Index of each joint's left/right twin (itself for centre joints), from the _l/_r suffix."""
    swap = {"_l": "_r", "_r": "_l"}
    out = []
    for n in names:
        twin = n[:-2] + swap[n[-2:]] if n[-2:] in swap else n
        out.append(names.index(twin))
    return np.array(out, dtype=np.int64)


CHILDREN: tuple[tuple[int, ...], ...] = _children(PARENTS)
MIRROR: np.ndarray = _mirror(JOINT_NAMES)
# x -> -x, a point's mirror image (left is +X); with MIRROR (joints) or MP_MIRROR (landmarks) it mirrors a pose.
MIRROR_SIGN: np.ndarray = np.array([-1.0, 1.0, 1.0])
LEAVES: tuple[int, ...] = tuple(j for j in range(NUM_JOINTS) if not CHILDREN[j])
# The child that a joint's bone points at (its tail); -1 for leaves (tail = LEAF_TAILS).
_PRIMARY = {"pelvis": "spine_01", "spine_03": "neck"}
PRIMARY_CHILD: np.ndarray = np.array(
    [JOINT_INDEX[_PRIMARY[n]] if n in _PRIMARY else (CHILDREN[j][0] if CHILDREN[j] else -1)
     for j, n in enumerate(JOINT_NAMES)], dtype=np.int64)
# Joints whose rotation aims a limb segment (upper arm, forearm, thigh, shin) at its child joint.
LIMB_JOINTS: tuple[int, ...] = tuple(JOINT_INDEX[f"{n}_{s}"] for s in "lr"
                                     for n in ("upperarm", "forearm", "thigh", "shin"))
# Bones as (parent, child) joint index pairs: one per non-root joint.
BONES: tuple[tuple[int, int], ...] = tuple((int(PARENTS[j]), j) for j in range(1, NUM_JOINTS))

# Rest offsets from the parent joint, metres, T-pose, Blender frame (see module docstring).
# Medians over the 476 staged adult mocap files (CMU, ACCAD) from
# `uplift data-check ../shared/data --offsets`, made left/right symmetric; limbs and spine
# point exactly along the T-pose axes.
REST_OFFSETS: np.ndarray = np.array([
    [0.0, 0.0, 0.0],          # pelvis (root; its position is the root translation)
    [0.0, 0.022, 0.120],      # spine_01 (the lumbar spine sits behind the hip joints)
    [0.0, 0.0, 0.102],        # spine_02
    [0.0, 0.0, 0.102],        # spine_03
    [0.0, 0.0, 0.269],        # neck
    [0.0, 0.0, 0.092],        # head
    [0.027, -0.007, 0.196],   # clavicle_l
    [0.101, 0.0, 0.0],        # upperarm_l
    [0.282, 0.0, 0.0],        # forearm_l
    [0.237, 0.0, 0.0],        # hand_l
    [-0.027, -0.007, 0.196],  # clavicle_r
    [-0.101, 0.0, 0.0],       # upperarm_r
    [-0.282, 0.0, 0.0],       # forearm_r
    [-0.237, 0.0, 0.0],       # hand_r
    [0.090, 0.017, -0.048],   # thigh_l
    [0.0, 0.0, -0.429],       # shin_l
    [0.0, 0.0, -0.454],       # foot_l
    [0.0, -0.126, -0.058],    # toe_l
    [-0.090, 0.017, -0.048],  # thigh_r
    [0.0, 0.0, -0.429],       # shin_r
    [0.0, 0.0, -0.454],       # foot_r
    [0.0, -0.126, -0.058],    # toe_r
], dtype=np.float64)

# Tail of each leaf bone relative to its joint, metres, rest frame (head top, hand end, toe tip).
LEAF_TAILS: dict[int, np.ndarray] = {
    JOINT_INDEX["head"]: np.array([0.0, 0.0, 0.14]),
    JOINT_INDEX["hand_l"]: np.array([0.09, 0.0, 0.0]),
    JOINT_INDEX["hand_r"]: np.array([-0.09, 0.0, 0.0]),
    JOINT_INDEX["toe_l"]: np.array([0.0, -0.06, 0.0]),
    JOINT_INDEX["toe_r"]: np.array([0.0, -0.06, 0.0]),
}

# Height of the ankle joint above the sole, metres (the rest pose stands on Z = 0 with this).
ANKLE_HEIGHT = 0.075


def rest_positions(offsets: np.ndarray | None = None) -> np.ndarray:
    """(J, 3) rest joint positions, metres, pelvis at the origin (world = rest frames)."""
    off = REST_OFFSETS if offsets is None else np.asarray(offsets, dtype=np.float64)
    pos = np.zeros((NUM_JOINTS, 3))
    for j in range(1, NUM_JOINTS):
        pos[j] = pos[PARENTS[j]] + off[j]
    return pos


def bone_lengths(offsets: np.ndarray | None = None) -> np.ndarray:
    """(..., J) length of each joint's offset from its parent, metres (0 for the root)."""
    off = REST_OFFSETS if offsets is None else np.asarray(offsets)
    return np.linalg.norm(off, axis=-1)


def offsets_from_lengths(lengths: np.ndarray) -> np.ndarray:
    """(..., J) bone lengths -> (..., J, 3) offsets along the canonical rest directions."""
    lengths = np.asarray(lengths)
    norm = bone_lengths()
    unit = np.divide(REST_OFFSETS, norm[:, None], out=np.zeros_like(REST_OFFSETS), where=norm[:, None] > 0)
    return lengths[..., None] * unit.astype(lengths.dtype)


def rest_height(offsets: np.ndarray | None = None) -> float:
    """Standing height of the rest pose, metres: sole (ankle - ANKLE_HEIGHT) to head top."""
    pos = rest_positions(offsets)
    h = JOINT_INDEX["head"]
    top = pos[h, 2] + LEAF_TAILS[h][2]
    sole = min(pos[JOINT_INDEX["foot_l"], 2], pos[JOINT_INDEX["foot_r"], 2]) - ANKLE_HEIGHT
    return float(top - sole)


def joint_order_hash(names: tuple[str, ...] = JOINT_NAMES) -> str:
    """Short stable hash of the joint order, stored in model metadata to catch mismatches."""
    return hashlib.sha1(",".join(names).encode()).hexdigest()[:12]



# --- Fingers: 3 joints per finger and hand, after the body's joints ------------------------------
# The body skeleton above is what the uplifter predicts; fingers come from MediaPipe's hand landmarks
# (``pipeline.fingers``) and extend it into the FULL skeleton: body joints first (same indices), then
# ``FINGER_JOINT_NAMES`` = {thumb,index,middle,ring,pinky}_{01,02,03}_{l,r} (knuckle, middle, end joint; the
# thumb's are CMC, MCP, IP), left hand first. Rest: a flat hand continuing the T-pose arm, palm down (-Z), the
# fingers straight along the arm, the thumb turned forwards and below the palm (``pipeline.fingers.THUMB_BASE``).
# Rest frames stay world-aligned, as for every joint.
FINGERS: tuple[str, ...] = ("thumb", "index", "middle", "ring", "pinky")
FINGER_JOINT_NAMES: tuple[str, ...] = tuple(f"{f}_{k:02d}_{s}" for s in "lr" for f in FINGERS for k in (1, 2, 3))
NUM_FINGER_JOINTS = len(FINGER_JOINT_NAMES)
FULL_JOINT_NAMES: tuple[str, ...] = JOINT_NAMES + FINGER_JOINT_NAMES
NUM_FULL_JOINTS = len(FULL_JOINT_NAMES)
FULL_JOINT_INDEX: dict[str, int] = {n: i for i, n in enumerate(FULL_JOINT_NAMES)}


def finger_joint(name: str) -> tuple[int, int, int]:
    """"index_02_r" -> (side 1, finger 1, joint 1): side 0 left / 1 right, finger in FINGERS order, joint 0..2."""
    finger, k, side = name.split("_")
    return "lr".index(side), FINGERS.index(finger), int(k) - 1


def _finger_name(side: int, finger: int, k: int) -> str:
    return f"{FINGERS[finger]}_{k + 1:02d}_{'lr'[side]}"


FULL_PARENTS: np.ndarray = np.concatenate([PARENTS, np.array(
    [JOINT_INDEX[f"hand_{'lr'[s]}"] if k == 0 else FULL_JOINT_INDEX[_finger_name(s, f, k - 1)]
     for s, f, k in map(finger_joint, FINGER_JOINT_NAMES)], dtype=np.int64)])
# the hands keep their own tail (LEAF_TAILS): a finger is never a hand bone's primary child
FULL_PRIMARY_CHILD: np.ndarray = np.concatenate([PRIMARY_CHILD, np.array(
    [FULL_JOINT_INDEX[_finger_name(s, f, k + 1)] if k < 2 else -1
     for s, f, k in map(finger_joint, FINGER_JOINT_NAMES)], dtype=np.int64)])
FULL_MIRROR: np.ndarray = _mirror(FULL_JOINT_NAMES)

# Hand geometry of an adult (metres), anatomical axes: radial (towards the thumb), distal (wrist -> fingers),
# palmar (out of the palm). Knuckle (first joint) of each finger from the wrist, and segment lengths.
FINGER_KNUCKLES: np.ndarray = np.array([
    [0.022, 0.030, 0.015],    # thumb CMC
    [0.025, 0.092, 0.0],      # index MCP
    [0.0, 0.095, 0.0],        # middle MCP (on the hand frame's distal axis)
    [-0.017, 0.089, 0.0],     # ring MCP
    [-0.034, 0.080, 0.0],     # pinky MCP
])
FINGER_SEGMENTS: np.ndarray = np.array([
    [0.045, 0.032, 0.028],    # thumb metacarpal, proximal, distal
    [0.045, 0.025, 0.022],
    [0.048, 0.029, 0.024],
    [0.045, 0.028, 0.023],
    [0.036, 0.021, 0.020],
])
# Anatomical (radial, distal, palmar) -> Blender rest frame, per side (0 left, 1 right): distal along the
# T-pose arm (+/-X), the thumb forwards (-Y), the palm down (-Z).
# (2, 3, 3): columns radial, distal, palmar.
HAND_AXES: np.ndarray = np.array([[[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, -1.0]],
                                  [[0.0, -1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, -1.0]]]).transpose(0, 2, 1)


def _thumb_rest_direction() -> np.ndarray:
    """(3,) the rest thumb's direction in anatomical axes: 40 degrees towards the radial side, 30 towards the palm
    (the relaxed thumb of ``pipeline.fingers.THUMB_BASE``)."""
    s, f = np.deg2rad(40.0), np.deg2rad(30.0)
    return np.array([np.sin(s) * np.cos(f), np.cos(s) * np.cos(f), np.sin(f)])


def _finger_rest_offsets() -> np.ndarray:
    """(30, 3) rest offsets of the finger joints from their parents, metres, Blender frame."""
    out = []
    for side in (0, 1):
        axes = HAND_AXES[side]
        for f in range(len(FINGERS)):
            along = _thumb_rest_direction() if f == 0 else np.array([0.0, 1.0, 0.0])
            out.append(axes @ FINGER_KNUCKLES[f])
            out.extend(axes @ (FINGER_SEGMENTS[f, k] * along) for k in (0, 1))
    return np.array(out)


FINGER_REST_OFFSETS: np.ndarray = _finger_rest_offsets()
FULL_REST_OFFSETS: np.ndarray = np.concatenate([REST_OFFSETS, FINGER_REST_OFFSETS])
# tails of the bones without a primary child: the body's (the hands keep theirs) and every finger's end segment
FULL_LEAF_TAILS: dict[int, np.ndarray] = {
    **LEAF_TAILS,
    **{FULL_JOINT_INDEX[_finger_name(s, f, 2)]:
       HAND_AXES[s] @ (FINGER_SEGMENTS[f, 2] * (_thumb_rest_direction() if f == 0 else np.array([0.0, 1.0, 0.0])))
       for s in (0, 1) for f in range(len(FINGERS))}}


def full_offsets(offsets: np.ndarray | None = None) -> np.ndarray:
    """(J, 3) body offsets (metres) -> (J + 30, 3) offsets of the full skeleton: the fingers scaled with the
    forearms (the hand's size follows the arm's)."""
    body = REST_OFFSETS if offsets is None else np.asarray(offsets, dtype=np.float64)
    arms = [JOINT_INDEX["hand_l"], JOINT_INDEX["hand_r"]]
    scale = float(np.linalg.norm(body[arms], axis=-1).mean() / np.linalg.norm(REST_OFFSETS[arms], axis=-1).mean())
    return np.concatenate([body, scale * FINGER_REST_OFFSETS]).astype(body.dtype)

# --- MediaPipe Pose: 33 landmarks, in MediaPipe's order -----------------------------------
MP_LANDMARK_NAMES: tuple[str, ...] = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_pinky", "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)
NUM_LANDMARKS = len(MP_LANDMARK_NAMES)
MP_INDEX: dict[str, int] = {n: i for i, n in enumerate(MP_LANDMARK_NAMES)}
# MediaPipe HandLandmarker's 21 landmarks per hand, in its order.
MP_HAND_LANDMARK_NAMES: tuple[str, ...] = (
    "wrist", "thumb_cmc", "thumb_mcp", "thumb_ip", "thumb_tip",
    "index_finger_mcp", "index_finger_pip", "index_finger_dip", "index_finger_tip",
    "middle_finger_mcp", "middle_finger_pip", "middle_finger_dip", "middle_finger_tip",
    "ring_finger_mcp", "ring_finger_pip", "ring_finger_dip", "ring_finger_tip",
    "pinky_mcp", "pinky_pip", "pinky_dip", "pinky_tip",
)
NUM_HAND_LANDMARKS = len(MP_HAND_LANDMARK_NAMES)


def _mp_mirror(names: tuple[str, ...]) -> np.ndarray:
    def twin(n: str) -> str:
        for a, b in (("left", "right"), ("right", "left")):
            if a in n:
                return n.replace(a, b)
        return n
    return np.array([names.index(twin(n)) for n in names], dtype=np.int64)


MP_MIRROR: np.ndarray = _mp_mirror(MP_LANDMARK_NAMES)

# Each landmark = a canonical joint + an offset in that joint's rest frame (metres, left = +X,
# forward = -Y, up = +Z). Face points hang off the head joint (base of the skull), hand points off
# the wrist, heel and foot index off the ankle and toe. Used to synthesise 2D training input.
_LANDMARK_ANCHORS = {
    "nose": ("head", (0.0, -0.105, 0.075)),
    "left_eye_inner": ("head", (0.015, -0.085, 0.105)),
    "left_eye": ("head", (0.032, -0.083, 0.107)),
    "left_eye_outer": ("head", (0.048, -0.075, 0.107)),
    "right_eye_inner": ("head", (-0.015, -0.085, 0.105)),
    "right_eye": ("head", (-0.032, -0.083, 0.107)),
    "right_eye_outer": ("head", (-0.048, -0.075, 0.107)),
    "left_ear": ("head", (0.075, -0.005, 0.085)),
    "right_ear": ("head", (-0.075, -0.005, 0.085)),
    "mouth_left": ("head", (0.025, -0.090, 0.035)),
    "mouth_right": ("head", (-0.025, -0.090, 0.035)),
    "left_shoulder": ("upperarm_l", (0.0, 0.0, 0.0)),
    "right_shoulder": ("upperarm_r", (0.0, 0.0, 0.0)),
    "left_elbow": ("forearm_l", (0.0, 0.0, 0.0)),
    "right_elbow": ("forearm_r", (0.0, 0.0, 0.0)),
    "left_wrist": ("hand_l", (0.0, 0.0, 0.0)),
    "right_wrist": ("hand_r", (0.0, 0.0, 0.0)),
    "left_pinky": ("hand_l", (0.085, 0.025, -0.005)),
    "right_pinky": ("hand_r", (-0.085, 0.025, -0.005)),
    "left_index": ("hand_l", (0.095, -0.025, 0.0)),
    "right_index": ("hand_r", (-0.095, -0.025, 0.0)),
    "left_thumb": ("hand_l", (0.045, -0.045, -0.01)),
    "right_thumb": ("hand_r", (-0.045, -0.045, -0.01)),
    "left_hip": ("thigh_l", (0.0, 0.0, 0.0)),
    "right_hip": ("thigh_r", (0.0, 0.0, 0.0)),
    "left_knee": ("shin_l", (0.0, 0.0, 0.0)),
    "right_knee": ("shin_r", (0.0, 0.0, 0.0)),
    "left_ankle": ("foot_l", (0.0, 0.0, 0.0)),
    "right_ankle": ("foot_r", (0.0, 0.0, 0.0)),
    "left_heel": ("foot_l", (0.0, 0.055, -0.065)),
    "right_heel": ("foot_r", (0.0, 0.055, -0.065)),
    "left_foot_index": ("toe_l", (0.0, -0.055, -0.01)),
    "right_foot_index": ("toe_r", (0.0, -0.055, -0.01)),
}
# (33,) joint index of each landmark's anchor and (33, 3) offset in that joint's frame.
MP_ANCHOR_JOINT: np.ndarray = np.array([JOINT_INDEX[_LANDMARK_ANCHORS[n][0]] for n in MP_LANDMARK_NAMES])
MP_ANCHOR_OFFSET: np.ndarray = np.array([_LANDMARK_ANCHORS[n][1] for n in MP_LANDMARK_NAMES], dtype=np.float64)
# Landmarks that sit exactly on a joint: {landmark index: joint index}.
MP_TO_JOINT: dict[int, int] = {i: int(MP_ANCHOR_JOINT[i]) for i in range(NUM_LANDMARKS)
                               if not MP_ANCHOR_OFFSET[i].any()}


# --- Layouts: the body skeleton or the full one, chosen by joint count ----------------------------------------
@dataclass(frozen=True)
class Layout:
    """One skeleton's tables: names, index, parents, primary children, leaf tails and rest offsets (the body's
    ``JOINT_*`` arrays, or the ``FULL_*`` ones with fingers)."""
    names: tuple[str, ...]
    index: dict
    parents: np.ndarray
    primary_child: np.ndarray
    leaf_tails: dict
    rest_offsets: np.ndarray

    @property
    def size(self) -> int:
        return len(self.names)


BODY = Layout(JOINT_NAMES, JOINT_INDEX, PARENTS, PRIMARY_CHILD, LEAF_TAILS, REST_OFFSETS)
FULL = Layout(FULL_JOINT_NAMES, FULL_JOINT_INDEX, FULL_PARENTS, FULL_PRIMARY_CHILD, FULL_LEAF_TAILS, FULL_REST_OFFSETS)


def layout_for(num_joints: int) -> Layout:
    """BODY for 22 joints, FULL for 52; ValueError otherwise."""
    for lay in (BODY, FULL):
        if num_joints == lay.size:
            return lay
    raise ValueError(f"expected {NUM_JOINTS} (body) or {NUM_FULL_JOINTS} (body and fingers) joints, got {num_joints}")
