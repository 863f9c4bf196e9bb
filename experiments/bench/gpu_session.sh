#!/usr/bin/env bash
# One prepared GPU session: everything a short loan of an H100/H200 should measure, every number to a file.
#
#   bash experiments/bench/gpu_session.sh [--device cuda|cpu] [--dry-run] [--budget SECONDS] [--data CACHE] [--out DIR]
#
# Steps (each with its own time limit; a failing step is recorded and the session goes on):
#   1. environment: nvidia-smi, torch / CUDA versions, poselift version        -> env.txt
#   2. the accelerator tests (pytest -m cuda, on --device)                     -> tests.txt
#   3. poselift bench --device DEVICE: fp32 / TF32 / bf16 ceilings, inference and the training step at 256 and
#      1024 channels, old step as baseline row                                 -> bench.md, bench.json
#   4. the published Human3.6M gt 27-frame schedule (experiments/configs/h36m_gt_27.yaml: 1024 channels,
#      batch 1024, mirrored duplicates) for what is left of the budget; stopped with SIGINT between steps
#      (the last finished epoch is kept), then evaluated under h36m-vp3d     -> run_gt27/, train.txt, evaluate.txt
#   5. summary.md: what ran, how long, the numbers.
#
# --data: a Human3.6M cache small enough to carry (poselift prepare h36m --source ... --out .gpu/h36m_gt_compact.h5
#   --compact: 56 MiB, bit-exact 3D + cameras). Default: .gpu/h36m_gt_compact.h5, else $POSELIFT_H36M.
# --dry-run: the same steps at toy sizes (quick bench, 64 channels, 8,192 windows, one epoch), to check the
#   script end to end on a CPU:  bash experiments/bench/gpu_session.sh --device cpu --dry-run
# --budget: seconds for the whole session (default 540: the device tool allows 600 per command).
# Output: $OUT when set (the device tool's folder that comes back), else --out, else gpu_session_out/.
set -u
DEVICE=cuda; DRY=0; BUDGET=540; DATA=""; OUTDIR="${OUT:-gpu_session_out}"
while [ $# -gt 0 ]; do
  case "$1" in
    --device) DEVICE="$2"; shift 2 ;;
    --dry-run) DRY=1; shift ;;
    --budget) BUDGET="$2"; shift 2 ;;
    --data) DATA="$2"; shift 2 ;;
    --out) OUTDIR="$2"; shift 2 ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "gpu_session.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$DEVICE" in cuda|cpu) ;; *) echo "gpu_session.sh: --device must be cuda or cpu, got $DEVICE" >&2; exit 2 ;; esac
if [ -z "$DATA" ]; then
  if [ -f .gpu/h36m_gt_compact.h5 ]; then DATA=.gpu/h36m_gt_compact.h5; else DATA="${POSELIFT_H36M:-}"; fi
fi
if [ -z "$DATA" ] || [ ! -e "$DATA" ]; then
  echo "gpu_session.sh: no Human3.6M data (give --data CACHE; make one with poselift prepare h36m --compact)" >&2
  exit 2
fi
mkdir -p "$OUTDIR"
START=$(date +%s)
PY=python3
left() { echo $(( BUDGET - ($(date +%s) - START) )); }
log() { echo "[$(date -u +%H:%M:%S) +$(( $(date +%s) - START ))s] $*" | tee -a "$OUTDIR/session.log"; }
step() {  # step NAME LIMIT_SECONDS OUTFILE CMD...: run with a time limit, record exit code and seconds
  local name=$1 limit=$2 file=$3; shift 3
  local t0; t0=$(date +%s)
  log "$name: start (limit ${limit}s)"
  timeout --signal=INT --kill-after=20 "$limit" "$@" > "$OUTDIR/$file" 2>&1
  local rc=$?
  echo "| $name | $rc | $(( $(date +%s) - t0 )) |" >> "$OUTDIR/steps.md"
  log "$name: exit $rc after $(( $(date +%s) - t0 ))s"
  return $rc
}
echo "| step | exit code | seconds |" > "$OUTDIR/steps.md"; echo "|---|---:|---:|" >> "$OUTDIR/steps.md"
log "device $DEVICE, dry run $DRY, budget ${BUDGET}s, data $DATA, output $OUTDIR"

# 0. poselift importable (a fresh device machine has the working tree but no install)
if ! $PY -c "import poselift" 2>/dev/null; then
  step install 120 install.txt $PY -m pip install --no-deps --no-build-isolation --no-index -e . || exit 1
fi

# 1. environment
{
  date -u; uname -a; nvidia-smi 2>&1 || echo "(no nvidia-smi)"
  $PY -c "import torch, poselift; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available()); print('poselift', poselift.__version__); print(torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no CUDA device')"
  git log -1 --format='commit %H %s' 2>/dev/null || echo "(no git history here)"
} > "$OUTDIR/env.txt" 2>&1
if [ "$DEVICE" = cuda ] && ! $PY -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  log "no CUDA device visible: stopping (see env.txt)"; exit 3
fi

# 2. the accelerator tests
POSELIFT_TEST_DEVICE=$DEVICE step tests 150 tests.txt $PY -m pytest -m cuda -q -p no:cacheprovider tests/cross/test_device_paths.py

# 3. the benchmark
if [ $DRY = 1 ]; then BENCH=(--quick --channels 64); else BENCH=(--channels 256 1024); fi
step bench $(( $(left) > 400 ? 200 : 120 )) bench.md $PY -m poselift bench --device "$DEVICE" --only inference training \
  "${BENCH[@]}" --out "$OUTDIR/bench.json"

# 4. the published gt 27-frame schedule for what is left, then its evaluation
RUN="$OUTDIR/run_gt27"
TRAIN=(--set eval.monitor_frames=2000)
if [ $DRY = 1 ]; then
  TRAIN=(--set model.channels=64 --set train.epochs=1 --set train.windows_per_epoch=8192 --set eval.monitor_frames=200)
fi
EVAL_RESERVE=$(( DRY == 1 ? 150 : 90 ))
TRAIN_LIMIT=$(( $(left) - EVAL_RESERVE ))
if [ "$TRAIN_LIMIT" -gt 60 ]; then
  step train "$TRAIN_LIMIT" train.txt $PY -m poselift train experiments/configs/h36m_gt_27.yaml --out "$RUN" \
    --data "$DATA" --device "$DEVICE" "${TRAIN[@]}" --no-progress
  if [ -f "$RUN/metrics.json" ]; then
    log "the schedule finished within the budget: metrics.json written by train"
  elif [ -f "$RUN/checkpoint.pt" ]; then
    step evaluate $(( $(left) > 30 ? $(left) : 30 )) evaluate.txt $PY -m poselift evaluate "$RUN" --data "$DATA" --no-progress
  else
    log "no finished epoch: nothing to evaluate"
  fi
else
  log "no time left to train (${TRAIN_LIMIT}s)"
fi
rm -f "$RUN/checkpoint.pt"  # 100 MB of weights do not need to come back; log.csv and metrics.json do

# 5. summary
$PY - "$OUTDIR" "$DEVICE" "$DRY" <<'EOF' > "$OUTDIR/summary.md" 2>&1
import csv, json, sys
from pathlib import Path
out, device, dry = Path(sys.argv[1]), sys.argv[2], sys.argv[3] == "1"
print(f"# GPU session summary ({'dry run, ' if dry else ''}device {device})\n")
print((out / "env.txt").read_text().strip().replace("\n", "  \n"), "\n")
print((out / "steps.md").read_text())
tests = (out / "tests.txt").read_text().strip().splitlines() if (out / "tests.txt").exists() else []
print("tests:", tests[-1] if tests else "(not run)", "\n")
if (out / "bench.md").exists():
    print((out / "bench.md").read_text())
log = out / "run_gt27" / "log.csv"
if log.exists():
    rows = list(csv.DictReader(log.open()))
    print(f"## Published gt 27-frame schedule: {len(rows)} epoch(s) trained\n")
    cols = list(rows[0]) if rows else []
    print("| " + " | ".join(cols) + " |")
    print("|" + "---:|" * len(cols))
    for r in rows:
        print("| " + " | ".join(f"{float(r[c]):.4g}" if r[c] not in ("", None) else "" for c in cols) + " |")
m = out / "run_gt27" / "metrics.json"
if m.exists():
    d = json.loads(m.read_text())
    keys = ("mpjpe", "p_mpjpe", "n_mpjpe", "mpjve")
    print(f"\nEvaluated after the last finished epoch under {d.get('protocol', {}).get('name')}: "
          + ", ".join(f"{k} {d[k]:.1f} mm" for k in keys if k in d))
EOF
log "done; summary in $OUTDIR/summary.md"
