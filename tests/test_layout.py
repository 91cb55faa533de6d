"""Repository layout: manifest and versions, the installed package, the CLI entry point (import boundaries:
test_architecture.py; the built extension: blender/test_extension.py)."""
from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path


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


def test_package_and_cli_import_without_bpy_or_torch(run_py):
    proc = run_py(
        "import json, sys\n"
        "import uplift_mocap, uplift_mocap.inference, uplift_mocap.cli.commands\n"
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
    from uplift_mocap.cli import commands as cli

    assert cli.main([]) == 2
    assert "data-check" in capsys.readouterr().err


def test_cli_data_check_dispatches_to_datacheck_run(monkeypatch, tmp_path):
    """`uplift data-check DIR --offsets` calls cli.datacheck.run(Path(DIR), offsets=True)."""
    import types

    from uplift_mocap.cli import commands as cli

    calls = []
    fake = types.ModuleType("uplift_mocap.cli.datacheck")
    fake.run = lambda path, offsets=False: calls.append((path, offsets)) or 3
    monkeypatch.setitem(sys.modules, "uplift_mocap.cli.datacheck", fake)
    import uplift_mocap.cli as cli_pkg
    monkeypatch.setattr(cli_pkg, "datacheck", fake, raising=False)

    assert cli.main(["data-check", str(tmp_path), "--offsets"]) == 3
    assert cli.main(["data-check", str(tmp_path)]) == 3
    assert calls == [(tmp_path, True), (tmp_path, False)]
