"""Bone-name presets for common rigs and automatic mapping of canonical joints onto a target armature.

A mapping is a dict canonical joint name (``skeleton.JOINT_NAMES``) -> target bone name; joints left
out are not driven. Presets are plain data; names are matched without a namespace prefix
(``mixamorig:Hips`` and ``Hips`` both match "Hips", see ``mocap.families.strip_namespace``).
``auto_detect`` tries the presets first, then a keyword matcher for custom rigs (side tokens
L/R/Left/Right/.L/_l, limb keywords, the hierarchy for the spine).
"""
from __future__ import annotations

import re

from ..core import skeleton as sk
from ..mocap.families import strip_namespace

_SIDES = {"l": ("Left", "L", "l"), "r": ("Right", "R", "r")}


def _expand(center: dict[str, str], sided: dict[str, str]) -> dict[str, str]:
    """'{Side}' / '{S}' / '{s}' templates -> names for the _l and _r joints."""
    out = dict(center)
    for suffix, (side, big, small) in _SIDES.items():
        for joint, template in sided.items():
            out[f"{joint}_{suffix}"] = template.format(Side=side, S=big, s=small)
    return out


_RIGIFY_CENTER = {"pelvis": "spine", "spine_01": "spine.001", "spine_02": "spine.003", "spine_03": "spine.004",
                  "neck": "spine.005", "head": "spine.006"}
_RIGIFY_SIDED = {"clavicle": "shoulder.{S}", "upperarm": "upper_arm.{S}", "forearm": "forearm.{S}",
                 "hand": "hand.{S}", "thigh": "thigh.{S}", "shin": "shin.{S}", "foot": "foot.{S}", "toe": "toe.{S}"}

PRESETS: dict[str, dict[str, str]] = {
    # Mixamo (names also carry a "mixamorig:" prefix in FBX files)
    "mixamo": _expand(
        {"pelvis": "Hips", "spine_01": "Spine", "spine_02": "Spine1", "spine_03": "Spine2", "neck": "Neck",
         "head": "Head"},
        {"clavicle": "{Side}Shoulder", "upperarm": "{Side}Arm", "forearm": "{Side}ForeArm", "hand": "{Side}Hand",
         "thigh": "{Side}UpLeg", "shin": "{Side}Leg", "foot": "{Side}Foot", "toe": "{Side}ToeBase"}),
    # CMU MotionBuilder (MakeHuman rig.cmu_mb.json; LHipJoint/RHipJoint and Neck1 stay unmapped)
    "cmu_mb": _expand(
        {"pelvis": "Hips", "spine_01": "LowerBack", "spine_02": "Spine", "spine_03": "Spine1", "neck": "Neck",
         "head": "Head"},
        {"clavicle": "{Side}Shoulder", "upperarm": "{Side}Arm", "forearm": "{Side}ForeArm", "hand": "{Side}Hand",
         "thigh": "{Side}UpLeg", "shin": "{Side}Leg", "foot": "{Side}Foot", "toe": "{Side}ToeBase"}),
    # Rigify deform bones of a generated rig (MakeHuman spine layout; the clavicle's parent is taken as
    # spine_03 when the rig's hierarchy is known, which fits Blender's stock metarig too)
    "rigify": {j: "DEF-" + b for j, b in _expand(_RIGIFY_CENTER, _RIGIFY_SIDED).items()},
    # the Rigify metarig itself (also the ORG- bones of a generated rig without their prefix)
    "rigify_meta": _expand(_RIGIFY_CENTER, _RIGIFY_SIDED),
    # FK controls of a generated Rigify rig (keys go on controls, DEF bones follow by constraints).
    # Unverified against a generated rig (Rigify is not available to the tests); see docs/retargeting.md.
    "rigify_fk": _expand(
        {"pelvis": "torso", "spine_01": "spine_fk.001", "spine_02": "spine_fk.002", "spine_03": "spine_fk.003",
         "neck": "neck", "head": "head"},
        {"clavicle": "shoulder.{S}", "upperarm": "upper_arm_fk.{S}", "forearm": "forearm_fk.{S}",
         "hand": "hand_fk.{S}", "thigh": "thigh_fk.{S}", "shin": "shin_fk.{S}", "foot": "foot_fk.{S}",
         "toe": "toe_fk.{S}"}),
    # Unreal Engine 5 mannequin (Manny / Quinn): five spine bones and two neck bones, of which every other one
    # is driven (with the hierarchy known, the spine is re-fitted; UE4's three-bone spine fits too)
    "unreal": _expand(
        {"pelvis": "pelvis", "spine_01": "spine_01", "spine_02": "spine_03", "spine_03": "spine_05",
         "neck": "neck_01", "head": "head"},
        {"clavicle": "clavicle_{s}", "upperarm": "upperarm_{s}", "forearm": "lowerarm_{s}", "hand": "hand_{s}",
         "thigh": "thigh_{s}", "shin": "calf_{s}", "foot": "foot_{s}", "toe": "ball_{s}"}),
    # our own armature (addon/armature.py) and BVH export: canonical names
    "ours": {n: n for n in sk.JOINT_NAMES},
}


def _fingers(template) -> dict[str, str]:
    """Finger joint -> bone name from ``template(side "l"/"r", finger index 0..4 (thumb first), joint 1..3)``."""
    out = {}
    for name in sk.FINGER_JOINT_NAMES:
        side, finger, k = sk.finger_joint(name)
        out[name] = template("lr"[side], finger, k + 1)
    return out


_MIXAMO_FINGERS = ("Thumb", "Index", "Middle", "Ring", "Pinky")
_RIGIFY_FINGERS = ("thumb", "f_index", "f_middle", "f_ring", "f_pinky")
# Finger bones per preset (optional: a rig without them is keyed without fingers).
PRESET_FINGERS: dict[str, dict[str, str]] = {
    "mixamo": _fingers(lambda s, f, k: f"{'Left' if s == 'l' else 'Right'}Hand{_MIXAMO_FINGERS[f]}{k}"),
    "cmu_mb": _fingers(lambda s, f, k: f"{'Left' if s == 'l' else 'Right'}Hand{_MIXAMO_FINGERS[f]}{k}"),  # HumanIK
    "rigify": _fingers(lambda s, f, k: f"DEF-{_RIGIFY_FINGERS[f]}.0{k}.{s.upper()}"),
    "rigify_meta": _fingers(lambda s, f, k: f"{_RIGIFY_FINGERS[f]}.0{k}.{s.upper()}"),
    "rigify_fk": _fingers(lambda s, f, k: f"{_RIGIFY_FINGERS[f]}.0{k}.{s.upper()}"),
    "unreal": _fingers(lambda s, f, k: f"{sk.FINGERS[f]}_0{k}_{s}"),
    "ours": {n: n for n in sk.FINGER_JOINT_NAMES},
}
for _name, _preset in PRESETS.items():
    assert set(_preset) == set(sk.JOINT_NAMES), _name
    assert set(PRESET_FINGERS[_name]) == set(sk.FINGER_JOINT_NAMES), _name
# Names shown to users (the add-on's Bone Mapping menu); one per preset.
PRESET_LABELS: dict[str, str] = {"mixamo": "Mixamo", "cmu_mb": "CMU / MotionBuilder", "rigify": "Rigify (DEF bones)",
                                 "rigify_meta": "Rigify Metarig", "rigify_fk": "Rigify FK Controls",
                                 "unreal": "Unreal Mannequin (UE5)", "ours": "Uplift Armature"}
assert set(PRESET_LABELS) == set(PRESETS)

# A generated Rigify rig has deform bones (``rigify``) and the FK controls that drive them through constraints:
# keys must go on the controls, so where both are present the control preset wins.
PREFERRED_OVER = {"rigify_fk": "rigify"}
# Rig settings a preset needs while its keys play, written into the new Action as constant keys (so the rig
# itself is not changed): Rigify's arms and legs in FK, the neck and head following the chest.
PRESET_POSE_PROPERTIES: dict[str, dict[str, dict[str, float]]] = {
    "rigify_fk": {**{f"{limb}_parent.{s}": {"IK_FK": 1.0} for limb in ("upper_arm", "thigh") for s in "LR"},
                  "torso": {"neck_follow": 1.0, "head_follow": 1.0}},
}
# Bones a preset's rig moves by its own constraints with a canonical joint ({preset: {joint: bone}}): not keyed,
# but what hangs below them is posed relative to them (``transfer.retarget``'s followers). A generated Rigify rig's
# fingers hang off the palm, under the deform hand, which copies the hand control through its tweak bone.
PRESET_FOLLOWERS: dict[str, dict[str, str]] = {"rigify_fk": {"hand_l": "DEF-hand.L", "hand_r": "DEF-hand.R"}}
PRESET_MIN_SCORE = 0.8     # fraction of a preset's bones that must exist for the preset to be used
FUZZY_CONFIDENCE = 0.75    # confidence of a keyword mapping covering every joint

# --- keyword matching for custom rigs ----------------------------------------------------------
_PREFIXES = re.compile(r"^(def|org|bip0?1|cc_base|mixamorig\d*|jnt|bn|b)[-_ .]+", re.IGNORECASE)
_TOKENS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_SKIP = {"end", "nub", "tip", "top", "ik", "pole", "target", "twist", "roll", "mch", "helper", "ctrl", "ctl",
         "control", "tweak", "parent", "socket", "null", "effector", "eff", "jiggle", "breast", "bend", "heel",
         "thumb", "index", "middle", "ring", "pinky", "finger", "fingers", "carpal", "metacarpal", "palm",
         "eye", "jaw", "tongue", "ear", "lip", "brow", "nose", "cheek", "teeth", "hair", "prop", "weapon"}
# role -> list of (priority, required tokens (all), forbidden tokens); lower priority wins
_RULES: dict[str, list[tuple[int, set, set]]] = {
    "toe": [(0, {"toe"}, set()), (0, {"toes"}, set()), (0, {"toebase"}, set()), (1, {"ball"}, set())],
    "foot": [(0, {"foot"}, set()), (0, {"ankle"}, set())],
    "thigh": [(0, {"thigh"}, set()), (0, {"upleg"}, set()), (0, {"upperleg"}, set()), (0, {"femur"}, set()),
              (0, {"up", "leg"}, set()), (0, {"upper", "leg"}, set()), (2, {"hip"}, {"joint"})],
    "shin": [(0, {"shin"}, set()), (0, {"calf"}, set()), (0, {"knee"}, set()), (0, {"tibia"}, set()),
             (0, {"lowerleg"}, set()), (0, {"low", "leg"}, set()), (0, {"lower", "leg"}, set()),
             (1, {"leg"}, {"up", "upper"})],
    "clavicle": [(0, {"clavicle"}, set()), (0, {"collar"}, set()), (0, {"clav"}, set()),
                 (1, {"shoulder"}, set()), (1, {"shldr"}, set())],
    "upperarm": [(0, {"upperarm"}, set()), (0, {"uparm"}, set()), (0, {"humerus"}, set()),
                 (0, {"up", "arm"}, set()), (0, {"upper", "arm"}, set()),
                 (1, {"arm"}, {"fore", "lower", "low"}), (2, {"shoulder"}, set()), (2, {"shldr"}, set())],
    "forearm": [(0, {"forearm"}, set()), (0, {"lowerarm"}, set()), (0, {"elbow"}, set()), (0, {"radius"}, set()),
                (0, {"fore", "arm"}, set()), (0, {"lower", "arm"}, set()), (0, {"low", "arm"}, set())],
    "hand": [(0, {"hand"}, set()), (0, {"wrist"}, set())],
    "pelvis": [(0, {"pelvis"}, set()), (0, {"hips"}, set()), (1, {"hip"}, set())],
    "neck": [(0, {"neck"}, set())],
    "head": [(0, {"head"}, set())],
}
_SIDED_ROLES = ("clavicle", "upperarm", "forearm", "hand", "thigh", "shin", "foot", "toe")


def _tokens(name: str) -> tuple[list[str], str]:
    """Lower-case tokens of a bone name without namespace/prefix, and its side "l", "r" or ""."""
    base = _PREFIXES.sub("", strip_namespace(name))
    toks = [t.lower() for t in _TOKENS.findall(base) if not t.isdigit()]
    side = ""
    for i, t in enumerate(toks):
        if t in ("left", "right") or (t in ("l", "r") and (i in (0, len(toks) - 1))):
            side = t[0]
            break
    return [t for t in toks if t not in ("left", "right", "l", "r")], side


def _candidates(names: list[str]) -> dict[tuple[str, str], list[tuple[int, int]]]:
    """(role, side) -> [(priority, bone index)] from keyword rules."""
    out: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for i, n in enumerate(names):
        toks, side = _tokens(n)
        if not toks or _SKIP & set(toks):
            continue
        for role, rules in _RULES.items():
            if (role in _SIDED_ROLES) != bool(side):
                continue
            hits = [prio for prio, need, ban in rules if need <= set(toks) and not ban & set(toks)]
            if hits:
                out.setdefault((role, side), []).append((min(hits), i))
    return out


def _depth(parents: list[int] | None, i: int) -> int:
    d = 0
    while parents is not None and parents[i] >= 0:
        i, d = parents[i], d + 1
    return d


def _ancestors(parents: list[int], i: int) -> list[int]:
    out = []
    while parents[i] >= 0:
        i = parents[i]
        out.append(i)
    return out


_SPINE = ("spine_01", "spine_02", "spine_03", "neck")
# Presets whose spine bones are controls off the deform hierarchy: between a generated Rigify rig's torso and head
# the hierarchy runs through MCH bones whose copy-transforms constraints would swallow keys put on them, so the
# preset's own FK spine controls are kept (re-fitted, the torso leaned ~70 degrees and the arms were 5 degrees off).
FIXED_SPINE = {"rigify_fk"}


def _fit_spine(mapping: dict[str, int], parents: list[int], keep_neck: bool) -> None:
    """Spine joints from the hierarchy between the pelvis and head bones (in place, bone indices):
    spine_03 = the clavicles' parent (or the bone below the neck when the clavicles hang off the neck,
    as in 3ds Max Biped), neck = the next bone up (or the keyword-matched neck with ``keep_neck``),
    spine_01/02 spread below spine_03."""
    if "pelvis" not in mapping or "head" not in mapping:
        return
    up = _ancestors(parents, mapping["head"])
    if mapping["pelvis"] not in up:
        return
    chain = list(reversed(up[:up.index(mapping["pelvis"])]))     # bottom -> top, pelvis/head excluded
    clav = mapping.get("clavicle_l", mapping.get("clavicle_r"))
    chest = parents[clav] if clav is not None and parents[clav] in chain else mapping.get("spine_03")
    if chest not in chain:
        return
    neck = mapping.get("neck") if keep_neck and mapping.get("neck") in chain else None
    k = chain.index(chest)
    if chest == neck and k > 0:
        k -= 1
        chest = chain[k]
    mapping["spine_03"] = chest
    if neck is None or chain.index(neck) <= k:
        mapping.pop("neck", None)
        if k + 1 < len(chain):
            mapping["neck"] = chain[k + 1]
    below = chain[:k]
    for j in ("spine_01", "spine_02"):
        mapping.pop(j, None)
    if below:
        mapping["spine_01"] = below[0]
    if len(below) >= 2:
        mapping["spine_02"] = below[min(len(below) - 1, max(1, round(0.6 * len(below))))]


def _fill_limb(mapping: dict[str, int], parents: list[int], chain: tuple[str, ...], side: str) -> None:
    """Fill missing joints of a limb chain (e.g. thigh, shin, foot, toe) from the hierarchy."""
    children: dict[int, list[int]] = {}
    for i, p in enumerate(parents):
        children.setdefault(p, []).append(i)
    for a, b in zip(chain, chain[1:]):
        ja, jb = f"{a}_{side}", f"{b}_{side}"
        if ja in mapping and jb not in mapping:
            kids = [c for c in children.get(mapping[ja], []) if c not in mapping.values()]
            if len(kids) == 1:
                mapping[jb] = kids[0]


def _keyword_mapping(names: list[str], parents: list[int] | None) -> dict[str, int]:
    cand = _candidates(names)
    used: set[int] = set()
    mapping: dict[str, int] = {}
    order = ["pelvis", "head", "neck"] + [f"{r}_{s}" for r in _SIDED_ROLES for s in "lr"]
    for joint in order:
        role, _, side = joint.rpartition("_") if joint[-2:] in ("_l", "_r") else (joint, "", "")
        options = [(p, _depth(parents, i), i) for p, i in cand.get((role, side), []) if i not in used]
        if options:
            mapping[joint] = min(options)[2]
            used.add(mapping[joint])
    if parents is not None:
        for side in "lr":
            _fill_limb(mapping, parents, ("thigh", "shin", "foot", "toe"), side)
            _fill_limb(mapping, parents, ("upperarm", "forearm", "hand"), side)
        if "pelvis" not in mapping and "thigh_l" in mapping and "thigh_r" in mapping:
            right = set(_ancestors(parents, mapping["thigh_r"]))
            common = [a for a in _ancestors(parents, mapping["thigh_l"]) if a in right]
            if common:
                mapping["pelvis"] = common[0]
        _fit_spine(mapping, parents, keep_neck=True)
    mapping.update(_finger_mapping(names, set(mapping.values()), parents))
    return mapping


_FINGER_WORDS = {"thumb": 0, "index": 1, "middle": 2, "ring": 3, "pinky": 4, "little": 4, "pinkie": 4}
_FINGER_NUMBERED = re.compile(r"finger[ _.-]?([1-5])[ _.-]?(\d)", re.IGNORECASE)      # MakeHuman: finger2-1.L


_FINGER_HELPERS = _SKIP - set(_FINGER_WORDS) - {"finger", "fingers", "carpal", "metacarpal", "palm"}


def _finger_mapping(names: list[str], used: set[int], parents: list[int] | None = None) -> dict[str, int]:
    """Finger joints of a custom rig: bones naming a finger (thumb, index, ..., or fingerN-K) and a side, three
    per finger and side, ordered by their number. Helper bones (end, nub, ik, ...) and metacarpals are skipped; with
    four left, a leaf (a tip bone, known from ``parents``) goes, else the first (a metacarpal by another name)."""
    has_child = set(parents or []) if parents is not None else None
    groups: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for i, n in enumerate(names):
        if i in used:
            continue
        toks, side = _tokens(n)
        if _FINGER_HELPERS & set(toks):
            continue
        base = _PREFIXES.sub("", strip_namespace(n))
        numbered = _FINGER_NUMBERED.search(base)
        words = [_FINGER_WORDS[t] for t in toks if t in _FINGER_WORDS]
        digits = re.findall(r"\d+", base)
        if not side or not digits or any(t in ("meta", "metacarpal", "carpal", "palm") for t in toks):
            continue
        if numbered:
            finger, number = int(numbered.group(1)) - 1, int(numbered.group(2))
        elif len(words) == 1:
            finger, number = words[0], int(digits[-1])
        else:
            continue
        groups.setdefault(("lr".index(side), finger), []).append((number, i))
    out = {}
    for (side, finger), bones in groups.items():
        chain = [i for _, i in sorted(bones)]
        if len(chain) > 3 and has_child is not None and chain[-1] not in has_child:
            chain = chain[:-1]                                  # the tip bone
        chain = chain[-3:]
        if len(chain) == 3 and len({num for num, _ in bones}) == len(bones):
            for k, i in enumerate(chain):
                out[f"{sk.FINGERS[finger]}_{k + 1:02d}_{'lr'[side]}"] = i
    return out


def _parent_indices(names: list[str], parents) -> list[int] | None:
    if parents is None:
        return None
    if len(parents) != len(names):
        raise ValueError(f"auto_detect: {len(names)} bone names but {len(parents)} parents")
    index = {n: i for i, n in enumerate(names)}
    out = []
    for p in parents:
        if p is None or p == "" or (not isinstance(p, str) and int(p) < 0):
            out.append(-1)
        elif isinstance(p, str):
            if p not in index:
                raise ValueError(f"auto_detect: parent {p!r} is not one of the bone names")
            out.append(index[p])
        else:
            out.append(int(p))
    return out


def _bare_index(names: list[str]) -> dict[str, int]:
    """Bone name without namespace/prefix -> index of its first bone."""
    bare: dict[str, int] = {}
    for i, n in enumerate(names):
        bare.setdefault(strip_namespace(n), i)
    return bare


def preset_mapping(preset: str, bone_names, parents=None) -> tuple[dict[str, str], float]:
    """The mapping of one preset on an armature: (mapping of the joints whose bone exists, body and fingers;
    fraction of the preset's body bones found). With ``parents`` the spine is re-fitted as in ``auto_detect``, except for the
    ``FIXED_SPINE`` presets when the rig has every spine bone they name.
    KeyError for an unknown preset."""
    if preset not in PRESETS:
        raise KeyError(f"unknown rig preset {preset!r} (known: {', '.join(PRESETS)})")
    names = [str(n) for n in bone_names]
    par = _parent_indices(names, parents)
    bare = _bare_index(names)
    table = PRESETS[preset]
    found = {j: bare[b] for j, b in table.items() if b in bare}
    if par is not None and found and not (preset in FIXED_SPINE and all(j in found for j in _SPINE)):
        _fit_spine(found, par, keep_neck=False)
    fingers = {j: bare[b] for j, b in PRESET_FINGERS[preset].items() if b in bare and bare[b] not in found.values()}
    return ({j: names[i] for j, i in {**found, **fingers}.items()},
            round(sum(b in bare for b in table.values()) / len(table), 3))


def auto_detect(bone_names, parents=None) -> tuple[str, dict[str, str], float]:
    """Guess a mapping for an armature: (preset name or "custom", mapping, confidence 0..1).

    bone_names: the armature's bone names; parents: optional, per bone the parent's name or index
    (None / "" / -1 for roots), used to place the spine and fill limbs. A preset is used when at least
    PRESET_MIN_SCORE of its bones exist (confidence = that fraction); otherwise keyword matching
    (confidence = FUZZY_CONFIDENCE x fraction of the 22 joints mapped). Empty mapping, 0.0 if nothing fits.
    """
    names = [str(n) for n in bone_names]
    par = _parent_indices(names, parents)
    bare = _bare_index(names)
    best, best_score = None, 0.0
    scores = {preset: sum(b in bare for b in table.values()) / len(table) for preset, table in PRESETS.items()}
    for preset, score in scores.items():
        if score > best_score:
            best, best_score = preset, score
    for preset, over in PREFERRED_OVER.items():                # controls beat the bones they drive
        if best == over and scores[preset] >= PRESET_MIN_SCORE:
            best, best_score = preset, scores[preset]
    if best is not None and best_score >= PRESET_MIN_SCORE:
        return (best, *preset_mapping(best, names, parents))
    found = _keyword_mapping(names, par)
    ordered = {j: names[found[j]] for j in sk.FULL_JOINT_NAMES if j in found}
    body = sum(j in found for j in sk.JOINT_NAMES)
    return "custom", ordered, round(FUZZY_CONFIDENCE * body / sk.NUM_JOINTS, 3)
