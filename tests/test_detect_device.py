"""Where pose detection runs: MediaPipe's GPU delegate on request, the CPU with a one-line message otherwise."""
from __future__ import annotations

import importlib.util
import io
from pathlib import Path

import numpy as np
import pytest

from uplift_mocap.inference.pipeline import detect  # before mediapipe (mediapipe_import._patch_protobuf)
from uplift_mocap.inference.pipeline.detect import DetectOptions, PoseDetector

for _mod in ("cv2", "mediapipe"):
    if importlib.util.find_spec(_mod) is None:
        pytest.skip(f"{_mod} not installed (make venv installs it)", allow_module_level=True)

WALK = Path(__file__).resolve().parent / "fixtures" / "person_walk.mp4"
NOTE = "pose detection: MediaPipe's GPU delegate is not available here ("


def test_gpu_request_runs_on_the_gpu_or_says_why_not():
    """The real selection on this machine: either the GPU graph starts (no note) or the CPU runs, with the note."""
    with PoseDetector(DetectOptions(delegate="gpu")) as det:
        assert (det.device, det.device_note == "") in (("GPU", True), ("CPU", False))
        if det.device == "CPU":
            assert det.device_note.startswith(NOTE) and det.device_note.endswith("); ran on the CPU")
            assert "\n" not in det.device_note and len(det.device_note) < 200
    with PoseDetector(DetectOptions()) as det:
        assert (det.device, det.device_note) == ("CPU", "")


def test_fallback_detects_the_same_as_the_cpu():
    gpu = detect.detect_video(WALK, DetectOptions(delegate="gpu", workers=1))
    cpu = detect.detect_video(WALK, DetectOptions(workers=1))
    if gpu.device == "GPU":
        pytest.skip("this machine runs MediaPipe's GPU delegate: no fallback to check")
    assert gpu.device_note.startswith(NOTE) and cpu.device_note == ""
    np.testing.assert_array_equal(gpu.landmarks, cpu.landmarks)


def test_bad_device_is_refused():
    from uplift_mocap.inference.pipeline.run import ConvertOptions, PipelineError

    with pytest.raises(ValueError, match="pose detection device must be one of cpu, gpu, got 'tpu'"):
        PoseDetector(DetectOptions(delegate="tpu"))
    with pytest.raises(PipelineError, match="pose detection device must be one of cpu, gpu"):
        ConvertOptions(detect_device="tpu").validate()


def test_cli_reports_the_device_and_the_fallback(tmp_path):
    from uplift_mocap.cli.commands import main

    out, err = io.StringIO(), io.StringIO()
    import contextlib

    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["convert", str(WALK), "-o", str(tmp_path / "o"), "--detect-device", "gpu", "-q"])
    assert code == 0, err.getvalue()
    text = out.getvalue() + err.getvalue()
    device_line = next(ln for ln in text.splitlines() if ln.strip().startswith("device"))
    if "detect GPU" in device_line:
        pytest.skip("this machine runs MediaPipe's GPU delegate: no fallback to check")
    assert "detect CPU (MediaPipe)" in device_line
    assert any(ln.strip().startswith("warning  " + NOTE) for ln in text.splitlines()), text


_NO_MATPLOTLIB = r'''
import sys


class Missing:
    """matplotlib as if it were not installed (the Blender zip does not bundle it)."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "matplotlib":
            raise ModuleNotFoundError(f"No module named {name!r}")
        return None


sys.meta_path.insert(0, Missing())
from uplift_mocap.inference.pipeline import detect
det = detect.detect_video(sys.argv[1], detect.DetectOptions(workers=1))
left = [m for m in sys.modules if m.split(".")[0] == "matplotlib"]
try:
    import matplotlib
    after = "imported"
except ImportError:
    after = "ImportError"
print("RESULT", round(float(det.detected.mean()), 3), left, after)
'''


def test_detection_needs_no_matplotlib(tmp_path):
    """MediaPipe's vision package imports matplotlib.pyplot; without it (as in the Blender zip) detection still
    runs, and the stand-in is gone afterwards (another add-on importing matplotlib still finds it missing)."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", _NO_MATPLOTLIB, str(WALK)], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert line, proc.stdout + proc.stderr
    _, fraction, rest = line[0].split(" ", 2)
    assert float(fraction) >= 0.98 and rest == "[] ImportError", line[0]
