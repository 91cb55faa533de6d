"""Exact ground truth of rendered footage, saved as ``<video>.npz`` beside the video.

Per frame (T frames, J = ``skeleton.NUM_JOINTS`` canonical joints, in ``skeleton.JOINT_NAMES`` order):
- ``joints`` (T, J, 3) float32 metres, Blender world: MEASURED from the rendered rig -- the world head
  of the pose bone each canonical joint is mapped to (``rig_bones``), after Blender evaluated the pose.
  These are the MakeHuman body's joint centres, not canonical ones: see docs/footage.md for the offsets
  (e.g. the CMU-MB ``Hips`` head sits at hip-joint height, about 4 cm below the canonical pelvis).
- ``joints_px`` (T, J, 3) float32: ``joints`` projected with the stored camera: pixel x (right),
  pixel y (down), depth along the view axis (m).
- ``local_rot`` (T, J, 4) float32 wxyz: the canonical rest-relative local rotations that drive the
  body (the root's is its world rotation); ``root_translation`` (T, 3) and ``offsets`` (J, 3) metres
  and ``canonical_joints`` (T, J, 3) = their FK: the source performer's skeleton, re-centred.
Camera: ``focal_px``, ``cx``, ``cy``, ``width``, ``height``, ``K`` (3, 3); ``cam_from_world`` (4, 4)
world -> OpenCV camera (x right, y down, z forward): ``px = K @ (R @ X + t)`` then divide by z;
``world_from_camera`` (4, 4) the Blender camera object's matrix (looks along its -Z), both of the first frame;
a moving camera (``camera_motion`` "track" or "pan") adds ``cam_from_world_per_frame`` (T, 4, 4) and
``camera_path`` (T, 3) camera centres (m), and ``joints_px`` uses each frame's camera.
Time: ``fps``, ``frame_indices`` (T,) video frame numbers from 0, ``times_s`` (T,) = index / fps,
``source_times_s`` (T,) the BVH time shown in each frame.
Moving fingers (``generate --finger-seed``) add ``finger_angles`` (T, 2, 5, 3, 2) radians that drove the rig's
finger bones (``pipeline.fingers`` convention), ``hand_points`` (T, 2, 21, 3) m the hand joints measured on the
posed skin in MediaPipe's hand landmark order (``measure_hands``: the rig's bones do not sit where MakeHuman's hand
mesh is, up to 6 cm at the fingertips, so the skin is what is measured) and ``hand_points_px`` (T, 2, 21, 3) their
projection (as ``joints_px``).
"""
from __future__ import annotations

import os

import numpy as np

from ....inference.core import skeleton as sk


def ground_truth_path(video_path: str | os.PathLike) -> str:
    """``clip.mp4`` -> ``clip.npz`` (the ground truth file beside the video)."""
    root, _ = os.path.splitext(os.fspath(video_path))
    return root + ".npz"


def measure_joints(scene, armature, rig_bones: dict[str, str], frames) -> np.ndarray:
    """(T, J, 3) float64 world heads of the pose bones mapped to each canonical joint at ``frames``.

    rig_bones: canonical joint name -> bone name; every canonical joint must be mapped.
    """
    missing = [j for j in sk.JOINT_NAMES if j not in rig_bones]
    if missing:
        raise ValueError(f"rig_bones maps no bone to {missing}")
    pose = armature.pose.bones
    bones = [pose[rig_bones[j]] for j in sk.JOINT_NAMES]
    out = np.empty((len(frames), sk.NUM_JOINTS, 3))
    for t, f in enumerate(frames):
        scene.frame_set(int(f))
        world = np.array(armature.matrix_world)
        heads = np.array([tuple(b.head) for b in bones])          # armature space
        out[t] = heads @ world[:3, :3].T + world[:3, 3]
    return out


def hand_skin_joints(rig_bones: dict[str, str], parent_of: dict[str, str], weights: dict) -> list:
    """How to find each hand point on the skinned mesh: per side, 21 (vertex indices, weights) pairs in MediaPipe's
    hand landmark order. A joint between bones a and b is the centroid of the vertices both move, weighted by
    w_a * w_b (the skin's crease); a fingertip the centroid of the last bone's most distal vertices (the 15 %
    furthest from its base joint, found on the rest mesh at measuring time). ``parent_of``: bone -> parent bone;
    ``weights``: ``body.read_weights``'s {bone: (vertex indices, weights)}."""
    from ....inference.pipeline.fingers import FINGER_CHAINS

    def crease(a: str, b: str):
        wa, wb = dict(zip(*weights[a])), dict(zip(*weights[b]))
        both = sorted(set(wa) & set(wb))
        if not both:
            raise ValueError(f"bones {a!r} and {b!r} share no skinned vertices: no joint between them")
        return np.array(both), np.array([wa[v] * wb[v] for v in both])

    out = []
    for side in "lr":
        points = [None] * sk.NUM_HAND_LANDMARKS
        hand = rig_bones[f"hand_{side}"]
        points[0] = crease(parent_of[hand], hand)
        for finger in range(len(sk.FINGERS)):
            bones = [rig_bones[f"{sk.FINGERS[finger]}_{k + 1:02d}_{side}"] for k in range(3)]
            for k, bone in enumerate(bones):
                points[FINGER_CHAINS[finger, k + 1]] = crease(parent_of[bone], bone)
            idx, w = weights[bones[2]]
            points[FINGER_CHAINS[finger, 4]] = ("tip", idx[w > 0.5], points[FINGER_CHAINS[finger, 3]])
        out.append(points)
    return out


def measure_hands(scene, mesh_obj, recipe: list, frames) -> np.ndarray:
    """(T, 2, 21, 3) float64 world points of both hands (left first), MediaPipe's hand landmark order, measured on
    the evaluated (posed, skinned) mesh ``mesh_obj`` with ``hand_skin_joints``' recipe: what the picture shows."""
    def evaluated() -> np.ndarray:
        dg = bpy.context.evaluated_depsgraph_get()
        ev = mesh_obj.evaluated_get(dg)
        me = ev.to_mesh()
        co = np.empty(len(me.vertices) * 3)
        me.vertices.foreach_get("co", co)
        ev.to_mesh_clear()
        m = np.array(mesh_obj.matrix_world)
        return co.reshape(-1, 3) @ m[:3, :3].T + m[:3, 3]

    def centroid(v, idx, w):
        return (v[idx] * w[:, None]).sum(0) / w.sum()

    import bpy

    scene.frame_set(int(frames[0]))
    rest = evaluated()
    tips = {}                                  # (side, landmark) -> the distal vertices of that fingertip
    for s, points in enumerate(recipe):
        for i, p in enumerate(points):
            if isinstance(p[0], str):
                _, idx, base = p
                d = np.linalg.norm(rest[idx] - centroid(rest, *base), axis=-1)
                tips[s, i] = idx[d >= np.quantile(d, 0.85)]
    out = np.empty((len(frames), 2, sk.NUM_HAND_LANDMARKS, 3))
    for t, f in enumerate(frames):
        scene.frame_set(int(f))
        v = evaluated()
        for s, points in enumerate(recipe):
            for i, p in enumerate(points):
                out[t, s, i] = v[tips[s, i]].mean(0) if isinstance(p[0], str) else centroid(v, *p)
    return out


def save_ground_truth(path: str | os.PathLike, *, joints, joints_px, local_rot, root_translation, offsets,
                      canonical_joints, camera, fps: float, source_times_s, extra: dict | None = None) -> None:
    """Write the npz described in the module docstring; ``camera`` is a ``stage.CameraSpec``."""
    t = len(joints)
    k = camera.intrinsics()
    np.savez_compressed(
        path,
        joint_names=np.array(sk.JOINT_NAMES),
        joints=np.asarray(joints, np.float32),
        joints_px=np.asarray(joints_px, np.float32),
        local_rot=np.asarray(local_rot, np.float32),
        root_translation=np.asarray(root_translation, np.float32),
        offsets=np.asarray(offsets, np.float32),
        canonical_joints=np.asarray(canonical_joints, np.float32),
        fps=np.float64(fps),
        frame_indices=np.arange(t, dtype=np.int64),
        times_s=np.arange(t, dtype=np.float64) / fps,
        source_times_s=np.asarray(source_times_s, np.float64),
        focal_px=np.float64(k[0, 0]), cx=np.float64(k[0, 2]), cy=np.float64(k[1, 2]),
        width=np.int64(camera.width), height=np.int64(camera.height_px), K=k,
        cam_from_world=camera.cam_from_world(),
        world_from_camera=camera.world_from_camera(),
        camera_yaw_deg=np.float64(camera.yaw_deg), camera_height=np.float64(camera.height),
        camera_distance=np.float64(camera.distance), focal_mm=np.float64(camera.focal_mm),
        camera_target=np.asarray(camera.target, np.float64),
        **{key: np.asarray(v) for key, v in (extra or {}).items()},
    )
