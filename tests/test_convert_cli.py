"""``uplift convert`` and ``uplift lift``: outputs, summaries, and one-line failures with exit codes."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from uplift_mocap.inference.pipeline import detect  # noqa: F401  (before mediapipe: protobuf patch)
from uplift_mocap.cli import commands as cli
from uplift_mocap.cli import convert as cc
from uplift_mocap.inference.pipeline import motion_clip as mc
from uplift_mocap.inference.core import skeleton as S
from uplift_mocap.inference.mocap.bvh import read_bvh

for _mod in ("cv2", "mediapipe", "onnxruntime"):
    if importlib.util.find_spec(_mod) is None:
        pytest.skip(f"{_mod} not installed (make venv installs it)", allow_module_level=True)

WALK = Path(__file__).resolve().parent / "fixtures" / "person_walk.mp4"


def blank_video(path: Path, frames: int = 8) -> Path:
    import cv2

    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (160, 120))
    for k in range(frames):
        out.write(np.full((120, 160, 3), 30 + 20 * k, np.uint8))
    out.release()
    return path


def convert(capsys, *args) -> tuple[int, str, list[str]]:
    code = cli.main(["convert", *map(str, args)])
    cap = capsys.readouterr()
    return code, cap.out, [line for line in cap.err.splitlines() if line.strip()]


def test_several_videos_one_bad_the_others_are_written(tmp_path, capsys):
    out_dir = tmp_path / "out" / "nested"
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(np.random.default_rng(0).integers(0, 256, 3000, dtype=np.uint8).tobytes())
    code, out, err = convert(capsys, tmp_path / "missing.mp4", WALK, junk, "-o", out_dir,
                             "--format", "bvh,npz,json", "-q")
    assert code == cc.EXIT_INPUT
    assert err == [f"error: {tmp_path / 'missing.mp4'}: no such file",
                   f"error: {junk}: cannot open: corrupt, truncated or not a video the decoder supports"]
    assert sorted(p.name for p in out_dir.iterdir()) == ["person_walk.bvh", "person_walk.json", "person_walk.npz"]
    bvh = read_bvh(out_dir / "person_walk.bvh", drop_tpose=False)
    assert bvh.num_frames == 75 and bvh.fps == pytest.approx(30.0)
    clip = mc.read_npz(out_dir / "person_walk.npz")
    assert clip.num_frames == 75 and clip.source == str(WALK)
    # hands are on by default: the BVH carries the full skeleton when the clip has fingers
    assert bvh.names[:6] == list(S.JOINT_NAMES[:6])
    assert sorted(bvh.names) == sorted(S.FULL_JOINT_NAMES if clip.has_fingers else S.JOINT_NAMES)
    assert json.loads((out_dir / "person_walk.json").read_text())["num_frames"] == 75
    assert f"{WALK}: 75 frames at 30 fps" in out and "person in" in out and "wrote" in out
    for stage in ("read", "detect", "lift", "world", "smooth", "write"):
        assert f" {stage} " in out
    assert "converted 1 of 3 videos" in out and "failed:" in out


def test_short_range_converts_with_exit_code_0(tmp_path, capsys):
    code, out, err = convert(capsys, WALK, "-o", tmp_path, "--end", "0.5", "--stride", "2", "--smoothing", "0",
                             "--in-place", "--focal-mm", "35", "--provider", "cpu")
    assert code == 0 and err == []
    clip_bvh = read_bvh(tmp_path / "person_walk.bvh", drop_tpose=False)
    assert clip_bvh.num_frames == 8 and clip_bvh.fps == pytest.approx(15.0)
    assert "converted 1 of 1 video" in out


@pytest.mark.parametrize("case", ["missing", "corrupt", "zero-length", "no person", "not writable"])
def test_each_bad_input_gives_its_exit_code_and_one_line(tmp_path, capsys, case):
    out_dir = tmp_path / "out"
    video = tmp_path / "clip.mp4"
    if case == "corrupt":
        video.write_bytes(WALK.read_bytes()[:2000])
    elif case == "zero-length":
        video.write_bytes(b"")
    elif case == "no person":
        video = blank_video(tmp_path / "blank.avi")
    elif case == "not writable":
        video = WALK
        out_dir.write_text("a file where the folder should be")
    code, out, err = convert(capsys, video, "-o", out_dir)
    expected = {"missing": (cc.EXIT_INPUT, f"error: {video}: no such file"),
                "corrupt": (cc.EXIT_INPUT, f"error: {video}: cannot open"),
                "zero-length": (cc.EXIT_INPUT, f"error: {video}: zero-length video"),
                "no person": (cc.EXIT_NO_PERSON, f"error: {video}: no person found in 8 frames"),
                "not writable": (cc.EXIT_OUTPUT, f"error: output folder {out_dir} is a file, not a folder")}[case]
    assert code == expected[0] and code != 0
    assert len(err) == 1 and err[0].startswith(expected[1]), err
    if case != "not writable":
        assert not out_dir.exists()          # nothing written: no empty folder left behind


def test_output_folder_without_write_permission(tmp_path, capsys):
    import os

    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as a user that ignores permissions (root)")
        code, _, err = convert(capsys, WALK, "-o", locked)
        assert code == cc.EXIT_OUTPUT and err == [f"error: output folder {locked} is not writable"]
    finally:
        locked.chmod(0o700)


def test_bad_options_and_formats(tmp_path, capsys):
    code, _, err = convert(capsys, WALK, "-o", tmp_path, "--format", "bvh,abc")
    assert code == cc.EXIT_USAGE and err == ["error: unknown output format 'abc' (available: blend, bvh, fbx, json, npz)"]
    code, _, err = convert(capsys, WALK, "-o", tmp_path, "--format", "blend", "--mapping", "maya")
    assert code == cc.EXIT_USAGE and len(err) == 1 and err[0].startswith("error: unknown --mapping 'maya'")
    code, _, err = convert(capsys, WALK, "-o", tmp_path, "--start", "2", "--end", "1")
    assert code == cc.EXIT_USAGE and err == ["error: end (1.0 s) must be after start (2.0 s)"]
    with pytest.raises(SystemExit):  # argparse: not a fraction
        cli.main(["convert", str(WALK), "-o", str(tmp_path), "--smoothing", "2"])
    capsys.readouterr()
    code, _, err = convert(capsys, WALK, "-o", tmp_path, "--provider", "nosuch")
    assert code == cc.EXIT_USAGE and len(err) == 1 and "provider 'nosuch' is not available" in err[0]
    assert not any(tmp_path.iterdir())


def test_same_names_do_not_overwrite(tmp_path, capsys):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = tmp_path / "a" / "take.avi"
    second = tmp_path / "b" / "take.avi"
    blank_video(first)
    blank_video(second)
    assert cc._stems([first, second, WALK]) == ["take", "take_2", "person_walk"]


def test_progress_bar_draws_stages_on_a_terminal():
    import io

    class Tty(io.StringIO):
        def isatty(self):
            return True

    s = Tty()
    from uplift_mocap.cli.report import ProgressBar

    bar = ProgressBar(s)
    for i in range(1, 4):
        bar("detect", i, 3)
    bar("lift", 0, 1)
    bar("lift", 1, 1)
    bar.finish()
    text = s.getvalue()
    assert "detect  [" in text and "3/3" in text and "lift" in text and text.endswith("\n")
    assert text.count("\n") == 2  # one line per stage
    quiet = io.StringIO()
    ProgressBar(quiet)("detect", 1, 3)
    assert quiet.getvalue() == ""  # not a terminal: no bar


@pytest.fixture(scope="module")
def landmarks_npz(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("lift") / "walk_landmarks.npz"
    detect.detect_video(WALK, detect.DetectOptions(end_s=1.0)).save_npz(path)
    return path


@pytest.mark.parametrize("name, fmt", [("walk.npz", None), ("walk.json", None), ("walk.bvh", None),
                                       ("walk.motion", "npz")])
def test_lift_writes_by_extension_or_format(landmarks_npz, tmp_path, capsys, name, fmt):
    out = tmp_path / "sub" / name
    code = cli.main(["lift", str(landmarks_npz), "-o", str(out)] + (["--format", fmt] if fmt else []))
    assert code == 0 and out.is_file()
    kind = fmt or out.suffix[1:]
    if kind == "npz":
        assert mc.read_npz(out).num_frames == 30
    elif kind == "json":
        assert len(json.loads(out.read_text())["frames"]) == 30
    else:
        assert read_bvh(out, drop_tpose=False).num_frames == 30
    assert "30 frames at 30 fps" in capsys.readouterr().out


def test_lift_errors(landmarks_npz, tmp_path, capsys):
    def lift(*args):
        code = cli.main(["lift", *map(str, args)])
        return code, [line for line in capsys.readouterr().err.splitlines() if line.strip()]

    assert lift(tmp_path / "none.npz", "-o", tmp_path / "x.npz") == (
        cc.EXIT_INPUT, [f"error: {tmp_path / 'none.npz'}: no such file"])
    other = tmp_path / "other.npz"
    np.savez(other, x=np.zeros(3))
    code, err = lift(other, "-o", tmp_path / "x.npz")
    assert code == cc.EXIT_INPUT and len(err) == 1 and "not a landmarks file from detection" in err[0]
    code, err = lift(landmarks_npz, "-o", tmp_path / "x.abc")
    assert code == cc.EXIT_USAGE and "cannot tell the output format" in err[0]
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    code, err = lift(landmarks_npz, "-o", blocker / "x.npz")
    assert code == cc.EXIT_OUTPUT and err == [f"error: output folder {blocker} is a file, not a folder"]


def test_real_process_exit_code_and_single_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "uplift_mocap.cli", "convert", str(tmp_path / "nope.mov"),
                           "-o", str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == cc.EXIT_INPUT
    assert proc.stderr.strip() == f"error: {tmp_path / 'nope.mov'}: no such file"
    assert "converted 0 of 1 video" in proc.stdout


def test_lift_writes_bvh_in_centimetres_on_request(landmarks_npz, tmp_path):
    from uplift_mocap.inference.mocap.bvh import read_bvh

    assert cli.main(["lift", str(landmarks_npz), "-o", str(tmp_path / "m.bvh")]) == 0
    assert cli.main(["lift", str(landmarks_npz), "-o", str(tmp_path / "cm.bvh"), "--bvh-units", "cm"]) == 0
    m, cm = read_bvh(tmp_path / "m.bvh", scale=1.0), read_bvh(tmp_path / "cm.bvh", scale=1.0)
    np.testing.assert_allclose(cm.offsets, 100.0 * m.offsets, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(cm.motion[:, :3], 100.0 * m.motion[:, :3], rtol=1e-5, atol=1e-3)   # root motion
    np.testing.assert_allclose(cm.motion[:, 3:], m.motion[:, 3:], atol=1e-4)                      # rotations
    # read with unit detection, both are the same body in metres
    np.testing.assert_allclose(read_bvh(tmp_path / "cm.bvh").offsets, read_bvh(tmp_path / "m.bvh").offsets, atol=1e-6)


def test_existing_outputs_are_kept_unless_overwrite(tmp_path, capsys):
    (tmp_path / "person_walk.bvh").write_text("mine\n")
    code, _, err = convert(capsys, WALK, "-o", tmp_path, "--end", "0.5", "--format", "bvh,json")
    assert code == cc.EXIT_USAGE and err == [f"error: {tmp_path / 'person_walk.bvh'} exists: use --overwrite to replace"]
    assert (tmp_path / "person_walk.bvh").read_text() == "mine\n" and not (tmp_path / "person_walk.json").exists()
    code, _, _ = convert(capsys, WALK, "-o", tmp_path, "--end", "0.5", "--format", "bvh,json", "--overwrite")
    assert code == 0 and (tmp_path / "person_walk.bvh").read_text().startswith("HIERARCHY")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["person_walk.bvh", "person_walk.json"]  # no temp files


def test_detect_then_lift_and_their_refusals(tmp_path, capsys):
    det = tmp_path / "walk.npz"
    assert cli.main(["detect", str(WALK), "-o", str(det), "--end", "1"]) == 0
    assert "person in 100.0% of" in capsys.readouterr().out
    assert cli.main(["detect", str(WALK), "-o", str(det)]) == cc.EXIT_USAGE          # exists
    assert "use --overwrite" in capsys.readouterr().err
    assert cli.main(["detect", str(WALK), "-o", str(tmp_path / "walk.json")]) == cc.EXIT_USAGE
    assert cli.main(["detect", str(tmp_path / "nope.mp4"), "-o", str(tmp_path / "n.npz")]) == cc.EXIT_INPUT
    capsys.readouterr()
    out = tmp_path / "walk.bvh"
    assert cli.main(["lift", str(det), "-o", str(out)]) == 0 and out.is_file()
    assert cli.main(["lift", str(det), "-o", str(out)]) == cc.EXIT_USAGE            # exists
    assert cli.main(["lift", str(det), "-o", str(out), "--overwrite"]) == 0
    # the detections file keeps the hands (unless --no-hands), so lift gives fingers too
    clip = tmp_path / "walk_lift.npz"
    assert cli.main(["lift", str(det), "-o", str(clip)]) == 0
    assert mc.read_npz(clip).fingers is not None and mc.read_npz(clip).finger_keyed.any()
    bare = tmp_path / "bare.npz"
    assert cli.main(["detect", str(WALK), "-o", str(bare), "--end", "1", "--no-hands"]) == 0
    assert cli.main(["lift", str(bare), "-o", str(tmp_path / "bare_lift.npz")]) == 0
    assert mc.read_npz(tmp_path / "bare_lift.npz").fingers is None


def test_rig_options_need_a_blender_format(tmp_path, capsys):
    code, _, err = convert(capsys, WALK, "-o", tmp_path / "o", "--mapping", "mixamo")
    assert code == cc.EXIT_USAGE and err == ["error: --mapping only applies to --format blend or fbx"]
    assert not (tmp_path / "o").exists()


def test_hands_on_by_default_and_off_with_no_hands(tmp_path, capsys):
    """Default: a second pass finds the hands and the clip carries moving fingers; --no-hands: the body only."""
    code, out, _ = convert(capsys, WALK, "-o", tmp_path / "on", "--format", "npz,bvh", "-q")
    assert code == 0 and " hands " in out and "fingers keyed in" in out
    on = mc.read_npz(tmp_path / "on" / "person_walk.npz")
    assert on.fingers.shape == (75, S.NUM_FINGER_JOINTS, 4) and on.finger_keyed.mean() > 0.5
    bend = np.degrees(2 * np.arccos(np.clip(np.abs(on.fingers[..., 0]), 0, 1)))
    assert np.ptp(bend, axis=0).max() > 5.0                       # the fingers move
    assert len(read_bvh(tmp_path / "on" / "person_walk.bvh", drop_tpose=False).names) == S.NUM_FULL_JOINTS
    code, out, _ = convert(capsys, WALK, "-o", tmp_path / "off", "--format", "npz", "--no-hands", "-q")
    off = mc.read_npz(tmp_path / "off" / "person_walk.npz")
    assert code == 0 and off.fingers is None and " hands " not in out
    np.testing.assert_allclose(off.local_rot, on.local_rot, atol=1e-6)   # hands never change the body
