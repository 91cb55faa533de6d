"""The people seen in the active strip, each with a picture, to choose who to convert (Sequencer > Uplift).

"Find People" detects everyone in the strip's range (a worker thread like a conversion, Esc cancels; synchronous
in background mode), fills ``scene.uplift.people`` (most present first, numbered as ``person`` and the CLI's
``--list-people`` number them) and one picture per person (``people_thumbnails``, in this module's preview
collection); the list's active row is ``scene.uplift.person`` itself (numbers are list places; -1, the largest
person, selects no row). A list found for another strip or range
is not shown.
"""
from __future__ import annotations

import bpy
import numpy as np

from ..inference.pipeline.detect import detect_people
from ..inference.pipeline.people_thumbnails import person_thumbnails
from ..inference.pipeline.run import Cancelled, PipelineError, detect_options
from ..inference.pipeline.video import VideoError
from . import animate, compat
from .operators import _redraw_editors, _RunsJob, running_job

PICTURE_PX = 96
_PREVIEWS: dict[str, object] = {"collection": None}


def _previews():
    if _PREVIEWS["collection"] is None:
        import bpy.utils.previews

        _PREVIEWS["collection"] = bpy.utils.previews.new()
    return _PREVIEWS["collection"]


def source_key(source) -> str:
    """What a people list belongs to: the strip, its file and the range."""
    return f"{source.name}|{source.path}|{source.start_s:.3f}-{source.end_s:.3f}"


def find_people(path, options, progress=None, cancel=None, uplifter=None) -> list[dict]:
    """Everyone in ``path`` within ``options``' range, most present first: dicts of coverage, height, first_s
    and picture ((PICTURE_PX, PICTURE_PX, 3) uint8 RGB). The shape of a ``jobs.ConvertJob`` work function."""
    def report(done, total):
        if cancel is not None and cancel.is_set():
            raise Cancelled("finding people cancelled")
        if progress is not None:
            progress("detect", done, total)

    try:
        tracks, times = detect_people(path, detect_options(options), report)
        pictures = person_thumbnails(path, tracks, times, PICTURE_PX)
    except (VideoError, OSError) as exc:
        raise PipelineError(str(exc)) from exc
    return [{"coverage": tr.coverage, "height": tr.height, "first_s": tr.first_seen_s(times), "picture": pic}
            for tr, pic in zip(tracks, pictures)]


def store_people(settings, key: str, people: list[dict]) -> None:
    """Fill ``settings.people`` and the pictures; the person to convert stays as it was unless it no longer exists."""
    previews = _previews()
    settings.people.clear()
    for number, p in enumerate(people):
        name = f"{key}#{number}"
        picture = previews.get(name) or previews.new(name)
        h, w = p["picture"].shape[:2]
        rgba = np.concatenate([p["picture"].astype(np.float32) / 255.0, np.ones((h, w, 1), np.float32)], axis=-1)
        picture.image_size = (w, h)
        picture.image_pixels_float = rgba[::-1].ravel()           # Blender's rows go bottom-up
        item = settings.people.add()
        item.number, item.coverage, item.height, item.picture = number, p["coverage"], p["height"], name
        item.first_s = p["first_s"] if np.isfinite(p["first_s"]) else 0.0
    settings.people_source = key
    if settings.person >= len(people):
        settings.person = -1


def picture_icon(name: str) -> int:
    """Icon id of a stored picture (0 when there is none)."""
    previews = _PREVIEWS["collection"]
    picture = previews.get(name) if previews is not None else None
    return picture.icon_id if picture is not None else 0


def listed_people(context):
    """``scene.uplift.people`` when it belongs to the active strip and range, else None."""
    settings = context.scene.uplift
    strip = compat.active_strip(context.scene)
    if not len(settings.people) or not compat.is_movie_strip(strip):
        return None
    try:
        source = animate.strip_source(strip, context.scene, _range(settings))
    except PipelineError:
        return None
    return settings.people if source_key(source) == settings.people_source else None


def _range(settings):
    return None if settings.use_strip_range else (settings.frame_start, settings.frame_end)


def _problem(context) -> str | None:
    strip = compat.active_strip(context.scene) if context.scene is not None else None
    if not compat.is_movie_strip(strip):
        return "Select a movie strip in the Sequencer"
    if running_job() is not None:
        return "A conversion is already running (Esc cancels it)"
    return None


class UPLIFT_OT_find_people(_RunsJob, bpy.types.Operator):
    """Find everyone in the active movie strip, with a picture each, to choose who to convert"""
    bl_idname = "uplift.find_people"
    bl_label = "Find People"
    bl_options = {"REGISTER"}
    problem = staticmethod(_problem)
    doing = "finding people"

    def _prepare(self, context):
        settings = context.scene.uplift
        source = animate.strip_source(compat.active_strip(context.scene), context.scene, _range(settings))
        options = animate.convert_options(source, hands=False)
        options.validate()
        self._key = source_key(source)
        return source, options

    def _finish(self, context, people) -> set:
        store_people(context.scene.uplift, self._key, people)
        self.report({"INFO"}, f"{len(people)} {'person' if len(people) == 1 else 'people'} seen"
                    + ("; pick who to convert in the list" if len(people) > 1 else ""))
        _redraw_editors(context)
        return {"FINISHED"}

    def _work(self):
        return find_people


class UPLIFT_UL_people(bpy.types.UIList):
    """One row per person: picture, number, time on screen, size."""

    def draw_item(self, _context, layout, _data, item, _icon, _active_data, _active_prop, _index=0, _flt_flag=0):
        row = layout.row(align=True)
        row.label(text=f"Person {item.number}", icon_value=picture_icon(item.picture))
        row.label(text=f"{100 * item.coverage:.0f}% of frames, {100 * item.height:.0f}% tall")


def draw_people(layout, context) -> None:
    """The panel's people block: the list with the chosen person's picture large, or the button to find them."""
    settings = context.scene.uplift
    people = listed_people(context)
    row = layout.row()
    row.operator("uplift.find_people", icon="COMMUNITY", text="Find People" if people is None else "Find Again")
    if people is None:
        return
    layout.template_list("UPLIFT_UL_people", "", settings, "people", settings, "person", rows=2)
    if 0 <= settings.person < len(people):
        icon = picture_icon(people[settings.person].picture)
        if icon:
            layout.template_icon(icon_value=icon, scale=5.0)


def unregister():
    if _PREVIEWS["collection"] is not None:
        import bpy.utils.previews

        bpy.utils.previews.remove(_PREVIEWS["collection"])
        _PREVIEWS["collection"] = None


registry = [UPLIFT_OT_find_people, UPLIFT_UL_people]
