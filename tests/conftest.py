"""Shared fixtures: repository paths, the staged mocap data, the real validation clip, and a subprocess runner for bpy tests."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository root, i.e. the directory of the ``uplift_mocap`` package."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_data(repo_root) -> Path:
    """``../shared/data`` (gzip BVH mocap); skips the test when the clone has none beside it."""
    path = repo_root.parent / "shared" / "data"
    if not path.is_dir():
        pytest.skip("../shared/data not present: clone has no staged mocap")
    return path


@pytest.fixture(scope="session")
def real_dir(repo_root) -> Path:
    """``../shared/real`` (the real 4-camera clip, its reference and scorer); skips the test without it."""
    path = repo_root.parent / "shared" / "real"
    if not (path / "score.py").is_file():
        pytest.skip("../shared/real not present: clone has no real validation footage")
    return path


@pytest.fixture
def three_accad_files(shared_data, tmp_path) -> Path:
    """A tmp data folder with 3 ACCAD BVH files copied from ``../shared/data`` (tiny training runs)."""
    import shutil

    data = tmp_path / "data"
    picks = sorted((shared_data / "accad").rglob("*.bvh.gz"))[:3]
    if len(picks) < 3:
        pytest.skip("no ACCAD files in ../shared/data")
    for p in picks:
        (data / p.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copy(p, data / p.parent.name / p.name)
    return data


def _run_py(code: str, timeout: float = 120, *, env: dict | None = None,
            cwd: str | os.PathLike | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``code`` with this interpreter (the venv python) in a fresh process.

    HOME points at a fresh temporary directory, so Blender (bpy) reads and writes no user config;
    the working directory is that directory too unless ``cwd`` is given. With ``check`` a non-zero
    exit raises AssertionError carrying stdout and stderr.
    """
    with tempfile.TemporaryDirectory(prefix="uplift-test-") as home:
        full_env = {**os.environ, "HOME": home, "PYTHONDONTWRITEBYTECODE": "1", **(env or {})}
        proc = subprocess.run([sys.executable, "-c", code], cwd=cwd or home, env=full_env,
                              capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"subprocess exited with {proc.returncode}\n--- stdout ---\n{proc.stdout}"
                             f"\n--- stderr ---\n{proc.stderr}")
    return proc


@pytest.fixture(scope="session")
def run_py():
    """``run_py(code, timeout=120, env=None, cwd=None, check=True) -> CompletedProcess``."""
    return _run_py
