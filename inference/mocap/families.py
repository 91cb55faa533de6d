"""Skeleton families of real mocap files and how their joints map onto the canonical skeleton.

A family is recognised by the joint names in a BVH hierarchy (a namespace prefix such as
``mixamorig:`` is ignored). Each canonical joint is given by a ``JointSpec``:
position = a source joint, or a point between two source joints (``lerp``); rotation = the source
joint whose rotation drives it; for leaf joints, an optional tail (a source joint, or ``"X>"`` for
X's End Site) that fixes the direction of the leaf bone.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..core.skeleton import JOINT_NAMES


@dataclass(frozen=True)
class JointSpec:
    at: str                          # source joint at (or starting) the canonical joint; "X>" = X's End Site
    to: str | None = None            # second source joint for a point between the two
    t: float = 0.0                   # position = at + t * (to - at)
    tail: str | None = None          # leaves only: source point the bone points at


@dataclass(frozen=True)
class Family:
    name: str
    signature: frozenset[str]        # joint names that identify the family
    joints: dict[str, JointSpec]     # canonical joint name -> spec
    settle_roll: bool = True         # settle bone roll from the motion (rest pose is not a T-pose)


def _sided(center: dict[str, JointSpec], sided: dict[str, tuple], sides: dict[str, dict[str, str]]):
    """Expand '{S}'/'{s}'/'{Side}' templates for the left (_l) and right (_r) canonical joints."""
    out = dict(center)
    for suffix, subs in sides.items():
        for name, args in sided.items():
            spec = [a.format(**subs) if isinstance(a, str) else a for a in args]
            out[f"{name}_{suffix}"] = JointSpec(*spec)
    return out


_SIDES = {"l": {"s": "l", "S": "L", "Side": "Left"}, "r": {"s": "r", "S": "R", "Side": "Right"}}

DAZ_43 = Family("daz-43", frozenset({"hip", "abdomen", "chest", "lShldr", "rShin"}), _sided(
    {"pelvis": JointSpec("hip"),
     "spine_01": JointSpec("hip", "abdomen", 0.5),
     "spine_02": JointSpec("abdomen"),
     "spine_03": JointSpec("chest"),
     "neck": JointSpec("neck"),
     "head": JointSpec("head")},
    {"clavicle": ("{s}Collar",), "upperarm": ("{s}Shldr",), "forearm": ("{s}ForeArm",),
     "hand": ("{s}Hand", None, 0.0, "{s}Mid1"), "thigh": ("{s}Thigh",), "shin": ("{s}Shin",),
     "foot": ("{s}Foot",), "toe": ("{s}Foot>",)},
    _SIDES))

ACCAD_MB_22 = Family("accad-mb-22", frozenset({"Hips", "ToSpine", "Spine", "Spine1", "LeftUpLeg"}), _sided(
    {"pelvis": JointSpec("Hips"),
     "spine_01": JointSpec("Spine"),
     "spine_02": JointSpec("Spine", "Spine1", 0.5),
     "spine_03": JointSpec("Spine1"),
     "neck": JointSpec("Neck"),
     "head": JointSpec("Head", tail="Head>")},
    {"clavicle": ("{Side}Shoulder",), "upperarm": ("{Side}Arm",), "forearm": ("{Side}ForeArm",),
     "hand": ("{Side}Hand", None, 0.0, "{Side}Hand>"), "thigh": ("{Side}UpLeg",), "shin": ("{Side}Leg",),
     "foot": ("{Side}Foot",), "toe": ("{Side}ToeBase", None, 0.0, "{Side}ToeBase>")},
    _SIDES))

ACCAD_MA_24 = Family("accad-male2-ma-24", frozenset({"Hips", "Spine", "Spine2", "Spine4", "LeftUpLeg"}), _sided(
    {"pelvis": JointSpec("Hips"),
     "spine_01": JointSpec("Spine1"),
     "spine_02": JointSpec("Spine2"),
     "spine_03": JointSpec("Spine4"),
     "neck": JointSpec("Neck"),
     "head": JointSpec("Head")},
    {"clavicle": ("{Side}Shoulder",), "upperarm": ("{Side}Arm",), "forearm": ("{Side}ForeArm",),
     "hand": ("{Side}Hand",), "thigh": ("{Side}UpLeg",), "shin": ("{Side}Leg",),
     "foot": ("{Side}Foot",), "toe": ("{Side}ToeBase",)},
    _SIDES))


def _cmu31(name: str, sig: frozenset[str], n: dict[str, str]) -> Family:
    """The 31-joint CMU skeleton (ASF bone names differ between the amc2bvh/MB/3dsMax exports)."""
    return Family(name, sig, _sided(
        {"pelvis": JointSpec(n["hips"]),
         "spine_01": JointSpec(n["lowerback"], n["upperback"], 0.5),
         "spine_02": JointSpec(n["upperback"]),
         "spine_03": JointSpec(n["thorax"]),
         "neck": JointSpec(n["lowerneck"], n["upperneck"], 0.3),
         "head": JointSpec(n["head"], tail=n["head"] + ">")},
        {"clavicle": (n["clavicle"], n["humerus"], 0.2), "upperarm": (n["humerus"],),
         "forearm": (n["radius"],), "hand": (n["hand"], None, 0.0, n["fingers"]),
         "thigh": (n["femur"],), "shin": (n["tibia"],), "foot": (n["foot"],),
         "toe": (n["toes"], None, 0.0, n["toes"] + ">")},
        _SIDES))


CMU_AMC2BVH_31 = _cmu31("cmu-amc2bvh-31", frozenset({"lhipjoint", "lfemur", "upperback", "thorax"}), dict(
    hips="hip", lowerback="lowerback", upperback="upperback", thorax="thorax", lowerneck="lowerneck",
    upperneck="upperneck", head="head", clavicle="{s}clavicle", humerus="{s}humerus", radius="{s}radius",
    hand="{s}hand", fingers="{s}fingers", femur="{s}femur", tibia="{s}tibia", foot="{s}foot", toes="{s}toes"))

CMU_MB2_31 = _cmu31("cmu-mb2-31", frozenset({"LHipJoint", "LeftUpLeg", "LowerBack", "Neck1"}), dict(
    hips="Hips", lowerback="LowerBack", upperback="Spine", thorax="Spine1", lowerneck="Neck",
    upperneck="Neck1", head="Head", clavicle="{Side}Shoulder", humerus="{Side}Arm", radius="{Side}ForeArm",
    hand="{Side}FingerBase", fingers="{Side}HandIndex1", femur="{Side}UpLeg", tibia="{Side}Leg",
    foot="{Side}Foot", toes="{Side}ToeBase"))

CMU_MAX_31 = _cmu31("cmu-max-31", frozenset({"LHipJoint", "LeftHip", "LeftKnee", "Chest2"}), dict(
    hips="Hips", lowerback="lowerback", upperback="Chest", thorax="Chest2", lowerneck="lowerneck",
    upperneck="Neck", head="Head", clavicle="{Side}Collar", humerus="{Side}Shoulder", radius="{Side}Elbow",
    hand="{s}hand", fingers="{S}Fingers", femur="{Side}Hip", tibia="{Side}Knee", foot="{Side}Ankle",
    toes="{Side}Toe"))

# Mixamo / MotionBuilder HumanIK style names (prefix such as "mixamorig:" stripped).
MIXAMO = Family("mixamo", frozenset({"Hips", "Spine", "Spine1", "Spine2", "LeftUpLeg", "LeftForeArm"}), _sided(
    {"pelvis": JointSpec("Hips"),
     "spine_01": JointSpec("Spine"),
     "spine_02": JointSpec("Spine1"),
     "spine_03": JointSpec("Spine2"),
     "neck": JointSpec("Neck"),
     "head": JointSpec("Head", tail="HeadTop_End")},
    {"clavicle": ("{Side}Shoulder",), "upperarm": ("{Side}Arm",), "forearm": ("{Side}ForeArm",),
     "hand": ("{Side}Hand", None, 0.0, "{Side}HandMiddle1"), "thigh": ("{Side}UpLeg",),
     "shin": ("{Side}Leg",), "foot": ("{Side}Foot",), "toe": ("{Side}ToeBase", None, 0.0, "{Side}Toe_End")},
    _SIDES))

# Our own BVH export (inference.mocap.bvh_writer): canonical names, leaf tails at the End Sites.
CANONICAL = Family("uplift-canonical-22", frozenset({"pelvis", "spine_01", "thigh_l", "toe_r"}), {
    name: JointSpec(name, tail=f"{name}>" if name in ("head", "hand_l", "hand_r", "toe_l", "toe_r") else None)
    for name in JOINT_NAMES}, settle_roll=False)

# Most specific first: a file matches the first family whose signature it contains.
FAMILIES: tuple[Family, ...] = (CANONICAL, DAZ_43, ACCAD_MA_24, ACCAD_MB_22, CMU_AMC2BVH_31, CMU_MB2_31, CMU_MAX_31, MIXAMO)

for _f in FAMILIES:
    assert tuple(_f.joints) == JOINT_NAMES or set(_f.joints) == set(JOINT_NAMES), _f.name


def strip_namespace(name: str) -> str:
    """'mixamorig:LeftArm' -> 'LeftArm'."""
    return name.rsplit(":", 1)[-1]


def detect_family(joint_names: list[str]) -> Family:
    """The first family whose signature and mapped joints are all present; ValueError otherwise."""
    names = {strip_namespace(n) for n in joint_names}
    for fam in FAMILIES:
        if fam.signature <= names:
            needed = {s.at.rstrip(">") for s in fam.joints.values()} | {s.to for s in fam.joints.values() if s.to}
            missing = sorted(needed - names)
            if not missing:
                return fam
    raise ValueError("unknown skeleton: no known family matches joints "
                     f"{', '.join(sorted(names)[:12])}{' ...' if len(names) > 12 else ''}")
