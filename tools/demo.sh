#!/usr/bin/env bash
# The main job on the built-in default (`make demo`): runs the pipeline as far as it exists.
# Usage: tools/demo.sh SPEC OUTDIR
set -euo pipefail
spec="${1:-constraints/hl-lhc-multijet.yaml}"
out="${2:-build/demo}"
mkdir -p "$out"
step() { printf '\n== %s\n' "$*"; }

step "spec: derived parameters of $spec"
codesign spec show "$spec" | tee "$out/spec.txt"
codesign spec show --json "$spec" > "$out/spec.json"

step "bundle: random valid firmware bundle (stands in for a trained one until training lands)"
codesign bundle random --spec "$spec" --seed 0 --out "$out/bundle"
codesign bundle show "$out/bundle" --spec "$spec"

printf '\ndemo outputs in %s\n' "$out"
