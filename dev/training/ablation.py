"""Rotation-representation ablation: {6d, 9d, quat, axis_angle} x {rotation supervision, FK-only}.

    python -m uplift_mocap.dev.training.ablation --data ../shared/data --out outputs/ablation \
        [--steps 800] [--parallel 2] [--size small] [--only 6d,9d] [--summary-only]

Each cell is one short ``dev.training.train`` run with the same seed, steps, batch and schedule
(``--steps`` rather than minutes, so slower representations get the same number of updates);
cells run ``--parallel`` at a time with ``--threads 1`` each. A cell whose ``train_log.jsonl``
already ends with a validation at ``--steps`` is not rerun. The summary reads each run's last
validation record (the fixed noisy and clean validation sets of ``dev.training.train``; never the
test split) and prints a Markdown table, also written to ``OUT/ablation.md``.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPRS = ("6d", "9d", "quat", "axis_angle")   # table order; the same set as uplifter_net.REPR_DIMS (test)
LABELS = {"6d": "6D (Gram-Schmidt)", "9d": "9D (SVD)", "quat": "quaternion", "axis_angle": "axis-angle"}


def cell_name(repr_: str, rot_sup: bool) -> str:
    """Folder name of one ablation cell, e.g. "6d_rot" or "quat_fk"."""
    return f"{repr_}_{'rot' if rot_sup else 'fk'}"


def last_val(run_dir: Path) -> dict | None:
    """Last {"kind": "val"} record of run_dir/train_log.jsonl, or None."""
    log = run_dir / "train_log.jsonl"
    if not log.exists():
        return None
    rec = None
    for line in log.read_text().splitlines():
        r = json.loads(line)
        if r.get("kind") == "val":
            rec = r
    return rec


def train_rate(run_dir: Path) -> float | None:
    """Median training steps/s logged in run_dir (1 thread each), or None."""
    log = run_dir / "train_log.jsonl"
    if not log.exists():
        return None
    rates = sorted(json.loads(l)["steps_per_s"] for l in log.read_text().splitlines() if '"train"' in l)
    return rates[len(rates) // 2] if rates else None


def summary_table(out: Path, cells: list[tuple[str, bool]]) -> str:
    """Markdown table of the cells' last validation (noisy and clean), MPJPE mm / MPJAE deg."""
    rows = ["| rotation head | rotation loss | steps | noisy MPJPE | noisy MPJAE | FK MPJPE | clean MPJPE | clean MPJAE | steps/s |",
            "|---|---|---|---|---|---|---|---|---|"]
    for repr_, rot in cells:
        d = out / cell_name(repr_, rot)
        rec = last_val(d)
        if rec is None:
            rows.append(f"| {LABELS[repr_]} | {'yes' if rot else 'no (FK only)'} | - | not run | | | | | |")
            continue
        n, c, sps = rec["val"], rec["val_clean"], train_rate(d)
        sps_s = f"{sps:.2f}" if sps else "-"
        rows.append(f"| {LABELS[repr_]} | {'yes' if rot else 'no (FK only)'} | {rec['step']} | {n['mpjpe_mm']:.1f} mm | "
                    f"{n['mpjae_deg']:.2f}° | {n['fk_mpjpe_mm']:.1f} mm | {c['mpjpe_mm']:.1f} mm | {c['mpjae_deg']:.2f}° | "
                    f"{sps_s} |")
    return "\n".join(rows)


def train_command(args, repr_: str, rot: bool) -> list[str]:
    cmd = [sys.executable, "-m", "uplift_mocap.dev.training.train", "--data", str(args.data),
           "--out", str(args.out / cell_name(repr_, rot)), "--size", args.size, "--repr", repr_,
           "--steps", str(args.steps), "--lr", str(args.lr), "--warmup", str(args.warmup), "--threads", "1",
           "--seed", str(args.seed), "--val-every", str(args.val_every), "--val-windows", str(args.val_windows)]
    return cmd + ([] if rot else ["--no-rot-sup"])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m uplift_mocap.dev.training.ablation", description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--steps", type=int, default=800)
    p.add_argument("--size", default="small")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--val-every", type=int, default=400)
    p.add_argument("--val-windows", type=int, default=512)
    p.add_argument("--parallel", type=int, default=2)
    p.add_argument("--only", default=",".join(REPRS), help="comma-separated representations")
    p.add_argument("--summary-only", action="store_true")
    args = p.parse_args(argv)
    reprs = [r for r in args.only.split(",") if r]
    bad = [r for r in reprs if r not in REPRS]
    if bad:
        p.error(f"unknown representation(s) {bad}; choose from {list(REPRS)}")
    cells = [(r, rot) for r in reprs for rot in (True, False)]
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.summary_only:
        todo = [c for c in cells if (last_val(args.out / cell_name(*c)) or {}).get("step") != args.steps]
        running: list[tuple[subprocess.Popen, object]] = []
        while todo or running:
            while todo and len(running) < args.parallel:
                repr_, rot = todo.pop(0)
                d = args.out / cell_name(repr_, rot)
                if d.exists():  # a partial run: start over so every cell sees the same schedule
                    for f in d.iterdir():
                        f.unlink()
                d.mkdir(parents=True, exist_ok=True)
                logf = open(d / "stdout.log", "w")
                running.append((subprocess.Popen(train_command(args, repr_, rot), stdout=logf,
                                                 stderr=subprocess.STDOUT), logf))
                print(f"started {cell_name(repr_, rot)}", flush=True)
            time.sleep(5)
            for proc, logf in list(running):
                if proc.poll() is not None:
                    logf.close()
                    running.remove((proc, logf))
                    print(f"finished {Path(logf.name).parent.name} (rc {proc.returncode})", flush=True)
    table = summary_table(args.out, cells)
    (args.out / "ablation.md").write_text(table + "\n")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
