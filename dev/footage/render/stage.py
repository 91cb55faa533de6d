"""Render stage for synthetic footage: Workbench engine, studio light with shadows, a floor, a camera,
H.264 MP4 output.

A moving camera (``camera_path``): one ``CameraSpec`` per frame, keyed on the camera object in bulk.

Camera convention (``CameraSpec``): the camera stands ``distance`` metres from ``target`` on the floor
plane, at ``yaw`` degrees about +Z from the character's front (yaw 0: in front of a character facing
-Y, i.e. at -Y looking +Y; yaw +45: front-left, the character's left side (+X) turned towards the
camera; yaw 90: on the character's left), at ``height`` metres, aimed at ``target``. Pinhole, no lens
shift: ``focal_px = focal_mm / 36 * width`` (sensor 36 mm wide, fitted horizontally), principal point
at the image centre.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import bpy
import numpy as np

from ....inference.core.frames import CV_FROM_BLENDER_CAM

SENSOR_MM = 36.0
BACKGROUND = (0.62, 0.64, 0.67)
FLOOR_COLOUR = (0.80, 0.76, 0.70, 1.0)
# OpenCV camera axes (x right, y down, z forward) from Blender camera axes (x right, y up, z backward)


@dataclass
class CameraSpec:
    """Where the camera is and what it sees (see the module docstring); lengths in metres."""
    yaw_deg: float = 45.0
    height: float = 1.3
    distance: float = 6.0
    focal_mm: float = 35.0
    target: tuple = (0.0, 0.0, 0.9)
    width: int = 640
    height_px: int = 480
    eye: tuple | None = None          # the camera centre itself (then yaw/height/distance are ignored)

    @property
    def focal_px(self) -> float:
        return self.focal_mm / SENSOR_MM * self.width

    def position(self) -> np.ndarray:
        """(3,) camera centre, world metres."""
        if self.eye is not None:
            return np.asarray(self.eye, dtype=np.float64)
        yaw = math.radians(self.yaw_deg)
        t = np.asarray(self.target, dtype=np.float64)
        return np.array([t[0] + self.distance * math.sin(yaw), t[1] - self.distance * math.cos(yaw), self.height])

    def world_from_camera(self) -> np.ndarray:
        """(4, 4) Blender camera-to-world matrix (camera looks along its -Z, +Y up in the image)."""
        eye = self.position()
        fwd = np.asarray(self.target, dtype=np.float64) - eye
        fwd /= np.linalg.norm(fwd)
        right = np.cross(fwd, [0.0, 0.0, 1.0])
        if np.linalg.norm(right) < 1e-9:
            raise ValueError("camera looks straight up or down: yaw/height/target leave no horizon")
        right /= np.linalg.norm(right)
        up = np.cross(right, fwd)
        m = np.eye(4)
        m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = right, up, -fwd, eye
        return m

    def cam_from_world(self) -> np.ndarray:
        """(4, 4) world -> OpenCV camera (x right, y down, z forward) extrinsics."""
        w = self.world_from_camera()
        out = np.eye(4)
        out[:3, :3] = CV_FROM_BLENDER_CAM @ w[:3, :3].T
        out[:3, 3] = -out[:3, :3] @ w[:3, 3]
        return out

    def intrinsics(self) -> np.ndarray:
        """(3, 3) K = [[f, 0, cx], [0, f, cy], [0, 0, 1]] in pixels, cx = width / 2, cy = height / 2."""
        f = self.focal_px
        return np.array([[f, 0.0, self.width / 2.0], [0.0, f, self.height_px / 2.0], [0.0, 0.0, 1.0]])


def project(points_world: np.ndarray, cam: CameraSpec) -> np.ndarray:
    """(..., 3) world metres -> (..., 3) pixel x (right), pixel y (down), depth (m, along the view)."""
    p = np.asarray(points_world, dtype=np.float64)
    e = cam.cam_from_world()
    c = p @ e[:3, :3].T + e[:3, 3]
    k = cam.intrinsics()
    z = c[..., 2:3]
    uv = c[..., :2] / np.where(np.abs(z) < 1e-9, 1e-9, z) * k[0, 0] + k[:2, 2]
    return np.concatenate([uv, z], axis=-1)


def reset_scene() -> None:
    """Remove every object, mesh, material, armature, action and camera from the file."""
    for coll in (bpy.data.objects, bpy.data.meshes, bpy.data.materials, bpy.data.armatures,
                 bpy.data.actions, bpy.data.cameras, bpy.data.lights):
        for block in list(coll):
            coll.remove(block)


def setup_render(scene, width: int, height: int, fps: int, out_path: str) -> None:
    """Workbench (studio light, material colours, shadows, cavity), FFmpeg MPEG-4 / H.264 to ``out_path``."""
    scene.render.engine = "BLENDER_WORKBENCH"
    shading = scene.display.shading
    shading.light = "STUDIO"
    shading.color_type = "MATERIAL"
    shading.show_shadows = True
    shading.shadow_intensity = 0.45
    shading.show_cavity = True
    shading.cavity_type = "WORLD"
    shading.show_specular_highlight = False
    shading.use_world_space_lighting = True
    try:
        shading.studio_light = "paint.sl"      # a bright, warm floor; stock Blender studio light
    except TypeError:                          # not shipped with this build: keep the default
        pass
    scene.display.render_aa = "FXAA"           # 8-sample AA costs 3x the render time for little gain
    scene.display.light_direction = (0.45, -0.35, 0.82)
    scene.display.shadow_shift = 0.1
    if scene.world is None:
        scene.world = bpy.data.worlds.new("World")
    scene.world.color = BACKGROUND
    scene.display_settings.display_device = "sRGB"
    scene.view_settings.view_transform = "Standard"
    r = scene.render
    r.resolution_x, r.resolution_y, r.resolution_percentage = int(width), int(height), 100
    r.fps, r.fps_base = int(fps), 1.0
    r.film_transparent = False
    r.use_file_extension = False
    im = r.image_settings
    if "media_type" in im.bl_rna.properties:   # Blender 5.0+: pick video before the container
        im.media_type = "VIDEO"
    im.file_format = "FFMPEG"
    r.ffmpeg.format = "MPEG4"
    r.ffmpeg.codec = "H264"
    r.ffmpeg.constant_rate_factor = "MEDIUM"
    r.ffmpeg.ffmpeg_preset = "GOOD"
    r.ffmpeg.gopsize = int(fps)
    r.ffmpeg.audio_codec = "NONE"
    r.filepath = str(out_path)


def add_floor(scene, size: float = 150.0):
    """A square floor plane at Z = 0 centred on the origin."""
    half = size / 2.0
    me = bpy.data.meshes.new("Floor")
    me.from_pydata([(-half, -half, 0), (half, -half, 0), (half, half, 0), (-half, half, 0)], [], [(0, 1, 2, 3)])
    mat = bpy.data.materials.new("footage_floor")
    mat.diffuse_color = FLOOR_COLOUR
    me.materials.append(mat)
    obj = bpy.data.objects.new("Floor", me)
    scene.collection.objects.link(obj)
    return obj


def add_floor_texture(scene, centre=(0.0, 0.0), radius: float = 14.0, tiles: int = 900, seed: int = 0):
    """A textured set for camera-motion cues: ``tiles`` flat squares (10-40 cm, a few colours) scattered on the
    floor within ``radius`` m of ``centre``, one mesh (Workbench renders material colours, so this is texture)."""
    rng = np.random.default_rng(seed)
    colours = [(0.25, 0.25, 0.28, 1.0), (0.75, 0.72, 0.62, 1.0), (0.45, 0.32, 0.22, 1.0), (0.2, 0.38, 0.3, 1.0)]
    mats = []
    for k, c in enumerate(colours):
        mat = bpy.data.materials.new(f"footage_tile{k}")
        mat.diffuse_color = c
        mats.append(mat)
    r = radius * np.sqrt(rng.uniform(0.0, 1.0, tiles))
    a = rng.uniform(0.0, 2.0 * np.pi, tiles)
    xy = np.stack([centre[0] + r * np.cos(a), centre[1] + r * np.sin(a)], axis=1)
    half = rng.uniform(0.05, 0.2, tiles)
    turn = rng.uniform(0.0, np.pi / 2, tiles)
    verts, faces = [], []
    for (x, y), h, t in zip(xy, half, turn):
        c, s_ = np.cos(t) * h, np.sin(t) * h
        base = len(verts)
        verts += [(x - c + s_, y - s_ - c, 0.002), (x + c + s_, y + s_ - c, 0.002), (x + c - s_, y + s_ + c, 0.002),
                  (x - c - s_, y - s_ + c, 0.002)]
        faces.append((base, base + 1, base + 2, base + 3))
    me = bpy.data.meshes.new("FloorTiles")
    me.from_pydata(verts, [], faces)
    for mat in mats:
        me.materials.append(mat)
    me.polygons.foreach_set("material_index", rng.integers(0, len(mats), len(faces)).astype(np.int32))
    obj = bpy.data.objects.new("FloorTiles", me)
    scene.collection.objects.link(obj)
    return obj


def add_camera(scene, cam: CameraSpec):
    """Create the scene camera matching ``cam`` and make it active."""
    data = bpy.data.cameras.new("FootageCamera")
    data.lens = cam.focal_mm
    data.sensor_fit = "HORIZONTAL"
    data.sensor_width = SENSOR_MM
    data.shift_x = data.shift_y = 0.0
    data.clip_start, data.clip_end = 0.05, 200.0
    obj = bpy.data.objects.new("FootageCamera", data)
    scene.collection.objects.link(obj)
    from mathutils import Matrix
    obj.matrix_world = Matrix(cam.world_from_camera().tolist())
    scene.camera = obj
    return obj


def camera_path(cam: CameraSpec, pelvis: np.ndarray, motion: str, fps: float, target_height: float,
                smooth_s: float = 0.5) -> list[CameraSpec]:
    """One camera per frame following the (T, 3) ``pelvis`` path (world m), smoothed over ``smooth_s``:
    "static": ``cam`` every frame; "track": ``cam``'s offset kept from the moving target (the camera travels
    with the actor, as a dolly or a handheld follow); "pan": ``cam``'s position kept, aimed at the target."""
    if motion == "static":
        return [cam] * len(pelvis)
    if motion not in ("track", "pan"):
        raise ValueError(f"camera motion must be static, track or pan, got {motion!r}")
    from ....inference.pipeline.smoothing import gaussian_filter_time

    xy = gaussian_filter_time(np.asarray(pelvis, dtype=np.float64)[:, :2], smooth_s * fps)
    out = []
    for x, y in xy:
        target = (float(x), float(y), float(target_height))
        if motion == "track":
            out.append(CameraSpec(cam.yaw_deg, cam.height, cam.distance, cam.focal_mm, target, cam.width,
                                  cam.height_px))
        else:
            out.append(CameraSpec(cam.yaw_deg, cam.height, cam.distance, cam.focal_mm, target, cam.width,
                                  cam.height_px, eye=tuple(cam.position())))
    return out


def key_camera(obj, cams: list[CameraSpec], frame_start: int = 1) -> None:
    """Key ``obj``'s location and rotation (quaternion) from ``cams``, one per frame, in bulk."""
    from mathutils import Matrix

    from ....addon import compat

    obj.rotation_mode = "QUATERNION"
    mats = [Matrix(c.world_from_camera().tolist()) for c in cams]
    loc = np.array([tuple(m.to_translation()) for m in mats])
    quat = np.array([tuple(m.to_quaternion()) for m in mats])
    quat[1:] *= np.where(np.sum(quat[1:] * quat[:-1], axis=1) < 0, -1.0, 1.0)[:, None]   # one hemisphere
    action, slot = compat.new_object_action("FootageCameraMotion", obj.name)
    frames = frame_start + np.arange(len(cams), dtype=np.float64)
    for path, values in (("location", loc), ("rotation_quaternion", quat)):
        for i in range(values.shape[1]):
            fc = compat.new_fcurve(action, slot, path, i, "Camera")
            fc.keyframe_points.add(len(frames))
            fc.keyframe_points.foreach_set("co", np.stack([frames, values[:, i]], axis=1).ravel())
            compat.set_keyframe_interpolation(fc.keyframe_points, np.full(len(frames), 1, dtype=np.uint8))
            fc.update()
    compat.assign_action(obj, action, slot)
