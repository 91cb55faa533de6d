"""Build the per-platform Blender extension zips, with the run-time wheels bundled.

    python tools/package_extension.py [--platform linux-x64 ...] [--output-dir dist]

For every platform and every Blender Python (3.11: Blender 4.2-5.0, 3.13: Blender 5.1+) the wheels in
``requirements/extension.txt`` are fetched with ``pip download --only-binary=:all: --no-deps`` into the
git-ignored ``wheels/`` cache (``wheels/lock.json`` remembers which files each set resolved to, so a
warm cache needs no network). The repository's own ``blender_manifest.toml`` stays wheel-free (a
plain checkout is a valid extension); the build happens in a staging copy, ``build/package/``, whose
manifest gains ``platforms`` and ``wheels`` (exactly the wheels staged beside it). Blender's own
validator checks that copy, then Blender's builder (``--split-platforms``) writes one zip per
platform, ``<id>-<version>-<platform>.zip`` with ``_`` in the platform (``linux_x64``), each holding
only its own platform's wheels for both Pythons.

Exit status: 0 built, 1 failed, 3 the wheels are not cached and the package index is unreachable.
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / "requirements" / "extension.txt"
PYTHONS = ("3.11", "3.13")
# Blender platform -> pip --platform tags. pip expands a macOS tag to older macOS releases and
# universal2, and manylinux2014 to manylinux2010/1, but not manylinux_2_28 to older glibc tags.
# glibc 2.28 is Blender's own minimum on Linux.
PLATFORMS = {
    "linux-x64": ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"),
    "windows-x64": ("win_amd64",),
    "macos-arm64": ("macosx_14_0_arm64",),
}
# Per-platform replacements of requirements/extension.txt lines (distribution name -> requirement). Windows gets
# ONNX Runtime's DirectML build: the same ``onnxruntime`` module with DmlExecutionProvider, which runs on any
# DirectX 12 GPU (1.24.4 is its newest release; our model is opset 17). macOS's standard wheel has CoreML.
PLATFORM_REQUIREMENTS = {"windows-x64": {"onnxruntime": "onnxruntime-directml==1.24.4"}}
# Never copied into the staging tree (caches, build outputs, virtual environments, VCS).
STAGE_IGNORE = shutil.ignore_patterns(".*", "__pycache__", "*.egg-info", "wheels", "dist", "build",
                                      "outputs", "*.zip")
EXIT_OFFLINE = 3


class OfflineError(RuntimeError):
    """The wheels are not in the cache and the package index cannot be reached."""


def blender_ext() -> Path | None:
    """Blender's extension CLI (validate/build) from this interpreter's bpy wheel; None without bpy."""
    spec = importlib.util.find_spec("bpy")
    for location in (spec.submodule_search_locations or []) if spec else []:
        hits = sorted(Path(location).glob("*/scripts/addons_core/bl_pkg/cli/blender_ext.py"))
        if hits:
            return hits[-1]
    return None


def zip_path(platform: str, output_dir: Path) -> Path:
    """Where Blender's builder (--split-platforms) writes the zip for ``platform``."""
    manifest = tomllib.loads((ROOT / "blender_manifest.toml").read_text())
    return output_dir / f"{manifest['id']}-{manifest['version']}-{platform.replace('-', '_')}.zip"


def _index_reachable(host: str = "pypi.org", timeout: float = 5.0) -> bool:
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def fetch_wheels(platform: str, python: str, wheels_dir: Path) -> list[str]:
    """Wheel file names (in ``wheels_dir``) of requirements/extension.txt for one platform and Python."""
    requirements = platform_requirements(platform).encode()
    key = f"{platform}/cp{python.replace('.', '')}"
    digest = hashlib.sha256(requirements + repr(PLATFORMS[platform]).encode()).hexdigest()
    lock_path = wheels_dir / "lock.json"
    lock = json.loads(lock_path.read_text()) if lock_path.is_file() else {}
    entry = lock.get(key)
    if entry and entry["requirements_sha256"] == digest and all((wheels_dir / f).is_file() for f in entry["files"]):
        return entry["files"]

    wheels_dir.mkdir(parents=True, exist_ok=True)
    req_file = wheels_dir / f"requirements-{platform}.txt"
    req_file.write_bytes(requirements)
    cmd = [sys.executable, "-m", "pip", "download", "--only-binary=:all:", "--no-deps",
           "--implementation", "cp", "--python-version", python, "--dest", str(wheels_dir),
           "--requirement", str(req_file), "--progress-bar", "off"]
    for tag in PLATFORMS[platform]:
        cmd += ["--platform", tag]
    print(f"fetching wheels for {key} ...", flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        if not _index_reachable():
            raise OfflineError(f"wheels for {key} are not cached in {wheels_dir} and pypi.org is unreachable")
        raise RuntimeError(f"pip download failed for {key}:\n{proc.stdout}\n{proc.stderr}")
    files = sorted({Path(m).name for m in re.findall(r"(?:Saved|File was already downloaded) (\S+\.whl)",
                                                         proc.stdout)})
    expected = [line.split("==")[0].strip() for line in requirements.decode().splitlines()
                if line.strip() and not line.lstrip().startswith("#")]
    names = {_normalise(f.split("-")[0]) for f in files}
    missing = [r for r in expected if _normalise(r) not in names]
    if missing:
        raise RuntimeError(f"pip download for {key} reported no wheel for {missing}:\n{proc.stdout}")
    lock[key] = {"requirements_sha256": digest, "files": files}
    lock_path.write_text(json.dumps(lock, indent=1, sort_keys=True) + "\n")
    return files


def platform_requirements(platform: str) -> str:
    """requirements/extension.txt with ``PLATFORM_REQUIREMENTS[platform]``'s replacements applied."""
    swaps = {_normalise(k): v for k, v in PLATFORM_REQUIREMENTS.get(platform, {}).items()}
    lines = []
    for line in REQUIREMENTS.read_text().splitlines():
        name = re.split(r"[=<>!~ ;\[]", line.strip(), maxsplit=1)[0]
        lines.append(swaps.get(_normalise(name), line) if name and not line.lstrip().startswith("#") else line)
    return "\n".join(lines) + "\n"


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def stage(platforms: list[str], wheel_files: list[str], wheels_dir: Path, stage_dir: Path) -> Path:
    """Copy the source tree to ``stage_dir`` with the given wheels and a manifest listing them."""
    if stage_dir.exists():
        shutil.rmtree(stage_dir)
    shutil.copytree(ROOT, stage_dir, ignore=STAGE_IGNORE)
    (stage_dir / "wheels").mkdir()
    for name in wheel_files:
        try:
            os.link(wheels_dir / name, stage_dir / "wheels" / name)
        except OSError:
            shutil.copy2(wheels_dir / name, stage_dir / "wheels" / name)
    manifest = stage_dir / "blender_manifest.toml"
    manifest.write_text(manifest_with_wheels(manifest.read_text(), platforms,
                                             [f"./wheels/{n}" for n in wheel_files]))
    return stage_dir


def manifest_with_wheels(text: str, platforms: list[str], wheels: list[str]) -> str:
    """The manifest ``text`` with top-level ``platforms`` and ``wheels`` inserted before its first table."""
    if re.search(r"^\s*(platforms|wheels)\s*=", text, re.M):
        raise ValueError("the source blender_manifest.toml must not list platforms or wheels itself")
    generated = ("# Generated by tools/package_extension.py (the source manifest lists no wheels).\n"
                 f"platforms = {json.dumps(platforms)}\n"
                 "wheels = [\n" + "".join(f"  {json.dumps(w)},\n" for w in wheels) + "]\n\n")
    table = re.search(r"^\[", text, re.M)
    at = table.start() if table else len(text)
    result = text[:at] + generated + text[at:]
    tomllib.loads(result)  # still valid TOML
    return result


def run_blender_ext(*args: str) -> None:
    cli = blender_ext()
    if cli is None:
        raise RuntimeError(f"{sys.executable} has no bpy with bl_pkg/cli/blender_ext.py (run `make venv`)")
    proc = subprocess.run([sys.executable, str(cli), *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"blender_ext.py {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    print(proc.stdout.strip())


def build(platforms: list[str], output_dir: Path, wheels_dir: Path, stage_dir: Path) -> list[Path]:
    """Fetch, stage, validate and build; returns the zips written to ``output_dir``."""
    wheel_files = sorted({f for p in platforms for py in PYTHONS for f in fetch_wheels(p, py, wheels_dir)})
    stage(platforms, wheel_files, wheels_dir, stage_dir)
    run_blender_ext("validate", str(stage_dir))
    output_dir.mkdir(parents=True, exist_ok=True)
    run_blender_ext("build", "--split-platforms", "--source-dir", str(stage_dir), "--output-dir", str(output_dir))
    zips = [zip_path(p, output_dir) for p in platforms]
    for path in zips:
        if not path.is_file():
            raise RuntimeError(f"Blender's builder did not write {path}")
        print(f"{path}  {path.stat().st_size / 2**20:.1f} MiB")
    return zips


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--platform", action="append", choices=sorted(PLATFORMS),
                        help="build only this platform (repeatable; default: all)")
    parser.add_argument("--output-dir", type=Path, default=ROOT / "dist")
    parser.add_argument("--wheels-dir", type=Path, default=ROOT / "wheels")
    parser.add_argument("--stage-dir", type=Path, default=ROOT / "build" / "package")
    args = parser.parse_args(argv)
    platforms = args.platform or list(PLATFORMS)
    try:
        build(platforms, args.output_dir.resolve(), args.wheels_dir.resolve(), args.stage_dir.resolve())
    except OfflineError as err:
        print(f"offline: {err}", file=sys.stderr)
        return EXIT_OFFLINE
    except RuntimeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
