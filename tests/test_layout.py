"""Repository layout: manifest, packaging, import boundaries, CLI entry point, add-on registration."""
from __future__ import annotations

import ast
import importlib.util
import json
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

FORBIDDEN_IN_INFERENCE = {"bpy", "bmesh", "bpy_extras", "mathutils", "gpu", "torch"}
PROJECT_SUBPACKAGES = {"inference", "addon", "models", "cli"}


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


def _py_files(root: Path):
    return sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def _imported_modules(path: Path):
    """Yield (lineno, level, dotted name) for every import in ``path``; level > 0 for relative imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, 0, alias.name
        elif isinstance(node, ast.ImportFrom):
            yield node.lineno, node.level, node.module or ""


# --- manifest and packaging -------------------------------------------------------------------

def test_versions_and_manifest_fields_agree(repo_root):
    import uplift_mocap

    manifest = tomllib.loads((repo_root / "blender_manifest.toml").read_text())
    project = tomllib.loads((repo_root / "pyproject.toml").read_text())["project"]
    assert manifest["id"] == "uplift_mocap"
    assert manifest["version"] == project["version"] == uplift_mocap.__version__
    assert manifest["type"] == "add-on"
    assert len(manifest["tagline"]) <= 64 and manifest["tagline"][-1] not in ".!?,;:"
    assert manifest["license"] == ["SPDX:GPL-3.0-or-later"]
    assert set(manifest["permissions"]) == {"files"}, "the extension must not ask for network access"
    assert "GNU GENERAL PUBLIC LICENSE" in (repo_root / "LICENSE").read_text()[:200]


def test_installed_package_is_this_checkout(repo_root):
    import uplift_mocap

    where = Path(uplift_mocap.__file__).resolve()
    assert where == repo_root / "__init__.py", (
        f"uplift_mocap imports from {where}, not this checkout; run `make venv` "
        "(pip install -e . --no-deps)")


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


@pytest.mark.bpy
def test_extension_zip_ships_runtime_only(extension_zip):
    names = zipfile.ZipFile(extension_zip).namelist()
    for required in ("blender_manifest.toml", "__init__.py", "LICENSE", "addon/__init__.py",
                     "addon/preferences.py", "inference/__init__.py", "inference/skeleton.py"):
        assert required in names
    banned_prefixes = (".venv/", ".git/", ".ci/", "tests/", "docs/", "data/", "dist/", "build/", "outputs/")
    for name in names:
        assert not name.startswith(banned_prefixes), name
        assert "__pycache__" not in name and ".egg-info/" not in name, name
        assert not (name.startswith("models/") and name.endswith(".py")), f"training code shipped: {name}"
        assert name not in ("Makefile", "pyproject.toml", "requirements.txt"), name


# --- import boundaries ------------------------------------------------------------------------

def test_inference_has_no_blender_or_torch_imports(repo_root):
    files = _py_files(repo_root / "inference")
    assert files, "inference/ has no Python files"
    bad = []
    for path in files:
        for lineno, level, name in _imported_modules(path):
            top = name.split(".")[0]
            if level == 0 and top in FORBIDDEN_IN_INFERENCE:
                bad.append(f"{path.relative_to(repo_root)}:{lineno}: import {name}")
            # Relative imports that climb out of inference/ into addon/ (bpy) or models/ (torch).
            if level >= 2 and top in {"addon", "models"}:
                bad.append(f"{path.relative_to(repo_root)}:{lineno}: from {'.' * level}{name}")
            if level == 0 and name.startswith(("uplift_mocap.addon", "uplift_mocap.models")):
                bad.append(f"{path.relative_to(repo_root)}:{lineno}: import {name}")
    assert not bad, "inference/ must stay free of bpy/mathutils/torch:\n" + "\n".join(bad)


def test_project_imports_are_relative(repo_root):
    """Inside the package, `import inference` (absolute) breaks once installed as bl_ext.*.uplift_mocap."""
    files = [repo_root / "__init__.py", repo_root / "cli.py"]
    for sub in ("inference", "addon", "models"):
        files += _py_files(repo_root / sub)
    bad = []
    for path in files:
        for lineno, level, name in _imported_modules(path):
            top = name.split(".")[0]
            if level == 0 and (top in PROJECT_SUBPACKAGES or top == "uplift_mocap"):
                bad.append(f"{path.relative_to(repo_root)}:{lineno}: import {name}")
    assert not bad, "use relative imports inside the package:\n" + "\n".join(bad)


def test_package_and_cli_import_without_bpy_or_torch(run_py):
    proc = run_py(
        "import json, sys\n"
        "import uplift_mocap, uplift_mocap.inference, uplift_mocap.cli\n"
        "print(json.dumps(sorted(m for m in ('bpy', 'torch', 'mathutils') if m in sys.modules)))\n",
        timeout=60)
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []


# --- CLI --------------------------------------------------------------------------------------

def test_uplift_console_script_prints_version():
    import uplift_mocap

    script = Path(sys.executable).parent / "uplift"
    assert script.exists(), f"{script} missing; run `make venv` (pip install -e . --no-deps)"
    proc = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"uplift {uplift_mocap.__version__}"


def test_cli_without_command_prints_usage_and_fails(capsys):
    from uplift_mocap import cli

    assert cli.main([]) == 2
    assert "data-check" in capsys.readouterr().err


def test_cli_data_check_dispatches_to_datacheck_run(monkeypatch, tmp_path):
    """`uplift data-check DIR --offsets` calls inference.datacheck.run(Path(DIR), offsets=True)."""
    import types

    from uplift_mocap import cli

    calls = []
    fake = types.ModuleType("uplift_mocap.inference.datacheck")
    fake.run = lambda path, offsets=False: calls.append((path, offsets)) or 3
    monkeypatch.setitem(sys.modules, "uplift_mocap.inference.datacheck", fake)
    import uplift_mocap.inference as inference_pkg
    monkeypatch.setattr(inference_pkg, "datacheck", fake, raising=False)

    assert cli.main(["data-check", str(tmp_path), "--offsets"]) == 3
    assert cli.main(["data-check", str(tmp_path)]) == 3
    assert calls == [(tmp_path, True), (tmp_path, False)]


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
skeleton = importlib.import_module(name + ".inference.skeleton")
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
