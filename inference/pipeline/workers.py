"""Worker processes that run a function of this package, whatever the package is called.

``start_worker("inference.pipeline.detect_worker", args, log)`` starts the interpreter running us (inside
Blender: its bundled Python) on a tiny bootstrap that loads this package from its folder under a private
name and calls ``worker_main(args)`` of that module (``args``: a JSON-able dict). So it works for
``uplift_mocap`` installed with pip and for Blender's ``bl_ext.<repo>.uplift_mocap`` alike, where
``multiprocessing`` could not import the caller's module by name. The worker's stdout is a pipe (for
progress lines), its stderr goes to ``log`` (a binary file), stdin is closed.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parents[2]
_BOOT = ("import importlib, importlib.util, json, sys\n"
         "a = json.loads(sys.argv[1])\n"
         "sys.path[:0] = a['sys_path']\n"
         "spec = importlib.util.spec_from_file_location('_uplift_worker', a['root'] + '/__init__.py',"
         " submodule_search_locations=[a['root']])\n"
         "m = importlib.util.module_from_spec(spec)\n"
         "sys.modules['_uplift_worker'] = m\n"
         "spec.loader.exec_module(m)\n"
         "importlib.import_module('_uplift_worker.' + a['module']).worker_main(a)\n")


def python_executable() -> str:
    """The Python interpreter to start workers with (inside Blender: its bundled Python); RuntimeError if none."""
    exe = Path(sys.executable)
    if exe.name.lower().startswith("python"):
        return str(exe)
    for cand in sorted(Path(sys.prefix).glob("bin/python3*")) + [Path(sys.prefix) / "python.exe"]:
        if cand.is_file():
            return str(cand)
    raise RuntimeError(f"no Python interpreter to start worker processes with (sys.executable={exe})")


def start_worker(module: str, args: dict, log) -> subprocess.Popen:
    """Run ``<package>.<module>.worker_main(args)`` in a new process (see the module docstring)."""
    full = {**args, "module": module, "root": str(PACKAGE_ROOT), "sys_path": [p for p in sys.path if p]}
    return subprocess.Popen([python_executable(), "-c", _BOOT, json.dumps(full)], stdout=subprocess.PIPE,
                            stderr=log, stdin=subprocess.DEVNULL,
                            creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0))


def last_error_line(log) -> str:
    """The last Python exception line (``SomethingError: ...``) in a worker's binary ``log`` file, or ""."""
    log.flush()
    log.seek(0)
    lines = [ln.strip() for ln in log.read().decode("utf-8", "replace").splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.split(":")[0].endswith(("Error", "Exception", "Interrupt"))]
    return errors[-1][:300] if errors else ""


def ended_how(returncode: int | None) -> str:
    """How a worker process ended, in words."""
    if returncode is not None and returncode < 0:
        return f"was killed by signal {-returncode}"
    return "ended without writing its result" if returncode == 0 else f"stopped with exit code {returncode}"
