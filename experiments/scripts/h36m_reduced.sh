#!/usr/bin/env bash
# Train and evaluate the reduced Human3.6M settings on CPU, one after another,
# then print the comparison tables (the numbers in docs/results.md; the README shows the main table).
#
#   bash experiments/scripts/h36m_reduced.sh [RUNS_DIR] [CONFIG_NAME ...]
#
# RUNS_DIR defaults to runs/h36m (keep it outside git: run folders hold models
# trained on Human3.6M, which is licensed for academic use). A run that was
# interrupted resumes from its last checkpoint when the script is started again.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-runs/h36m}
shift || true
configs=("$@")
if [ ${#configs[@]} -eq 0 ]; then
  configs=(h36m_sh_1_reduced h36m_sh_27_reduced h36m_gt_1_reduced h36m_gt_27_reduced
           h36m_sup10_gt_27_reduced h36m_semi_gt_27_reduced)
fi
for c in "${configs[@]}"; do
  if [ -f "$runs/$c/metrics.json" ]; then
    echo "== $c: done already ($runs/$c/metrics.json)"
    continue
  fi
  echo "== $c"
  poselift train "experiments/configs/$c.yaml" --out "$runs/$c" --no-progress
done
have=()
for c in "${configs[@]}"; do [ -f "$runs/$c/metrics.json" ] && have+=("$runs/$c"); done
poselift table "${have[@]}"
