#!/usr/bin/env bash
# PyTorch baseline and `caption bench all`, interleaved P, S, P, S, ... in separate processes (the machine is
# noisy: compare only ratios measured back to back), then the per-figure median over the runs of each side
# (../shared/bench/aggregate.py) and the ratio table (their median / ours).
#   PY=/work/venv-ref/bin/python N=3 bash Scripts/bench_back_to_back.sh [OUTDIR]
# TORCH_ARGS and BENCH_ARGS add options to each side, e.g. a smoke test:
#   TORCH_ARGS="--quick --threads 2 --only sat_decoder/E512/greedy" BENCH_ARGS="--quick --threads 2 --filter E512/greedy" N=1 bash ...
# ../shared is read-only, so the baseline folder is copied to OUTDIR (default: a new /tmp/bench-b2b.* folder).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
shared=${SHARED:-$repo/../shared}
PY=${PY:-python3}
N=${N:-3}
out=${1:-$(mktemp -d /tmp/bench-b2b.XXXXXX)}
mkdir -p "$out/runs"
cp "$shared"/bench/*.py "$shared"/bench/*.sh "$out/"
[ -f "$shared/bench/sample_341x256.jpg" ] && cp "$shared/bench/sample_341x256.jpg" "$out/"
caption=$repo/.build/release/caption
[ -x "$caption" ] || (cd "$repo" && swift build -c release)
for k in $(seq 1 "$N"); do
  echo "== PyTorch run $k/$N"
  (cd "$out" && "$PY" pytorch_baseline.py ${TORCH_ARGS:-} --out "runs/torch_run$k.json" > "runs/torch_run$k.log" 2>&1)
  echo "== caption bench run $k/$N"
  "$caption" bench all ${BENCH_ARGS:-} --json --out "$out/runs/swift_run$k.json" > /dev/null 2> "$out/runs/swift_run$k.log"
done
(cd "$out" && "$PY" aggregate.py runs/torch_run*.json --baseline torch_median_run.json --summary torch_median_of_runs.json \
   --table torch_results.md --title "PyTorch (back to back)" > /dev/null)
(cd "$out" && "$PY" aggregate.py runs/swift_run*.json --baseline swift_median_run.json --summary swift_median_of_runs.json \
   --table swift_results.md --title "caption bench (back to back)" > /dev/null)
"$caption" bench --compare "$out/torch_median_of_runs.json" --results "$out/swift_median_of_runs.json" | tee "$out/ratios.txt"
echo "files in $out"
