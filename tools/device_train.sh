#!/usr/bin/env bash
# One GPU burst of the training campaign, run on the device machine from the repository root:
#   tools/device_train.sh PACK_DIR MINUTES [more train.py arguments...]
# PACK_DIR holds train.npz / val.npz from `python -m uplift_mocap.dev.training.motion_pack` (carried along,
# ~47 MiB). Checkpoints go to /tmp/gpu; what fits the device tool's return limits (<= 16 MiB a file) is
# copied to $OUT: the compact checkpoint (float16, no optimizer), best.pt and the learning curve.
# PYTHON: the interpreter with torch (default python3, as on the device machine).
set -euo pipefail
pack=$1
minutes=$2
shift 2
site=$(mktemp -d)
ln -s "$PWD" "$site/uplift_mocap"
work=/tmp/gpu
mkdir -p "$work"
dest=${OUT:-outputs/gpu}
mkdir -p "$dest"
status=0
PYTHONPATH="$site" PYTHONUNBUFFERED=1 "${PYTHON:-python3}" -m uplift_mocap.dev.training.train \
  --pack "$pack" --out "$work" --minutes "$minutes" --size default --cameras wide \
  --batch 256 --lr 2e-3 --warmup 300 --workers 12 --threads 4 --val-every 500 --log-every 100 \
  --compact "$work/compact.pt" "$@" || status=$?
for f in compact.pt best.pt train_log.jsonl; do
  [ -f "$work/$f" ] && cp "$work/$f" "$dest/" || true
done
exit $status
