"""Add-on preferences (Edit > Preferences > Add-ons > Uplift Mocap)."""
import bpy

from . import ADDON_ID


class UPLIFT_AddonPreferences(bpy.types.AddonPreferences):
    bl_idname = ADDON_ID

    onnx_provider: bpy.props.EnumProperty(
        name="Uplifter Device",
        description="Where the uplifter network runs (ONNX Runtime)",
        items=[
            ("AUTO", "Automatic", "The fastest ONNX Runtime provider installed (CUDA, DirectML, CoreML), else the CPU"),
            ("CPU", "CPU", "Always run the uplifter on the CPU"),
        ],
        default="AUTO",
    )
    detect_device: bpy.props.EnumProperty(
        name="Pose Detection Device",
        description="Where MediaPipe detects poses",
        items=[
            ("CPU", "CPU", "Always detect on the CPU"),
            ("GPU", "GPU if available", "MediaPipe's GPU delegate (Linux, macOS); the CPU, with a warning, where it "
                                        "cannot start"),
        ],
        default="CPU",
    )
    detect_workers: bpy.props.IntProperty(
        name="Detection Processes",
        description="Pose detection runs in this many processes, each over a part of the video "
                    "(0: automatic, CPU cores - 1)",
        default=0, min=0, max=64,
    )

    def draw(self, context):
        layout = self.layout
        layout.use_property_split = True
        layout.prop(self, "onnx_provider")
        layout.prop(self, "detect_device")
        layout.prop(self, "detect_workers")
        col = layout.column(align=True)
        col.label(text=f"ONNX Runtime providers here: {', '.join(_available_providers())}")
        col.label(text="After each conversion the report says where each stage ran.")


def _available_providers() -> list[str]:
    try:
        import onnxruntime
    except ImportError:
        return ["none (onnxruntime is not installed)"]
    return [p.removesuffix("ExecutionProvider") for p in onnxruntime.get_available_providers()]


def get_preferences(context=None):
    """This add-on's preferences, or None when it is not enabled through Blender's add-on system."""
    context = context or bpy.context
    addon = context.preferences.addons.get(ADDON_ID)
    return addon.preferences if addon is not None else None


registry = [
    UPLIFT_AddonPreferences,
]
