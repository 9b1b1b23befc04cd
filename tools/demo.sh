#!/usr/bin/env bash
# The main job on the built-in default (`make demo`): the whole chain from a fresh clone.
#   smoke data -> QAT training (end-to-end, smoke preset) -> export -> codesign build --target xcvu13p
#   (HLS C-sim and RTL simulation, bit-exact against the emulator) -> check-latency -> report
# Every step resumes: a rerun skips what is complete.
# Usage: tools/demo.sh SPEC OUTDIR
set -euo pipefail
spec="${1:-constraints/hl-lhc-multijet.yaml}"
out="${2:-build/demo}"
data="${DATA:-data/smoke}"
# The demo trains the end-to-end model on the smoke preset (about 7 min on 2 idle cores).
# MODES="sequential e2e" also trains the sequential model (about 12 min more) and the report
# then compares them; TRAIN_FLAGS adds options to `codesign train` (e.g. "--epochs 2").
modes="${MODES:-e2e}"
train_flags="${TRAIN_FLAGS:-}"
mkdir -p "$out"
step() { printf '\n== [%s] %s\n' "$(date -u +%H:%M:%S)" "$*"; }

step "spec: derived parameters of $spec"
codesign spec show "$spec"

step "data: Pythia 8 smoke dataset in $data"
codesign data generate --preset smoke --out "$data" --workers 2

runs=()
for mode in $modes; do
  step "train ($mode, smoke preset $train_flags), export the bundle, evaluate with the emulator"
  # shellcheck disable=SC2086
  codesign train --spec "$spec" --data "$data" --mode "$mode" --preset smoke $train_flags --out "$out/runs/$mode"
  runs+=(--run "$out/runs/$mode")
done

last_mode="${modes##* }"
step "build: HLS project + C-sim, Verilog + RTL simulation, yosys resources ($last_mode bundle)"
codesign build --spec "$spec" --bundle "$out/runs/$last_mode/bundle" --target xcvu13p --out "$out/build" \
  --data "$data" --events 100 --sim verilator --rtl-events 4

step "check-latency"
codesign check-latency --spec "$spec" --build "$out/build"

step "report"
codesign report --build "$out/build" "${runs[@]}" --out "$out/report"
printf '\ndemo done: open %s/report/report.html\n' "$out"
