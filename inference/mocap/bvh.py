"""BVH motion files: a reader for any hierarchy and a writer for canonical-skeleton motion.

Reader output (`BVH`) keeps the file's own axes and the channel values as written (degrees),
with lengths multiplied by ``scale`` (file units -> metres). Position channels on a joint
*replace* its OFFSET (as Blender's importer does), so a root OFFSET that repeats the first
frame's position is not counted twice.
"""
from __future__ import annotations

import gzip
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core.rotations import euler_to_matrix

_POS = ("Xposition", "Yposition", "Zposition")
_ROT = ("Xrotation", "Yrotation", "Zrotation")
_CHANNEL_NAMES = {c.lower(): c for c in _POS + _ROT}


class BVHError(ValueError):
    """A malformed BVH file; the message names the file and line."""


@dataclass
class BVHJoint:
    name: str
    parent: int                      # index into BVH.joints, -1 for the root
    offset: np.ndarray               # (3,) file axes, scaled units
    channels: list[str] = field(default_factory=list)
    end_site: np.ndarray | None = None  # (3,) offset of the End Site, if the joint has one


@dataclass
class BVH:
    joints: list[BVHJoint]
    frame_time: float                # seconds per frame
    motion: np.ndarray               # (F, C) raw channel values (positions already scaled)
    scale: float = 1.0               # factor applied to file lengths
    dropped_tpose: bool = False      # a cgspeed rest frame 0 was removed
    source: str = ""

    @property
    def names(self) -> list[str]:
        return [j.name for j in self.joints]

    @property
    def parents(self) -> np.ndarray:
        return np.array([j.parent for j in self.joints], dtype=np.int64)

    @property
    def offsets(self) -> np.ndarray:
        """(J, 3) rest offsets, scaled units, file axes."""
        return np.stack([j.offset for j in self.joints])

    @property
    def num_frames(self) -> int:
        return int(self.motion.shape[0])

    @property
    def fps(self) -> float:
        return 1.0 / self.frame_time

    def index(self, name: str) -> int:
        return self.names.index(name)

    def _channel_columns(self) -> list[tuple[int, list[str]]]:
        out, c = [], 0
        for j in self.joints:
            out.append((c, j.channels))
            c += len(j.channels)
        return out

    def local_rotations(self) -> np.ndarray:
        """(F, J, 3, 3) local joint rotations in the file's axes (identity without channels)."""
        f = self.num_frames
        out = np.tile(np.eye(3), (f, len(self.joints), 1, 1))
        for j, (start, chans) in enumerate(self._channel_columns()):
            rot = [(k, ch[0]) for k, ch in enumerate(chans) if ch in _ROT]
            if not rot:
                continue
            order = "".join(a for _, a in rot)
            ang = np.radians(self.motion[:, [start + k for k, _ in rot]])
            if len(rot) == 3:
                out[:, j] = euler_to_matrix(ang, order)
            else:  # fewer than 3 rotation channels: compose what is there
                from ..core.rotations import _axis_matrix
                m = np.tile(np.eye(3), (f, 1, 1))
                for i, a in enumerate(order):
                    m = m @ _axis_matrix(a, ang[:, i])
                out[:, j] = m
        return out

    def local_translations(self) -> np.ndarray:
        """(F, J, 3) each joint's translation from its parent: position channels or OFFSET."""
        f = self.num_frames
        out = np.tile(self.offsets, (f, 1, 1))
        for j, (start, chans) in enumerate(self._channel_columns()):
            for k, ch in enumerate(chans):
                if ch in _POS:
                    out[:, j, _POS.index(ch)] = self.motion[:, start + k]
        return out

    def forward_kinematics(self) -> tuple[np.ndarray, np.ndarray]:
        """Global (positions (F, J, 3), rotations (F, J, 3, 3)) in file axes, scaled units."""
        loc_r, loc_t = self.local_rotations(), self.local_translations()
        pos = np.zeros_like(loc_t)
        rot = np.zeros_like(loc_r)
        for j, joint in enumerate(self.joints):
            p = joint.parent
            if p < 0:
                rot[:, j], pos[:, j] = loc_r[:, j], loc_t[:, j]
            else:
                rot[:, j] = rot[:, p] @ loc_r[:, j]
                pos[:, j] = pos[:, p] + np.einsum("fij,fj->fi", rot[:, p], loc_t[:, j])
        return pos, rot

    def rest_positions(self) -> np.ndarray:
        """(J, 3) joint positions with all rotations zero and the root at the origin."""
        pos = np.zeros((len(self.joints), 3))
        for j, joint in enumerate(self.joints):
            if joint.parent >= 0:
                pos[j] = pos[joint.parent] + joint.offset
        return pos


# --- reading -----------------------------------------------------------------------------------
_UNITS = (  # (name, metres per unit, plausible body-span range in those units)
    ("m", 1.0, (0.8, 3.0)),
    ("cmu", 0.056444, (20.0, 45.0)),   # CMU ASF units: (1/0.45) * 2.54 / 100 m
    ("inch", 0.0254, (45.0, 80.0)),
    ("cm", 0.01, (80.0, 300.0)),
    ("mm", 0.001, (800.0, 3000.0)),
)


def body_span(offsets: np.ndarray, parents: np.ndarray) -> float:
    """Longest joint-to-joint path through the tree (sum of offset lengths), about body height."""
    n = len(parents)
    length = np.linalg.norm(offsets, axis=-1)
    depth = np.zeros(n)   # longest downward path from j
    best = 0.0
    for j in range(n - 1, -1, -1):
        kids = [c for c in range(n) if parents[c] == j]
        down = sorted((depth[c] + length[c] for c in kids), reverse=True)
        depth[j] = down[0] if down else 0.0
        best = max(best, sum(down[:2]))
    return float(best)


def detect_units(offsets: np.ndarray, parents: np.ndarray) -> tuple[str, float]:
    """Guess the file's length unit from its skeleton span: (name, metres per unit)."""
    span = body_span(offsets, parents)
    for name, scale, (lo, hi) in _UNITS:
        if lo <= span < hi:
            return name, scale
    raise BVHError(f"cannot tell the length unit: skeleton spans {span:.3g} units")


class _Lines:
    def __init__(self, text: str, source: str):
        self.lines = text.splitlines()
        self.i = 0
        self.source = source

    def error(self, msg: str, line: int | None = None) -> BVHError:
        n = self.i if line is None else line
        return BVHError(f"{self.source}:{n}: {msg}")

    def next_tokens(self) -> list[str]:
        while self.i < len(self.lines):
            self.i += 1
            toks = self.lines[self.i - 1].split()
            if toks:
                return toks
        raise self.error("unexpected end of file", line=max(len(self.lines), 1))


def _floats(lines: _Lines, toks: list[str], n: int, what: str) -> np.ndarray:
    if len(toks) != n:
        raise lines.error(f"{what}: expected {n} numbers, got {len(toks)}")
    try:
        return np.array([float(t) for t in toks])
    except ValueError:
        raise lines.error(f"{what}: non-numeric value in {' '.join(toks)!r}") from None


def _parse_hierarchy(lines: _Lines) -> list[BVHJoint]:
    toks = lines.next_tokens()
    if toks[0].upper() != "HIERARCHY":
        raise lines.error(f"missing HIERARCHY (found {toks[0]!r})")
    joints: list[BVHJoint] = []
    stack: list[int] = []          # joint indices; -2 marks an End Site block
    pending: tuple[str, int] | None = None
    while True:
        toks = lines.next_tokens()
        key = toks[0]
        if pending is not None and key != "{":
            what = "End Site" if pending[0] == "__end__" else f"{'JOINT' if stack else 'ROOT'} {pending[0]}"
            raise lines.error(f"expected '{{' after {what}")
        if key in ("ROOT", "JOINT"):
            if (key == "ROOT") != (not stack) or (stack and stack[-1] < 0) or len(toks) < 2:
                raise lines.error(f"misplaced {key}")
            pending = (" ".join(toks[1:]), stack[-1] if stack else -1)
        elif key == "End":
            if not stack or stack[-1] < 0:
                raise lines.error("End Site outside a joint")
            pending = ("__end__", stack[-1])
        elif key == "{":
            if pending is None:
                raise lines.error("unexpected '{'")
            name, parent = pending
            if name == "__end__":
                stack.append(-2 - parent)
            else:
                joints.append(BVHJoint(name, parent, np.zeros(3)))
                stack.append(len(joints) - 1)
            pending = None
        elif key == "}":
            if not stack:
                raise lines.error("unbalanced '}'")
            stack.pop()
            if not stack:
                return joints
        elif key == "OFFSET":
            if not stack:
                raise lines.error("OFFSET outside a joint")
            off = _floats(lines, toks[1:4] if len(toks) >= 4 else toks[1:], 3, "OFFSET")
            if stack[-1] <= -2:
                joints[-2 - stack[-1]].end_site = off
            else:
                joints[stack[-1]].offset = off
        elif key == "CHANNELS":
            if not stack or stack[-1] < 0:
                raise lines.error("CHANNELS outside a joint")
            try:
                n = int(toks[1])
            except (IndexError, ValueError):
                raise lines.error("CHANNELS needs a count") from None
            chans = toks[2:]
            if len(chans) != n:
                raise lines.error(f"CHANNELS says {n} but lists {len(chans)}")
            bad = [c for c in chans if c.lower() not in _CHANNEL_NAMES]
            if bad:
                raise lines.error(f"unknown channel {bad[0]!r}")
            chans = [_CHANNEL_NAMES[c.lower()] for c in chans]   # case-insensitive, as Blender
            joints[stack[-1]].channels = chans
        elif key.upper() == "MOTION":
            raise lines.error("MOTION before the hierarchy was closed")
        else:
            raise lines.error(f"unexpected token {key!r} in HIERARCHY")


def _parse_motion(lines: _Lines, n_channels: int) -> tuple[float, np.ndarray]:
    toks = lines.next_tokens()
    if toks[0].upper() != "MOTION":
        raise lines.error(f"expected MOTION, found {toks[0]!r}")
    toks = lines.next_tokens()
    if toks[0] != "Frames:" or len(toks) != 2 or not toks[1].isdigit():
        raise lines.error("expected 'Frames: <count>'")
    n_frames = int(toks[1])
    if n_frames == 0:
        raise lines.error("no motion frames (Frames: 0)")
    toks = lines.next_tokens()
    if toks[:2] != ["Frame", "Time:"] or len(toks) != 3:
        raise lines.error("expected 'Frame Time: <seconds>'")
    try:
        frame_time = float(toks[2])
    except ValueError:
        raise lines.error(f"non-numeric frame time {toks[2]!r}") from None
    if not frame_time > 0:
        raise lines.error(f"frame time must be positive, got {frame_time}")
    start = lines.i
    rows = [ln for ln in lines.lines[start:] if ln.strip()]
    if len(rows) < n_frames:
        raise lines.error(f"truncated MOTION: header says {n_frames} frames, found {len(rows)}",
                          line=len(lines.lines))
    try:
        data = np.loadtxt(io.StringIO("\n".join(rows[:n_frames])), dtype=np.float64, ndmin=2)
    except ValueError:
        data = None
    if data is None or data.shape != (n_frames, n_channels):
        # find the first bad row for a precise message
        line_no = start
        for k, ln in enumerate(lines.lines[start:]):
            if not ln.strip():
                continue
            line_no = start + k + 1
            vals = ln.split()
            if len(vals) != n_channels:
                raise lines.error(f"motion row has {len(vals)} values, expected {n_channels}", line=line_no)
            try:
                [float(v) for v in vals]
            except ValueError:
                raise lines.error("non-numeric value in motion row", line=line_no) from None
        raise lines.error("malformed MOTION section")
    return frame_time, data


def _is_added_tpose(bvh: BVH) -> bool:
    """cgspeed files start with an added rest frame: root rotation exactly zero, every other
    rotation under 12 degrees, then a jump of more than 5 degrees to the motion."""
    if bvh.num_frames < 4:
        return False
    names = [ch for j in bvh.joints for ch in j.channels]
    rot_cols = [c for c, ch in enumerate(names) if ch in _ROT]
    root_rot = [c for c, ch in enumerate(bvh.joints[0].channels) if ch in _ROT]
    m = bvh.motion[:, rot_cols]
    if np.abs(m[0]).max() > 12.0 or np.any(bvh.motion[0, root_rot] != 0.0):
        return False
    return bool(np.abs(m[1] - m[0]).max() > 5.0)


def parse_bvh(text: str, source: str = "<bvh>", scale: float | str = "auto",
              drop_tpose: bool | str = "auto") -> BVH:
    """Parse BVH text. scale: metres per file unit, or "auto" to detect from body span.
    drop_tpose: True / False / "auto" (drop an added rest frame 0 when detected)."""
    lines = _Lines(text, source)
    joints = _parse_hierarchy(lines)
    n_channels = sum(len(j.channels) for j in joints)
    frame_time, motion = _parse_motion(lines, n_channels)
    if scale == "auto":
        _, scale = detect_units(np.stack([j.offset for j in joints]), np.array([j.parent for j in joints]))
    scale = float(scale)
    for j in joints:
        j.offset = j.offset * scale
        if j.end_site is not None:
            j.end_site = j.end_site * scale
    pos_cols = [c for c, ch in enumerate(ch for j in joints for ch in j.channels) if ch in _POS]
    motion[:, pos_cols] *= scale
    bvh = BVH(joints, frame_time, motion, scale=scale, source=source)
    if drop_tpose is True or (drop_tpose == "auto" and _is_added_tpose(bvh)):
        bvh.motion = bvh.motion[1:]
        bvh.dropped_tpose = True
    if bvh.num_frames == 0:
        raise BVHError(f"{source}: no motion frames")
    return bvh


def read_bvh(path: str | Path, scale: float | str = "auto", drop_tpose: bool | str = "auto") -> BVH:
    """Read a .bvh or .bvh.gz file (any line endings). See parse_bvh."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    except (OSError, EOFError) as exc:
        raise BVHError(f"{path}: cannot read: {exc}") from None
    return parse_bvh(text, source=str(path), scale=scale, drop_tpose=drop_tpose)



def find_bvh_files(root: Path) -> list[Path]:
    """Every *.bvh and *.bvh.gz below root (or root itself), sorted."""
    root = Path(root)
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name.lower().endswith((".bvh", ".bvh.gz")))
