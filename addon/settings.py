"""Per-scene settings of "Animate from Strip" (``scene.uplift``), shown in the Sequencer's Uplift tab."""
import bpy

from ..inference.retarget.presets import PRESET_LABELS, PRESETS
from . import compat
from .animate import AUTO_MAPPING


def preset_items():
    """EnumProperty items: automatic first, then every preset of ``retarget.presets.PRESETS``."""
    items = [(AUTO_MAPPING, "Automatic", "The mapping saved on the armature, else guessed from its bone names")]
    items += [(k, PRESET_LABELS[k], f"Bone names of the {PRESET_LABELS[k]} preset") for k in PRESETS]
    return items


def _is_armature(_self, obj) -> bool:
    return obj.type == "ARMATURE"


_ARMATURE_POLL = compat.pointer_poll(_is_armature)


class UPLIFT_PG_person(bpy.types.PropertyGroup):
    """One person of "Find People" (``people_list``): ``number`` as ``person`` takes it (most present first), which
    is also their place in the list, so the list picks ``person`` itself."""
    number: bpy.props.IntProperty(name="Person")
    coverage: bpy.props.FloatProperty(name="On Screen", subtype="FACTOR", description="Share of the frames with them")
    height: bpy.props.FloatProperty(name="Height", subtype="FACTOR",
                                    description="Their median height, as a share of the image's")
    first_s: bpy.props.FloatProperty(name="First Seen", unit="TIME_ABSOLUTE", description="Seconds into the strip")
    picture: bpy.props.StringProperty(name="Picture", description="Key of their picture in the add-on's previews")


class UPLIFT_PG_settings(bpy.types.PropertyGroup):
    target: bpy.props.EnumProperty(
        name="Target",
        items=[("NEW", "New Armature", "Create the Uplift armature, sized to the detected body"),
               ("EXISTING", "Existing Armature", "Retarget onto an armature of this scene")],
        default="NEW")
    armature: bpy.props.PointerProperty(
        name="Armature", type=bpy.types.Object, **_ARMATURE_POLL,
        description="The rig to animate (its bones are mapped to the Uplift skeleton)")
    preset: bpy.props.EnumProperty(name="Bone Mapping", items=preset_items(),
                                   description="How the Uplift joints map to the rig's bones")
    use_strip_range: bpy.props.BoolProperty(
        name="Whole Strip", default=True, description="Convert the strip's visible frames; off: the range below")
    frame_start: bpy.props.IntProperty(name="Start", default=1, description="First scene frame to convert")
    frame_end: bpy.props.IntProperty(name="End", default=250, description="Last scene frame to convert")
    smoothing: bpy.props.FloatProperty(
        name="Smoothing", default=0.5, min=0.0, max=1.0, subtype="FACTOR",
        description="Temporal smoothing of the motion (0 = off, 1 = strongest)")
    in_place: bpy.props.BoolProperty(
        name="In Place", default=False, description="Keep the character in place (vertical root motion only)")
    plant_feet: bpy.props.BoolProperty(
        name="Plant Feet", default=True,
        description="Keep a foot that stands on the floor from sliding (off: the root follows the lifted motion only)")
    hands: bpy.props.BoolProperty(
        name="Hands", default=True,
        description="Track both hands and key the fingers (thumb, index, middle, ring, pinky) where the rig has "
                    "finger bones; adds a second, lighter pass over the video")
    everyone: bpy.props.BoolProperty(
        name="Everyone", default=False,
        description="Convert every person seen, each onto a new armature with its own Action (named after the strip "
                    "and the person's number, most present first); one detection pass")
    person: bpy.props.IntProperty(
        name="Person", default=-1, min=-1, soft_max=9,
        description="Who to convert when the video shows several people: -1 follows the largest one; 0, 1, ... the "
                    "people seen, most present first (the report after a conversion says how many there were)")
    people: bpy.props.CollectionProperty(type=UPLIFT_PG_person)
    people_source: bpy.props.StringProperty(
        description="The strip and range the people list was found in (a list for another strip is not shown)")
    camera_motion: bpy.props.EnumProperty(
        name="Camera",
        items=[("AUTO", "Automatic", "Find out whether the camera travels with the actor; if it does, the root's "
                                    "travel comes from the planted feet"),
               ("STATIC", "Static", "The camera never moves: the root follows the person's place in the image"),
               ("MOVING", "Moving", "The camera travels with the actor: the root's travel comes from the feet")],
        default="AUTO", description="Whether the camera that filmed the video moves")
    focal_mm: bpy.props.FloatProperty(
        name="Focal Length", default=0.0, min=0.0, soft_max=200.0, unit="CAMERA",
        description="35 mm-equivalent focal length of the camera that filmed the video (0 = assume 28 mm)")


def register():
    bpy.types.Scene.uplift = bpy.props.PointerProperty(type=UPLIFT_PG_settings)


def unregister():
    del bpy.types.Scene.uplift


registry = [UPLIFT_PG_person, UPLIFT_PG_settings]
