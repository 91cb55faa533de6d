"""Add-on preferences (Edit > Preferences > Add-ons > Uplift Mocap)."""
import bpy

from . import ADDON_ID


class UPLIFT_AddonPreferences(bpy.types.AddonPreferences):
    bl_idname = ADDON_ID

    onnx_provider: bpy.props.EnumProperty(
        name="Inference Device",
        description="ONNX Runtime execution provider used to run the pose models",
        items=[
            ("AUTO", "Automatic", "Use the fastest available provider (GPU when present, else CPU)"),
            ("CPU", "CPU", "Always run on the CPU"),
        ],
        default="AUTO",
    )

    def draw(self, context):
        layout = self.layout
        layout.use_property_split = True
        layout.prop(self, "onnx_provider")


def get_preferences(context=None):
    """This add-on's preferences, or None when it is not enabled through Blender's add-on system."""
    context = context or bpy.context
    addon = context.preferences.addons.get(ADDON_ID)
    return addon.preferences if addon is not None else None


registry = [
    UPLIFT_AddonPreferences,
]
