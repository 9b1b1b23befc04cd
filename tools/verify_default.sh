#!/usr/bin/env bash
# The fast path (`make verify`): build and verify the committed default bundle (HLS C-sim and RTL
# simulation, bit-exact against the emulator), gate the latency and write the report. yosys
# synthesis (minutes) is left out here; `make demo` runs it.
# Usage: tools/verify_default.sh SPEC OUTDIR
set -euo pipefail
spec="${1:-constraints/hl-lhc-multijet.yaml}"
out="${2:-build/verify}"
codesign build --spec "$spec" --bundle codesign/default_bundle --target xcvu13p --out "$out/build" \
  --events 100 --sim verilator --rtl-events 2 --steps events,hls,csim,csynth,rtl,rtl_sim,patterns
codesign check-latency --spec "$spec" --build "$out/build"
codesign report --build "$out/build" --out "$out/report"
printf '\nverified: open %s/report/report.html\n' "$out"
