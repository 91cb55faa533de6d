"""The real frame rate of a BVH file, where headers are known to lie (numpy-free; no bpy).

``source_fps(path, header_fps)``: INDEX.tsv ``nominal_fps`` (the staged data's source of truth),
else ``FPS_OVERRIDES`` by folder names, else the header rate snapped to a whole number. Used by the
training library (``models/motion_library``) and by the footage generator, so a rendered clip plays
the motion at the speed it was captured.
"""
from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

# Real capture rate where a BVH header is known to be wrong, by consecutive folder names in the path.
# Used only when no INDEX.tsv row gives ``nominal_fps`` (INDEX.tsv is the source of truth).
# - acrnn-daz/salsa: headers say 1/120 s, the acRNN readme and CMU's list say 60 Hz (subjects 60/61).
# - amc2bvh-raw: amc2bvh writes its default 1/30 s; the CMU capture is 120 Hz.
FPS_OVERRIDES: dict[tuple[str, ...], float] = {
    ("acrnn-daz", "salsa"): 60.0,
    ("amc2bvh-raw",): 120.0,
}
_INDEX_SEARCH_LEVELS = 4  # how many folders above a file to look for INDEX.tsv


@lru_cache(maxsize=64)
def _read_index(index_path: str) -> dict[str, float]:
    """INDEX.tsv -> {relative path without .gz: nominal_fps}; {} when it has no such column."""
    out: dict[str, float] = {}
    try:
        with open(index_path, newline="") as fh:
            for row in csv.DictReader(fh, delimiter="\t"):
                try:
                    out[row["file"].strip()] = float(row["nominal_fps"])
                except (KeyError, TypeError, ValueError):
                    continue
    except OSError:
        return {}
    return out


def source_fps(path: str | Path, header_fps: float) -> float:
    """Real frame rate of a BVH file: INDEX.tsv ``nominal_fps`` (searched in the file's folder and
    up to a few folders above), else ``FPS_OVERRIDES`` by folder names, else the header rate
    snapped to a whole number when within 0.1 %."""
    path = Path(path).resolve()
    rel_name = path.name[:-3] if path.name.lower().endswith(".gz") else path.name
    folder = path.parent
    for _ in range(_INDEX_SEARCH_LEVELS):
        index = folder / "INDEX.tsv"
        if index.is_file():
            rel = (path.parent / rel_name).relative_to(folder).as_posix()
            table = _read_index(str(index))
            if rel in table:
                return table[rel]
        if folder.parent == folder:
            break
        folder = folder.parent
    parts = path.parent.parts
    for key, fps in FPS_OVERRIDES.items():
        n = len(key)
        if any(parts[i:i + n] == key for i in range(len(parts) - n + 1)):
            return fps
    snapped = float(round(header_fps))
    return snapped if snapped > 0 and abs(header_fps - snapped) <= 1e-3 * snapped else float(header_fps)


__all__ = ["FPS_OVERRIDES", "source_fps"]
