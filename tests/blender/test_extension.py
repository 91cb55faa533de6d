"""The extension as Blender sees it: Blender's validator, the built zip (what ships, and every shipped command
run from it unpacked), installing and enabling it, and add-on registration."""
from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

def _blender_ext() -> Path:
    """Blender's extension CLI (validate/build), shipped inside the bpy wheel; found without importing bpy."""
    spec = importlib.util.find_spec("bpy")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("bpy (Blender as a module) is not installed")
    for location in spec.submodule_search_locations:
        hits = sorted(Path(location).glob("*/scripts/addons_core/bl_pkg/cli/blender_ext.py"))
        if hits:
            return hits[-1]
    pytest.fail("bpy is installed but ships no bl_pkg/cli/blender_ext.py")



@pytest.mark.bpy
def test_manifest_passes_blender_validator(repo_root):
    proc = subprocess.run([sys.executable, str(_blender_ext()), "validate", str(repo_root)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def extension_zip(repo_root, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ext")
    proc = subprocess.run([sys.executable, str(_blender_ext()), "build", "--source-dir", str(repo_root),
                           "--output-dir", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (zip_path,) = out.glob("uplift_mocap-*.zip")
    return zip_path


# Top-level entries of the extension zip: the add-on, the runtime library, the user's command line and
# the exported models. Nothing for development (dev/, tests/, docs/, tools/, build files).
ZIP_TOP_LEVEL = {"__init__.py", "blender_manifest.toml", "LICENSE", "README.md", "addon", "cli", "inference", "models"}


@pytest.mark.bpy
def test_extension_zip_ships_runtime_only(extension_zip):
    names = zipfile.ZipFile(extension_zip).namelist()
    for required in ("blender_manifest.toml", "__init__.py", "LICENSE", "addon/__init__.py", "addon/compat.py",
                     "cli/commands.py", "inference/core/skeleton.py", "inference/pipeline/run.py",
                     "models/uplifter.onnx", "models/pose_landmarker_full.task", "inference/samples/sample_walk.mp4"):
        assert required in names, required
    tops = {n.split("/")[0] for n in names}
    assert tops <= ZIP_TOP_LEVEL, f"unexpected in the zip: {sorted(tops - ZIP_TOP_LEVEL)}"
    for name in names:
        assert "__pycache__" not in name and ".egg-info/" not in name, name
        assert not (name.startswith("models/") and name.endswith(".py")), f"code under models/: {name}"
        assert "footage" not in name and "train" not in name, f"development code shipped: {name}"


@pytest.mark.bpy
@pytest.mark.slow
def test_every_shipped_command_runs_from_the_unpacked_zip(extension_zip, tmp_path):
    """Unpacked alone (no checkout on the path), the shipped package answers every ``uplift`` command."""
    site = tmp_path / "site"
    zipfile.ZipFile(extension_zip).extractall(site / "uplift_mocap")
    pkg = site / "uplift_mocap"
    env = {**os.environ, "PYTHONPATH": str(site)}

    def uplift(*args, timeout=300):
        code = ("import sys, uplift_mocap; from uplift_mocap.cli import main\n"
                f"assert uplift_mocap.__file__.startswith({str(site)!r}), uplift_mocap.__file__\n"
                "sys.exit(main(sys.argv[1:]))")
        return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                              timeout=timeout, env=env, cwd=tmp_path)

    helps = uplift("--help")
    assert helps.returncode == 0, helps.stderr
    commands = sorted(set(re.findall(r"^    ([a-z][a-z-]+)\s", helps.stdout, re.M)))
    assert {"convert", "lift", "demo", "data-check"} <= set(commands), helps.stdout
    assert not {"evaluate", "eval-footage", "bench", "train"} & set(commands), "development commands shipped"
    for command in commands:
        proc = uplift(command, "--help")
        assert proc.returncode == 0 and "usage:" in proc.stdout, (command, proc.stderr)
    proc = uplift("data-check", pkg / "inference" / "samples")
    assert proc.returncode == 0 and "FILES_OK=1" in proc.stdout, proc.stdout + proc.stderr
    video = pkg / "inference" / "samples" / "sample_walk.mp4"
    proc = uplift("convert", video, "-o", tmp_path / "converted", "--end", "1.5", "--format", "bvh,json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(p.suffix for p in (tmp_path / "converted").iterdir()) == [".bvh", ".json"]
    landmarks = tmp_path / "walk_landmarks.npz"                 # what `lift` reads: saved detections
    detect = ("import sys; from uplift_mocap.inference.pipeline import detect as d\n"
              "d.detect_video(sys.argv[1], d.DetectOptions(end_s=1.0)).save_npz(sys.argv[2])")
    subprocess.run([sys.executable, "-c", detect, str(video), str(landmarks)], check=True, env=env, timeout=300)
    proc = uplift("lift", landmarks, "-o", tmp_path / "lifted.bvh")
    assert proc.returncode == 0 and (tmp_path / "lifted.bvh").is_file(), proc.stdout + proc.stderr
    proc = uplift("demo", timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# --- Blender registration ---------------------------------------------------------------------

_REGISTER_ROUND_TRIP = r"""
import bpy
import addon_utils  # importable once bpy has set up its script paths

# Through Blender's add-on system (legacy module name), as a user would enable it.
addon_utils.enable("uplift_mocap", default_set=True)
addons = bpy.context.preferences.addons
assert "uplift_mocap" in addons.keys(), addons.keys()
prefs = addons["uplift_mocap"].preferences
assert type(prefs).__name__ == "UPLIFT_AddonPreferences", type(prefs)
assert prefs.onnx_provider == "AUTO"
prefs.onnx_provider = "CPU"
from uplift_mocap.addon.preferences import get_preferences
assert get_preferences().onnx_provider == "CPU"
addon_utils.disable("uplift_mocap", default_set=True)
assert "uplift_mocap" not in addons.keys()

# Direct register()/unregister(), twice (re-registration must not raise).
import uplift_mocap
from uplift_mocap.addon.preferences import UPLIFT_AddonPreferences as P
assert P.bl_idname == "uplift_mocap"
for _ in range(2):
    uplift_mocap.register()
    assert P.is_registered
    uplift_mocap.unregister()
    assert not P.is_registered
print("OK")
"""


@pytest.mark.bpy
def test_addon_register_unregister_round_trip(run_py):
    _blender_ext()  # skips without bpy
    assert run_py(_REGISTER_ROUND_TRIP, timeout=120).stdout.strip().endswith("OK")


_INSTALL_EXTENSION = r"""
import sys, bpy, addon_utils, importlib
result = bpy.ops.extensions.package_install_files(filepath=ZIP, repo="user_default",
                                                  enable_on_install=True)
assert result == {"FINISHED"}, result
name = "bl_ext.user_default.uplift_mocap"
addons = bpy.context.preferences.addons
assert name in addons.keys(), addons.keys()
prefs = addons[name].preferences
assert type(prefs).bl_idname == name and prefs.onnx_provider == "AUTO"
skeleton = importlib.import_module(name + ".inference.core.skeleton")
assert "/extensions/user_default/uplift_mocap/" in skeleton.__file__, skeleton.__file__
# The installed extension must not reach for the development package by its absolute name.
assert "uplift_mocap" not in sys.modules, "extension imported the absolute package uplift_mocap"
addon_utils.disable(name, default_set=True)
assert not type(prefs).is_registered
print("OK")
"""


@pytest.mark.bpy
def test_extension_zip_installs_and_enables_in_blender(run_py, extension_zip):
    _blender_ext()  # skips without bpy
    code = f"ZIP = {str(extension_zip)!r}\n" + _INSTALL_EXTENSION
    assert run_py(code, timeout=120).stdout.strip().endswith("OK")
