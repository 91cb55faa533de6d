"""Every test under tests/blender drives Blender (bpy, in subprocesses or in-process): marked ``bpy``
here, and skipped with a clear reason where the bpy module is not installed."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_HERE = Path(__file__).resolve().parent
_NO_BPY = importlib.util.find_spec("bpy") is None


def pytest_collection_modifyitems(config, items):
    for item in items:
        if _HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.bpy)
            if _NO_BPY:
                item.add_marker(pytest.mark.skip(reason="bpy (Blender as a module) not installed"))
