"""Pictures of the people seen (inference/pipeline/people_thumbnails.py): square crops around each person at the
frame where they are tallest; on the fixture walk and, when present, the real two-person clip of ../shared/real."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from uplift_mocap.inference.pipeline import detect
from uplift_mocap.inference.pipeline.people_thumbnails import PAD, best_frames, crop_box, person_thumbnails

FIXTURES = Path(__file__).parent / "fixtures"
REAL = Path(__file__).resolve().parents[2] / "shared" / "real" / "videos" / "cam01.mp4"


def test_crop_box_is_a_square_around_the_landmarks_with_a_margin():
    lm = np.full((33, 3), np.nan)
    lm[:10, :2] = np.column_stack([np.linspace(0.4, 0.5, 10), np.linspace(0.2, 0.8, 10)])
    x0, y0, side = crop_box(lm, 640, 480)
    assert side == pytest.approx(0.6 * 480 * 1.24, abs=1)                        # the taller side, grown
    assert x0 < 0.4 * 640 and x0 + side > 0.5 * 640 and y0 < 0.2 * 480 and y0 + side > 0.8 * 480


def test_one_picture_per_person_at_their_tallest():
    videos = [FIXTURES / "person_walk.mp4"] + ([REAL] if REAL.is_file() else [])
    for video in videos:
        tracks, times = detect.detect_people(video, detect.DetectOptions(workers=1))
        pictures = person_thumbnails(video, tracks, times, 64)
        assert len(pictures) == len(tracks) >= 1
        for tr, i, pic in zip(tracks, best_frames(tracks), pictures):
            assert tr.seen[i] and pic.shape == (64, 64, 3) and pic.dtype == np.uint8
            assert np.mean(np.all(pic == PAD, axis=-1)) < 0.5 and pic.std() > 10     # a picture, not padding
        if video == REAL:
            assert len(pictures) >= 2 and np.abs(pictures[0].astype(int) - pictures[1]).mean() > 10   # two people
    if not REAL.is_file():
        pytest.skip("../shared/real not present: only the one-person fixture was checked")
