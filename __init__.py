"""Uplift Mocap: turn video of a person into keyframed skeletal animation.

This directory is both the Python package ``uplift_mocap`` (numpy-only ``inference``, the ``uplift``
CLI) and the Blender extension (``bl_ext.<repo>.uplift_mocap``). Nothing here imports bpy at import
time: the Blender side (``addon``) is imported only inside ``register``/``unregister``.
"""

__version__ = "0.1.0"


def register():
    """Blender entry point: register the add-on's classes (imports bpy)."""
    from . import addon

    addon.register()


def unregister():
    """Blender entry point: unregister everything ``register`` added."""
    from . import addon

    addon.unregister()
