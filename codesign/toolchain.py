"""External tools the builds and tests use: the ap_types headers and the C++ compiler."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from pathlib import Path

from codesign.errors import InputError


def ap_types_dir() -> Path:
    """The Apache-2.0 Xilinx ap_types headers shipped inside the hls4ml wheel (found without importing hls4ml)."""
    spec = importlib.util.find_spec("hls4ml")
    if spec is None or not spec.submodule_search_locations:
        raise InputError("hls4ml is not installed: it provides the ap_types headers (run: make setup)")
    path = Path(list(spec.submodule_search_locations)[0]) / "templates" / "vivado" / "ap_types"
    if not (path / "ap_fixed.h").is_file():
        raise InputError(f"ap_types headers not found under {path}")
    return path


def cxx() -> str:
    """The C++ compiler (g++ by default; CXX in the environment wins)."""
    compiler = os.environ.get("CXX", "g++")
    if shutil.which(compiler) is None:
        raise InputError(f"C++ compiler {compiler!r} not found on PATH (install g++)")
    return compiler


# -fno-exceptions: HLS code throws nothing, and without exception cleanups g++ compiles the large
# generated parameter arrays several times faster. -w: the ap_types headers warn a lot, harmlessly.
CXXFLAGS = ("-std=c++14", "-O2", "-w", "-fno-exceptions")


def compile_cpp(sources: list[Path], out: Path, include_dirs: list[Path]) -> None:
    """Compile and link C++ sources against the ap_types headers; a compiler error is reported with its first lines."""
    cmd = [cxx(), *CXXFLAGS, *[f"-I{d}" for d in [ap_types_dir(), *include_dirs]], *map(str, sources), "-o", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        first = "\n".join(proc.stderr.strip().splitlines()[:20])
        raise RuntimeError(f"C++ compilation failed ({' '.join(cmd)}):\n{first}")
