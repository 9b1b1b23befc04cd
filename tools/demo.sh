#!/usr/bin/env bash
# The main job on the built-in default (`make demo`): the whole chain from a fresh clone.
#   smoke data -> QAT training (sequential and end-to-end) -> export -> codesign build --target xcvu13p
#   (HLS C-sim and RTL simulation, bit-exact against the emulator) -> check-latency -> report
# Every step resumes: a rerun skips what is complete.
# Usage: tools/demo.sh SPEC OUTDIR
set -euo pipefail
spec="${1:-constraints/hl-lhc-multijet.yaml}"
out="${2:-build/demo}"
data="${DATA:-data/smoke}"
# Demo-length training (2 epochs of at most 25 steps per stage, a few minutes); drop these flags
# (or set TRAIN_FLAGS="--preset smoke") for the documented smoke training (about 13 min per mode).
train_flags="${TRAIN_FLAGS:---epochs 2 --max-steps-per-epoch 25}"
mkdir -p "$out"
step() { printf '\n== [%s] %s\n' "$(date -u +%H:%M:%S)" "$*"; }

step "spec: derived parameters of $spec"
codesign spec show "$spec"

step "data: Pythia 8 smoke dataset in $data"
codesign data generate --preset smoke --out "$data" --workers 2

for mode in sequential e2e; do
  step "train ($mode: $train_flags), export the bundle, evaluate with the emulator"
  # shellcheck disable=SC2086
  codesign train --spec "$spec" --data "$data" --mode "$mode" $train_flags --out "$out/runs/$mode"
done

step "build: HLS project + C-sim, Verilog + RTL simulation, yosys resources (end-to-end bundle)"
codesign build --spec "$spec" --bundle "$out/runs/e2e/bundle" --target xcvu13p --out "$out/build" \
  --data "$data" --events 100 --sim verilator --rtl-events 4

step "check-latency"
codesign check-latency --spec "$spec" --build "$out/build"

step "report"
codesign report --build "$out/build" --run "$out/runs/sequential" --run "$out/runs/e2e" --out "$out/report"
printf '\ndemo done: open %s/report/report.html\n' "$out"
