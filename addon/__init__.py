"""Blender side of Uplift Mocap: the only package that imports bpy/mathutils.

Each submodule lists its bpy classes in ``registry`` (registered in order, unregistered in reverse)
and may define ``register()``/``unregister()`` for extra setup (properties, handlers) run after its
classes are registered and before they are unregistered. Add new submodules to ``_modules()``.
"""
import importlib

import bpy

# Root package name: "uplift_mocap" when imported as a plain package or legacy add-on,
# "bl_ext.<repo>.uplift_mocap" when loaded as an extension. AddonPreferences.bl_idname must equal it.
ADDON_ID = __package__.rpartition(".")[0]

_MODULE_NAMES = (
    "preferences",
    "settings",
    "operators",
    "people_list",
    "exports",
    "panels",
    "batch",
)


def _modules():
    return [importlib.import_module(f".{name}", __package__) for name in _MODULE_NAMES]


def register():
    for module in _modules():
        for cls in getattr(module, "registry", ()):
            bpy.utils.register_class(cls)
        if hasattr(module, "register"):
            module.register()


def unregister():
    for module in reversed(_modules()):
        if hasattr(module, "unregister"):
            module.unregister()
        for cls in reversed(getattr(module, "registry", ())):
            if cls.is_registered:
                bpy.utils.unregister_class(cls)
