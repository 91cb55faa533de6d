"""Importing MediaPipe's Tasks API the way this project runs it.

* protobuf >= 5 lacks ``MessageFactory.GetPrototype``, which mediapipe 0.10.21 looks up once at import: it is put
  back (``PROTOBUF_OK`` says whether that happened in time; import this module before mediapipe).
* Without matplotlib (the Blender zip does not bundle it) a stand-in takes its place while MediaPipe imports.
* ``gpu_fallback_note``: the one line shown when MediaPipe's GPU delegate cannot start.
"""
from __future__ import annotations

import sys
import types


def _patch_protobuf() -> bool:
    """Give protobuf >= 5 back ``MessageFactory.GetPrototype`` (as the alias it was).

    mediapipe 0.10.21's pybind11_protobuf looks it up once, when mediapipe is imported; without it
    every options proto fails to convert (``TypeError: create(): incompatible function arguments``).
    onnx needs protobuf >= 6.31, mediapipe declares < 5, so the project runs mediapipe on the newer
    one. Returns False when mediapipe was imported before this patch (too late to take effect).
    """
    try:
        from google.protobuf import message_factory
    except ImportError:  # no protobuf, so no mediapipe either: PoseDetector will say so
        return True
    factory = message_factory.MessageFactory
    if hasattr(factory, "GetPrototype"):
        return True
    factory.GetPrototype = lambda self, descriptor: message_factory.GetMessageClass(descriptor)
    return "mediapipe" not in sys.modules


PROTOBUF_OK = _patch_protobuf()  # at import, so importing this module first is enough


class _PlottingStandIn(types.ModuleType):
    """What ``matplotlib.pyplot`` is to MediaPipe when matplotlib is not installed: its vision package imports
    it for a plotting helper (``drawing_utils.plot_landmarks``) that pose detection never calls."""

    def __getattr__(self, name):
        raise ImportError(f"matplotlib is not installed (MediaPipe's plotting helpers need it, for {name!r})")


def import_mediapipe():
    """Import MediaPipe's Tasks API; without matplotlib (the Blender zip does not bundle it: ~40 MB for a plotting
    helper), a stand-in takes its place while MediaPipe imports and is removed again, so anything else importing
    matplotlib still finds it missing."""
    stand_in = {}
    try:
        import matplotlib.pyplot  # noqa: F401 - MediaPipe imports it anyway when it is there
    except ImportError:
        stand_in = {"matplotlib": _PlottingStandIn("matplotlib"), "matplotlib.pyplot": _PlottingStandIn("pyplot")}
        stand_in["matplotlib"].pyplot = stand_in["matplotlib.pyplot"]
    previous = {k: sys.modules.get(k) for k in stand_in}
    sys.modules.update(stand_in)
    try:
        import mediapipe
        from mediapipe.tasks.python import vision
        from mediapipe.tasks.python.core.base_options import BaseOptions
    finally:
        for k, v in previous.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v
    return mediapipe, vision, BaseOptions


def gpu_fallback_note(err: BaseException) -> str:
    """The one-line message when MediaPipe's GPU delegate cannot start (``err``) and the CPU is used."""
    reason = " ".join(str(err).split()) or type(err).__name__
    reason = reason if len(reason) <= 100 else reason[:99] + "…"
    if "kGpuService" in str(err) or "EGL" in str(err):
        reason = "no OpenGL ES / EGL GPU context could be created"
    if sys.platform == "win32":
        reason = "MediaPipe has no GPU delegate on Windows"
    return f"pose detection: MediaPipe's GPU delegate is not available here ({reason}); ran on the CPU"
