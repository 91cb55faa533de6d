"""The release zip (`make package`): Linux build with bundled wheels, installed into a clean Blender.

The zip is built by tools/package_extension.py (wheels fetched from PyPI into wheels/ on first use)
unless dist/ already holds one newer than every input. Inside Blender (bpy in a subprocess, HOME a
fresh temporary directory) the installed extension must import MediaPipe, OpenCV and ONNX Runtime
from its own wheels, detect the person in tests/fixtures/person_walk.mp4 with the bundled .task and
lift the landmarks with the bundled uplifter.onnx.
"""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

pytestmark = [pytest.mark.bpy, pytest.mark.slow]

PLATFORM = "linux-x64"
# A change to any of these makes the zip in dist/ stale.
PACKAGE_INPUTS = ("__init__.py", "LICENSE", "README.md", "blender_manifest.toml",
                  "requirements/extension.txt", "tools/package_extension.py")
PACKAGE_INPUT_DIRS = ("inference", "addon", "models", "cli")
TOOL = Path(__file__).resolve().parents[1] / "tools" / "package_extension.py"


def _load_tool():
    spec = importlib.util.spec_from_file_location("package_extension", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tool = _load_tool()


def _newest_input(root: Path) -> float:
    paths = [root / p for p in PACKAGE_INPUTS]
    for sub in PACKAGE_INPUT_DIRS:
        paths += [p for p in (root / sub).rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    return max(p.stat().st_mtime for p in paths if p.exists())


def _blender_ext() -> Path:
    path = tool.blender_ext()
    if path is None:
        pytest.skip("bpy (Blender as a module) is not installed")
    return path


@pytest.fixture(scope="module")
def linux_zip(repo_root) -> Path:
    """dist/uplift_mocap-<version>-linux_x64.zip, rebuilt when older than its inputs."""
    _blender_ext()  # skips without bpy
    path = tool.zip_path(PLATFORM, repo_root / "dist")
    if path.is_file() and path.stat().st_mtime > _newest_input(repo_root):
        return path
    proc = subprocess.run([sys.executable, str(TOOL), "--platform", PLATFORM],
                          capture_output=True, text=True, timeout=900)
    if proc.returncode == tool.EXIT_OFFLINE:
        pytest.skip(f"network unavailable, cannot fetch the extension wheels: {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert path.is_file(), proc.stdout
    return path


def test_zip_lists_exactly_its_wheels_for_both_pythons(linux_zip):
    archive = zipfile.ZipFile(linux_zip)
    names = archive.namelist()
    # Blender's builder (--split-platforms) appends [build.generated]: this zip's platform and wheels,
    # which Blender reads instead of the top-level lists (those name every platform's wheels).
    generated = tomllib.loads(archive.read("blender_manifest.toml").decode())["build"]["generated"]
    listed = [w.removeprefix("./") for w in generated["wheels"]]
    shipped = sorted(n for n in names if n.endswith(".whl"))
    assert sorted(listed) == shipped
    assert generated["platforms"] == [PLATFORM]
    assert not [w for w in shipped if "win_" in w or "macosx" in w], "other platforms' wheels shipped"
    dists = {Path(w).name.split("-")[0].lower() for w in shipped}
    assert {"mediapipe", "onnxruntime", "opencv_python_headless"} <= dists
    assert not dists & {"numpy", "jax", "jaxlib", "sentencepiece", "sounddevice", "opencv_python",
                        "opencv_contrib_python", "torch", "matplotlib", "pillow"}, dists
    for compiled in ("onnxruntime",):
        tags = {Path(w).name.split("-")[2] for w in shipped if Path(w).name.split("-")[0].lower() == compiled}
        assert tags == {"cp311", "cp313"}, (compiled, tags)
    for model in ("models/uplifter.onnx", "models/pose_landmarker_full.task"):
        assert model in names


MAX_ZIP_BYTES = 200 * 10**6


def _build_zip(platform: str, out: Path) -> Path:
    """Build ``platform``'s zip into ``out`` with the packaging tool (skips when its wheels cannot be fetched)."""
    _blender_ext()
    proc = subprocess.run([sys.executable, str(TOOL), "--platform", platform, "--output-dir", str(out),
                           "--stage-dir", str(out / "stage")], capture_output=True, text=True, timeout=900)
    if proc.returncode == tool.EXIT_OFFLINE:
        pytest.skip(f"network unavailable, cannot fetch the {platform} wheels: {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return tool.zip_path(platform, out)


def test_zip_stays_under_200_mb(linux_zip):
    assert linux_zip.stat().st_size < MAX_ZIP_BYTES, f"{linux_zip.stat().st_size / 1e6:.1f} MB"


def test_windows_zip_bundles_directml_and_validates(repo_root, tmp_path):
    """The Windows zip carries ONNX Runtime's DirectML build (DmlExecutionProvider on any DirectX 12 GPU) for both
    Pythons instead of the CPU one, stays under 200 MB and passes Blender's validator."""
    path = _build_zip("windows-x64", tmp_path)
    assert path.stat().st_size < MAX_ZIP_BYTES, f"{path.stat().st_size / 1e6:.1f} MB"
    archive = zipfile.ZipFile(path)
    shipped = [Path(n).name for n in archive.namelist() if n.endswith(".whl")]
    runtimes = sorted(w.split("-")[0] + "-" + w.split("-")[2] for w in shipped if w.startswith("onnxruntime"))
    assert runtimes == ["onnxruntime_directml-cp311", "onnxruntime_directml-cp313"], runtimes
    assert all(w.endswith(("win_amd64.whl", "none-any.whl")) for w in shipped), shipped
    with zipfile.ZipFile(archive.open(next(f"wheels/{w}" for w in shipped if "directml" in w))) as wheel:
        assert "onnxruntime/capi/DirectML.dll" in wheel.namelist()
    check = subprocess.run([sys.executable, str(_blender_ext()), "validate", str(path)],
                           capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr


def test_macos_zip_runtime_has_coreml(repo_root, tmp_path):
    """The macOS zip's ONNX Runtime is the standard build, which carries the CoreML provider (Apple GPU / Neural
    Engine): its native library names CoreMLExecutionProvider, for both Pythons."""
    path = _build_zip("macos-arm64", tmp_path)
    assert path.stat().st_size < MAX_ZIP_BYTES
    archive = zipfile.ZipFile(path)
    wheels = [n for n in archive.namelist() if Path(n).name.startswith("onnxruntime-")]
    assert len(wheels) == 2, wheels
    for name in wheels:
        with zipfile.ZipFile(archive.open(name)) as wheel:
            native = [n for n in wheel.namelist() if n.endswith("onnxruntime_pybind11_state.so")]
            assert native and b"CoreMLExecutionProvider" in wheel.read(native[0]), name


def test_zip_passes_this_blenders_validator(linux_zip):
    proc = subprocess.run([sys.executable, str(_blender_ext()), "validate", str(linux_zip)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# Session 1: install from disk, as Preferences > Get Extensions > Install from Disk does.
_INSTALL = r"""
import bpy
result = bpy.ops.extensions.package_install_files(filepath=ZIP, repo="user_default", enable_on_install=True)
assert result == {"FINISHED"}, result
assert "bl_ext.user_default.uplift_mocap" in bpy.context.preferences.addons.keys()
print("OK")
"""

# Session 2, like the next Blender start: the wheels' site-packages now exists at start-up, so Blender
# puts it before every other site-packages (in session 1 it is appended, and bpy-as-module's own
# venv, which has other mediapipe/onnxruntime builds, would win). bpy-as-module loads no user
# preferences, so the extension is enabled explicitly.
_ENABLE_AND_RUN = r"""
import importlib, json, sys
from pathlib import Path
import bpy, addon_utils
import numpy as np

name = "bl_ext.user_default.uplift_mocap"
addon_utils.enable(name, default_set=True)
assert name in bpy.context.preferences.addons.keys(), bpy.context.preferences.addons.keys()
ext_dir = Path(importlib.import_module(name).__file__).resolve().parent
detect = importlib.import_module(name + ".inference.pipeline.detect")
normalize = importlib.import_module(name + ".inference.core.normalize")
uplifter = importlib.import_module(name + ".inference.pipeline.uplifter")

import cv2, onnxruntime
mediapipe = detect.import_mediapipe()[0]   # as the add-on imports it (no matplotlib in the zip: detect's stand-in)
wheel_site = Path(bpy.utils.user_resource("EXTENSIONS", path=".local")).resolve()
modules = {m.__name__: str(Path(m.__file__).resolve()) for m in (cv2, mediapipe, onnxruntime)}
foreign = {k: v for k, v in modules.items() if not v.startswith(str(wheel_site))}
assert not foreign, f"not imported from the extension's wheels in {wheel_site}: {foreign}"

options = detect.DetectOptions(end_s=0.4)
assert options.model_path.resolve().is_relative_to(ext_dir), options.model_path
det = detect.detect_video(FIXTURE, options)
lift = uplifter.Uplifter()
assert lift.model_path.resolve().is_relative_to(ext_dir), lift.model_path
result = lift.lift(normalize.normalize_landmarks(det.landmarks, det.width, det.height))
# the one-button flow of the installed extension: a movie strip -> a new armature with an Action
compat = importlib.import_module(name + ".addon.compat")
scene = bpy.context.scene
strip = compat.new_movie_strip(scene, "person", FIXTURE, 1, 1)
scene.sequence_editor.active_strip = strip
scene.uplift.use_strip_range = False
scene.uplift.frame_start, scene.uplift.frame_end = 1, 12
assert bpy.ops.uplift.animate_strip() == {"FINISHED"}
animated = [o for o in scene.objects if o.type == "ARMATURE" and o.animation_data and o.animation_data.action]
assert len(animated) == 1 and animated[0].animation_data.action.name == "person", animated
# and the headless batch command of the installed extension
batch = importlib.import_module(name + ".addon.batch")
assert batch.cli_command(["convert", FIXTURE, "-o", OUT, "--format", "blend", "--end", "0.4", "-q"]) == 0
addon_utils.disable(name, default_set=True)
print(json.dumps({"frames": int(det.landmarks.shape[0]), "detected": float(det.detected_fraction),
                  "joints": list(result.joints.shape),
                  "finite": bool(np.isfinite(result.joints[det.detected]).all()),
                  "mediapipe": mediapipe.__version__, "python": list(sys.version_info[:2])}))
"""


@pytest.mark.slow
def test_installed_zip_detects_and_lifts_with_bundled_wheels(run_py, linux_zip, repo_root, tmp_path):
    home = {"HOME": str(tmp_path)}
    assert run_py(f"ZIP = {str(linux_zip)!r}\n" + _INSTALL, timeout=300, env=home).stdout.strip().endswith("OK")
    fixture = repo_root / "tests" / "fixtures" / "person_walk.mp4"
    proc = run_py(f"FIXTURE = {str(fixture)!r}\nOUT = {str(tmp_path / 'batch')!r}\n" + _ENABLE_AND_RUN,
                  timeout=300, env=home)
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["python"] == list(sys.version_info[:2])
    assert report["frames"] >= 8, report
    assert report["detected"] >= 0.9, report
    assert report["joints"][0] == report["frames"] and report["finite"], report
    assert (tmp_path / "batch" / "person_walk.blend").stat().st_size > 10_000
