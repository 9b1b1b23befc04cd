"""Lint of the generated Verilog: `verilator --lint-only -Wall` must print no warning."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from codesign.rtl.sim import tool_env
from emulation.atomic import write_text


def lint(sources: list[Path], top: str, log_path: Path) -> str:
    """'clean', 'N warnings (see LOG)' or 'skipped: verilator not on PATH' (or perl, which runs it); the full
    output goes to log_path."""
    with tool_env():
        for exe in ("verilator", "perl"):
            if shutil.which(exe) is None:
                return f"skipped: {exe} not on PATH"
        proc = subprocess.run(["verilator", "--lint-only", "-Wall", "--top-module", top, *map(str, sources)],
                              capture_output=True, text=True)
    text = proc.stdout + proc.stderr
    write_text(log_path, text)
    warnings = [line for line in text.splitlines() if line.startswith(("%Warning", "%Error"))]
    if proc.returncode == 0 and not warnings:
        return "clean"
    return f"{len(warnings) or 1} warnings (see {log_path.name})"
