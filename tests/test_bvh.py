"""inference/mocap/bvh.py (reader): channel layouts, line endings, gzip, units, T-pose frames, FK,
malformed files, and every staged mocap file.

Rotation references are hand-written axis matrices, never the module under test.
"""
from __future__ import annotations

import csv
import gzip
import re
from pathlib import Path

import numpy as np
import pytest

from uplift_mocap.inference.mocap.bvh import BVHError, detect_units, parse_bvh, read_bvh

FIXTURES = Path(__file__).parent / "fixtures"


def rx(deg):
    c, s = np.cos(np.radians(deg)), np.sin(np.radians(deg))
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def ry(deg):
    c, s = np.cos(np.radians(deg)), np.sin(np.radians(deg))
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def rz(deg):
    c, s = np.cos(np.radians(deg)), np.sin(np.radians(deg))
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


AXIS = {"X": rx, "Y": ry, "Z": rz}


def euler(order: str, angles) -> np.ndarray:
    """Intrinsic rotation, applied left to right as listed: R = R_a0 @ R_a1 @ R_a2."""
    m = np.eye(3)
    for a, v in zip(order, angles):
        m = m @ AXIS[a](v)
    return m


# --- a 3-joint chain, checked by hand --------------------------------------------------------
def chain(root_channels: str, joint_channels: str, rows: list[str], frames: int | None = None) -> str:
    """Root at the origin -> Elbow (1 m along +X) -> Wrist (1 m along +Y); metres."""
    n_root, n_joint = len(root_channels.split()), len(joint_channels.split())
    return "\n".join([
        "HIERARCHY", "ROOT Root", "{", "  OFFSET 0 0 0", f"  CHANNELS {n_root} {root_channels}",
        "  JOINT Elbow", "  {", "    OFFSET 1 0 0", f"    CHANNELS {n_joint} {joint_channels}",
        "    JOINT Wrist", "    {", "      OFFSET 0 1 0", "      CHANNELS 3 Xrotation Yrotation Zrotation",
        "      End Site", "      {", "        OFFSET 0 0.2 0", "      }", "    }", "  }", "}",
        "MOTION", f"Frames: {len(rows) if frames is None else frames}", "Frame Time: 0.04", *rows, ""])


POS_ZXY = "Xposition Yposition Zposition Zrotation Xrotation Yrotation"


def test_two_joint_chain_fk_by_hand():
    # frame 0: root at (1,2,3) turned 90 deg about Z; elbow 90 deg about X.
    #   elbow = (1,2,3) + Rz90 (1,0,0) = (1,3,3); wrist = elbow + Rz90 Rx90 (0,1,0) = (1,3,4)
    # frame 1: root at 0 with Z=90 then X=90 (R = Rz90 Rx90); elbow unrotated.
    #   elbow = Rz90 Rx90 (1,0,0) = (0,1,0); wrist = elbow + Rz90 Rx90 (0,1,0) = (0,1,1)
    text = chain(POS_ZXY, "Xrotation Yrotation Zrotation",
                 ["1 2 3 90 0 0 90 0 0 0 0 0", "0 0 0 90 90 0 0 0 0 0 0 0"])
    bvh = parse_bvh(text, scale=1.0)
    pos, rot = bvh.forward_kinematics()
    np.testing.assert_allclose(pos[0], [[1, 2, 3], [1, 3, 3], [1, 3, 4]], atol=1e-12)
    np.testing.assert_allclose(pos[1], [[0, 0, 0], [0, 1, 0], [0, 1, 1]], atol=1e-12)
    np.testing.assert_allclose(rot[0, 2], rz(90) @ rx(90), atol=1e-12)
    assert bvh.names == ["Root", "Elbow", "Wrist"]
    assert bvh.parents.tolist() == [-1, 0, 1]
    assert bvh.joints[2].end_site.tolist() == [0, 0.2, 0]
    assert bvh.fps == pytest.approx(25.0)


def test_euler_order_is_the_listed_order():
    # Same angles (X=90, Z=90) listed in the other order: R = Rx90 Rz90 takes +X to +Z.
    text = chain("Xposition Yposition Zposition Xrotation Yrotation Zrotation", "Xrotation Yrotation Zrotation",
                 ["0 0 0 90 0 90 0 0 0 0 0 0"])
    pos, _ = parse_bvh(text, scale=1.0).forward_kinematics()
    np.testing.assert_allclose(pos[0, 1], [0, 0, 1], atol=1e-12)


def test_positions_after_rotations_and_non_root_six_channels():
    # Root channels list rotations before positions; the elbow has its own position channels,
    # which replace its OFFSET (elbow 2 m along the root's X instead of 1 m).
    text = chain("Zrotation Xrotation Yrotation Xposition Yposition Zposition",
                 "Xposition Yposition Zposition Xrotation Yrotation Zrotation",
                 ["90 0 0 1 2 3 2 0 0 90 0 0 0 0 0"])
    pos, _ = parse_bvh(text, scale=1.0).forward_kinematics()
    np.testing.assert_allclose(pos[0], [[1, 2, 3], [1, 4, 3], [1, 4, 4]], atol=1e-12)


# --- a fixture with mixed layouts, against an independent FK ----------------------------------
def reference_fk(bvh):
    """Independent FK over the parsed hierarchy with hand-written axis matrices."""
    f, n = bvh.num_frames, len(bvh.joints)
    pos, rot = np.zeros((f, n, 3)), np.zeros((f, n, 3, 3))
    for t in range(f):
        col = 0
        for j, joint in enumerate(bvh.joints):
            vals = dict(zip(joint.channels, bvh.motion[t, col:col + len(joint.channels)]))
            col += len(joint.channels)
            order = "".join(c[0] for c in joint.channels if c.endswith("rotation"))
            local = euler(order, [vals[a + "rotation"] for a in order])
            trans = np.array([vals.get(a + "position", joint.offset[i]) for i, a in enumerate("XYZ")])
            if joint.parent < 0:
                rot[t, j], pos[t, j] = local, trans
            else:
                rot[t, j] = rot[t, joint.parent] @ local
                pos[t, j] = pos[t, joint.parent] + rot[t, joint.parent] @ trans
    return pos, rot


def test_mixed_channel_fixture():
    bvh = read_bvh(FIXTURES / "mixed_channels.bvh")
    assert bvh.names == ["Hips", "Chest", "Arm", "Hand", "Leg"]
    assert bvh.parents.tolist() == [-1, 0, 1, 2, 0]
    assert bvh.joints[0].channels[:3] == ["Zrotation", "Yrotation", "Xrotation"]
    assert [len(j.channels) for j in bvh.joints] == [6, 3, 6, 3, 3]
    assert bvh.scale == pytest.approx(0.01)          # spans ~147 units: centimetres
    assert bvh.motion.shape == (3, 21)
    np.testing.assert_allclose(bvh.joints[2].offset, [0.2, 0.3, 0.0])
    np.testing.assert_allclose(bvh.joints[3].end_site, [0.1, 0.0, 0.0])
    # position channels are scaled to metres, rotation channels stay degrees
    np.testing.assert_allclose(bvh.motion[2, 3:6], [-0.125, 1.0125, 0.07])
    np.testing.assert_allclose(bvh.motion[2, :3], [-170, 80, 45])
    pos, rot = bvh.forward_kinematics()
    ref_pos, ref_rot = reference_fk(bvh)
    np.testing.assert_allclose(pos, ref_pos, atol=1e-12)
    np.testing.assert_allclose(rot, ref_rot, atol=1e-12)
    # frame 0 by hand: root at (0, 0.9, 0) turned 90 deg about X, so the Chest's +Y offset
    # (0.5 m) points along +Z.
    np.testing.assert_allclose(pos[0, 1], [0, 0.9, 0.5], atol=1e-12)
    assert not bvh.dropped_tpose


def test_crlf_and_cr_line_endings_parse_the_same(tmp_path):
    text = (FIXTURES / "mixed_channels.bvh").read_text()
    ref = parse_bvh(text)
    for sep in ("\r\n", "\r"):
        alt = parse_bvh(text.replace("\n", sep))
        np.testing.assert_array_equal(alt.motion, ref.motion)
        assert alt.names == ref.names
    path = tmp_path / "crlf.bvh"
    path.write_bytes(text.replace("\n", "\r\n").encode())
    np.testing.assert_array_equal(read_bvh(path).motion, ref.motion)
    # line numbers in errors count CRLF lines correctly
    bad = text.replace("CHANNELS 3 Xrotation", "CHANNELS 3 Qrotation").replace("\n", "\r\n")
    with pytest.raises(BVHError, match=r"x\.bvh:9: unknown channel"):
        parse_bvh(bad, source="x.bvh")


def test_gzip_file(tmp_path):
    text = (FIXTURES / "mixed_channels.bvh").read_text()
    path = tmp_path / "take.bvh.gz"
    with gzip.open(path, "wt") as fh:
        fh.write(text)
    bvh = read_bvh(path)
    np.testing.assert_array_equal(bvh.motion, parse_bvh(text).motion)
    assert bvh.source == str(path)


def test_channel_names_are_case_insensitive():
    text = chain("XPOSITION yposition Zposition ZROTATION xrotation Yrotation", "Xrotation Yrotation Zrotation",
                 ["1 2 3 90 0 0 90 0 0 0 0 0"])
    bvh = parse_bvh(text, scale=1.0)
    assert bvh.joints[0].channels == POS_ZXY.split()
    np.testing.assert_allclose(bvh.forward_kinematics()[0][0, 2], [1, 3, 4], atol=1e-12)


# --- units -------------------------------------------------------------------------------------
def span_file(span: float, root_y: float) -> str:
    """Root -> Knee -> Ankle straight down, total span ``span`` file units; root height root_y."""
    h = span / 2
    return "\n".join([
        "HIERARCHY", "ROOT Hips", "{", "OFFSET 0 0 0", f"CHANNELS 6 {POS_ZXY}",
        "JOINT Knee", "{", f"OFFSET 0 {-h} 0", "CHANNELS 3 Zrotation Xrotation Yrotation",
        "JOINT Ankle", "{", f"OFFSET 0 {-h} 0", "CHANNELS 3 Zrotation Xrotation Yrotation",
        "End Site", "{", "OFFSET 0 0 1", "}", "}", "}", "}",
        "MOTION", "Frames: 1", "Frame Time: 0.01", f"0 {root_y} 0 0 0 0 0 0 0 0 0 0", ""])


@pytest.mark.parametrize("unit,per_unit", [
    ("m", 1.0), ("cm", 0.01), ("cmu", 0.056444), ("inch", 0.0254), ("mm", 0.001)])
def test_unit_detection(unit, per_unit):
    span = 1.7 / per_unit                       # a 1.7 m body written in that unit
    bvh = parse_bvh(span_file(span, root_y=0.9 / per_unit))
    assert bvh.scale == pytest.approx(per_unit)
    assert detect_units(bvh.offsets / per_unit, bvh.parents) == (unit, pytest.approx(per_unit))
    pos, _ = bvh.forward_kinematics()
    np.testing.assert_allclose(pos[0, :, 1], [0.9, 0.05, -0.8], atol=1e-9)   # metres
    np.testing.assert_allclose(bvh.joints[2].end_site, [0, 0, per_unit])


def test_explicit_scale_overrides_detection():
    text = span_file(170.0, root_y=90.0)        # centimetres by detection
    bvh = parse_bvh(text, scale=0.5)
    assert bvh.scale == 0.5
    np.testing.assert_allclose(bvh.offsets[1], [0, -42.5, 0])
    assert bvh.motion[0, 1] == pytest.approx(45.0)
    odd = span_file(6.0, root_y=3.0)            # 6 units: no plausible unit
    with pytest.raises(BVHError, match="cannot tell the length unit"):
        parse_bvh(odd)
    assert parse_bvh(odd, scale=0.25).offsets[2, 1] == pytest.approx(-0.75)


# --- cgspeed added T-pose -----------------------------------------------------------------------
def test_added_tpose_frame_dropped_or_kept():
    path = FIXTURES / "cgspeed_tpose.bvh"
    lines = path.read_text().splitlines()
    raw = np.loadtxt(lines[lines.index("MOTION") + 3:])
    auto = read_bvh(path)
    assert auto.dropped_tpose and auto.num_frames == 4
    np.testing.assert_allclose(auto.motion[:, 3:], raw[1:, 3:])
    np.testing.assert_allclose(auto.motion[:, :3], raw[1:, :3] * 0.01)
    kept = read_bvh(path, drop_tpose=False)
    assert not kept.dropped_tpose and kept.num_frames == 5
    np.testing.assert_allclose(kept.motion[0, 3:], raw[0, 3:])


def test_tpose_not_dropped_without_the_jump_or_with_root_rotation():
    text = (FIXTURES / "cgspeed_tpose.bvh").read_text()
    lines = text.splitlines()
    first = lines.index("MOTION") + 3
    smooth = lines[:first] + [lines[first]] * 5          # rest pose held: no jump
    assert not parse_bvh("\n".join(smooth)).dropped_tpose
    turned = list(lines)
    turned[first] = turned[first].replace("0.0 95.0 0.0 0.0", "0.0 95.0 0.0 0.5", 1)  # root Zrot != 0
    assert not parse_bvh("\n".join(turned)).dropped_tpose
    forced = parse_bvh("\n".join(smooth), drop_tpose=True)
    assert forced.dropped_tpose and forced.num_frames == 4


# --- malformed files: BVHError naming file:line -----------------------------------------------
BASE = [
    "HIERARCHY",                                   # 1
    "ROOT Hips",                                   # 2
    "{",                                           # 3
    "  OFFSET 0 0 0",                              # 4
    f"  CHANNELS 6 {POS_ZXY}",                     # 5
    "  JOINT Knee",                                # 6
    "  {",                                         # 7
    "    OFFSET 0 -100 0",                         # 8
    "    CHANNELS 3 Zrotation Xrotation Yrotation",  # 9
    "    End Site",                                # 10
    "    {",                                       # 11
    "      OFFSET 0 -50 0",                        # 12
    "    }",                                       # 13
    "  }",                                         # 14
    "}",                                           # 15
    "MOTION",                                      # 16
    "Frames: 2",                                   # 17
    "Frame Time: 0.04",                            # 18
    "0 100 0 0 0 0 10 0 0",                        # 19
    "1 100 0 0 0 0 20 0 0",                        # 20
]


def edit(replace: dict[int, str | None] = {}, insert: dict[int, str] = {}) -> str:
    """BASE with 1-based lines replaced (None deletes) and lines inserted before a line number."""
    out = []
    for n, line in enumerate(BASE, 1):
        if n in insert:
            out.append(insert[n])
        if replace.get(n, line) is not None:
            out.append(replace.get(n, line))
    return "\n".join(out) + "\n"


def test_base_is_valid():
    bvh = parse_bvh(edit(), source="bad.bvh")
    assert bvh.motion.shape == (2, 9) and bvh.scale == 0.01


@pytest.mark.parametrize("text,line,message", [
    (edit({20: "1 100 0 0 0 0 20 0"}), 20, "motion row has 8 values, expected 9"),
    (edit({19: "0 100 0 0 0 0 10 0 0 7"}), 19, "motion row has 10 values"),
    (edit({17: "Frames: 3"}), 20, "truncated MOTION"),
    (edit({20: None}), 19, "truncated MOTION"),
    (edit({19: "0 100 0 abc 0 0 10 0 0"}), 19, "non-numeric"),
    (edit({8: "    OFFSET 0 -1oo 0"}), 8, "non-numeric"),
    (edit({18: "Frame Time: fast"}), 18, "non-numeric frame time"),
    (edit({17: "Frames 2"}), 17, "Frames:"),
    (edit({16: None}), 16, "expected MOTION"),
    (edit({1: None}), 1, "missing HIERARCHY"),
    (edit({13: None}), 15, "MOTION before the hierarchy was closed"),
    (edit(insert={16: "}"}), 16, "expected MOTION, found '}'"),
    (edit({7: None}), 7, "expected '{' after JOINT Knee"),
    (edit({11: None}), 11, "expected '{' after End Site"),
    (edit({9: "    CHANNELS 2 Zrotation Xrotation Yrotation"}), 9, "CHANNELS says 2 but lists 3"),
    (edit({9: "    CHANNELS 3 Zrotation Xrotation Wrotation"}), 9, "unknown channel 'Wrotation'"),
    (edit({9: "    CHANNELS three Zrotation Xrotation Yrotation"}), 9, "CHANNELS needs a count"),
    (edit({6: "  ROOT Knee"}), 6, "misplaced ROOT"),
    (edit(insert={12: "JOINT Toe"}), 12, "misplaced JOINT"),
    (edit({17: "Frames: 0"}), 17, "no motion frames"),
    (edit({14: None, 15: None, 16: None, 17: None, 18: None, 19: None, 20: None}), 13, "unexpected end of file"),
    ("", 1, "unexpected end of file"),
    ("\n  \n\n", 3, "unexpected end of file"),
])
def test_malformed_raises_with_line_number(text, line, message):
    with pytest.raises(BVHError) as err:
        parse_bvh(text, source="bad.bvh")
    msg = str(err.value)
    assert re.match(rf"bad\.bvh:{line}: ", msg), msg
    assert message in msg, msg


def test_unreadable_files(tmp_path):
    with pytest.raises(BVHError, match="cannot read"):
        read_bvh(tmp_path / "missing.bvh")
    bad_gz = tmp_path / "broken.bvh.gz"
    bad_gz.write_bytes(b"not gzip at all")
    with pytest.raises(BVHError, match="broken.bvh.gz: cannot read"):
        read_bvh(bad_gz)


# --- every staged mocap file --------------------------------------------------------------------
@pytest.mark.data
@pytest.mark.slow
def test_all_staged_files_parse(shared_data):
    rows = []
    for index in sorted(shared_data.glob("*/INDEX.tsv")):
        with open(index, newline="") as fh:
            rows += [(index.parent / (r["file"] + ".gz"), r) for r in csv.DictReader(fh, delimiter="\t")]
    files = sorted(shared_data.rglob("*.bvh.gz"))
    assert len(files) == 476 and sorted(p for p, _ in rows) == files
    wrong = []
    for path, row in rows:
        bvh = read_bvh(path)
        daz = row["skeleton"] == "daz-43"
        frames = int(row["frames"]) - (1 if daz else 0)
        if bvh.dropped_tpose != daz or bvh.num_frames != frames:
            wrong.append((str(path), row["skeleton"], bvh.dropped_tpose, bvh.num_frames, frames))
        assert np.all(np.isfinite(bvh.motion)), path
        assert bvh.frame_time == pytest.approx(float(row["header_frame_time"]), rel=1e-6), path
    assert not wrong, wrong[:10]
