"""dev/training/ablation.py: cells, commands and the summary table read from real training logs."""
from __future__ import annotations

import json
from argparse import Namespace
from pathlib import Path

import pytest

from uplift_mocap.dev.training import ablation


def _log(d: Path, step: int, mpjpe: float, mpjae: float):
    d.mkdir(parents=True)
    recs = [{"kind": "train", "step": step // 2, "steps_per_s": 1.5, "loss": {}},
            {"kind": "val", "step": step // 2, "val": {"mpjpe_mm": 999.0, "mpjae_deg": 99.0, "fk_mpjpe_mm": 999.0},
             "val_clean": {"mpjpe_mm": 999.0, "mpjae_deg": 99.0}},
            {"kind": "train", "step": step, "steps_per_s": 1.7, "loss": {}},
            {"kind": "val", "step": step, "val": {"mpjpe_mm": mpjpe, "mpjae_deg": mpjae, "fk_mpjpe_mm": mpjpe + 5},
             "val_clean": {"mpjpe_mm": mpjpe - 2, "mpjae_deg": mpjae - 0.1}}]
    (d / "train_log.jsonl").write_text("\n".join(json.dumps(r) for r in recs) + "\n")


def test_summary_reads_the_last_validation_of_each_cell(tmp_path):
    _log(tmp_path / "6d_rot", 800, 134.1, 18.61)
    _log(tmp_path / "quat_fk", 800, 129.1, 61.04)
    cells = [("6d", True), ("quat", False), ("9d", True)]
    table = ablation.summary_table(tmp_path, cells).splitlines()
    assert len(table) == 5
    assert "6D (Gram-Schmidt) | yes | 800 | 134.1 mm | 18.61°" in table[2]
    assert "quaternion | no (FK only) | 800 | 129.1 mm | 61.04°" in table[3] and "999" not in table[3]
    assert "not run" in table[4]


def test_train_command_matches_the_cell(tmp_path):
    args = Namespace(data=Path("d"), out=tmp_path, size="small", steps=800, lr=2e-3, warmup=100, seed=0,
                     val_every=400, val_windows=512)
    cmd = ablation.train_command(args, "axis_angle", False)
    assert cmd[cmd.index("--repr") + 1] == "axis_angle" and "--no-rot-sup" in cmd
    assert cmd[cmd.index("--out") + 1] == str(tmp_path / "axis_angle_fk")
    assert "--no-rot-sup" not in ablation.train_command(args, "6d", True)


def test_cells_cover_every_rotation_head_the_network_has():
    net = pytest.importorskip("uplift_mocap.dev.training.uplifter_net")    # torch
    assert set(ablation.REPRS) == set(net.REPR_DIMS)
