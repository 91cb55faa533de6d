"""uplift-dev eval-real on ../shared/real (skipped without it): the scorer of that folder, our lifts, the
MediaPipe baseline, and the last line."""
from __future__ import annotations

import importlib.util
import json
import re

import pytest

if importlib.util.find_spec("cv2") is None or importlib.util.find_spec("onnxruntime") is None:
    pytest.skip("opencv / onnxruntime not installed", allow_module_level=True)

LAST = re.compile(r"^REAL_MPJPE_mm=(\S+) REAL_BONE_DEG=(\S+) MPWORLD_MPJPE_mm=(\S+) MPWORLD_BONE_DEG=(\S+) "
                  r"CONSISTENT2D_MPJPE_mm=(\S+) FLIP_PCT=(\S+)$")


def test_lifts_and_baseline_on_one_camera(real_dir, tmp_path, capsys):
    from uplift_mocap.dev import cli

    out = tmp_path / "real.json"
    plot = importlib.util.find_spec("matplotlib") is not None      # not in the Blender environments
    assert cli.main(["eval-real", "--real", str(real_dir), "--cam", "cam04", "--source", "mp_world",
                     "--source", "guided", "--source", "consistent", "--json", str(out)]
                    + (["--plot", str(tmp_path / "real.png")] if plot else [])) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    m = LAST.match(lines[-1])
    assert m, lines[-1]
    real, real_deg, mp, mp_deg, consistent, flips = (float(x) for x in m.groups())
    scores = json.loads(out.read_text())
    if plot:
        png = (tmp_path / "real.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000      # the chart, with its bars
    rows = {r["source"]: r for r in scores["rows"]}
    assert set(rows) == {"mp_world", "guided", "consistent"} and all(r["cam"] == "cam04" for r in rows.values())
    assert rows["mp_world"]["frames"] > 80
    # MediaPipe's own world landmarks, scored by the folder's scorer (its README: 107.7 mm / 18.8 deg on cam04)
    assert mp == pytest.approx(107.7, abs=0.1) and mp_deg == pytest.approx(18.8, abs=0.1)
    # our lifts are real numbers in a sane range; exact 2D lifts better than MediaPipe's detections
    assert 40 < consistent < real < 300 and 5 < real_deg < 40
    assert flips != flips  # NaN: the pipeline did not run


def test_unknown_camera_is_a_clear_error(real_dir, capsys):
    from uplift_mocap.dev import cli

    assert cli.main(["eval-real", "--real", str(real_dir), "--cam", "cam09", "--source", "mp_world"]) == 2
    assert "unknown camera cam09" in capsys.readouterr().err
