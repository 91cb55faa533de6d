"""Tests that drive Blender (bpy) in subprocesses through the ``run_py`` fixture of tests/conftest.py.

Written against the version shim ``addon.compat`` so they run unchanged on bpy 4.2 ... 5.2.
"""
