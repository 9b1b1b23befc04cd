"""Vivado: the project of the generated chain (tcl + XDC), its run when `vivado` is on PATH, and its report parsers.

`parse_utilization` reads the text of `report_utilization` (UltraScale+ "CLB Logic" / "BLOCKRAM" /
"ARITHMETIC" tables, or 7-series "Slice Logic"), `parse_timing_summary` the "Design Timing Summary"
and "Clock Summary" of `report_timing_summary`; tested on the samples in tests/data/rtl/.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from codesign.errors import InputError
from codesign.rtl.verilog import environment
from emulation.atomic import write_text

# report row label (without a trailing '*') -> our category
ROWS = {"CLB LUTs": "lut", "Slice LUTs": "lut", "LUT as Memory": "lut_as_memory", "CLB Registers": "ff",
        "Slice Registers": "ff", "DSPs": "dsp", "Block RAM Tile": "bram36", "URAM": "uram"}
_ROW = re.compile(r"^\|\s*(?P<label>[^|]*?)\*?\s*\|\s*(?P<used>[0-9.]+)\s*\|")
_HEADER = re.compile(r"^\|\s*(Device|Design|Design State)\s*:\s*(.*?)\s*$")
BLOCK_INSTANCES = {"quantiser": "u_dec", "denoiser": "u_cnn", "clusterer": "u_clu", "calibration": "u_cal",
                   "trigger": "u_trg"}


def parse_utilization(text: str, where: str = "report") -> dict:
    """Used LUT / LUT as memory / FF / DSP / BRAM36 / URAM and the header fields of a report_utilization text."""
    used: dict[str, float] = {}
    header: dict[str, str] = {}
    for line in text.splitlines():
        m = _HEADER.match(line)
        if m:
            header[m.group(1).lower().replace(" ", "_")] = m.group(2)
            continue
        m = _ROW.match(line)
        if m and m.group("label") in ROWS and ROWS[m.group("label")] not in used:
            v = float(m.group("used"))
            used[ROWS[m.group("label")]] = int(v) if v.is_integer() else v
    missing = [k for k in ("lut", "ff", "dsp", "bram36") if k not in used]
    if missing:
        raise InputError(f"{where}: not a Vivado utilisation report (no {', '.join(missing)} row)")
    return {**header, **used}


_TIMING_COLUMNS = ("wns_ns", "tns_ns", "tns_failing_endpoints", "tns_total_endpoints", "whs_ns", "ths_ns",
                   "ths_failing_endpoints", "ths_total_endpoints")
_CLOCK_ROW = re.compile(r"^(?P<name>\S+)\s+\{[^}]*\}\s+(?P<period>[0-9.]+)\s+(?P<mhz>[0-9.]+)\s*$")


def _figure(text: str) -> int | float | None:
    """A report figure: an int, a float, or None for NA."""
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return None


def parse_timing_summary(text: str, where: str = "report") -> dict:
    """WNS, TNS, WHS, THS and their endpoint counts, `met`, and the clocks (period, MHz) of a report_timing_summary."""
    lines = text.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == "| Design Timing Summary")
        head = next(i for i in range(start, min(start + 12, len(lines))) if lines[i].split()[:2] == ["WNS(ns)", "TNS(ns)"])
        row = next(x.split() for x in lines[head + 2:head + 5] if x.strip())
    except StopIteration:
        raise InputError(f"{where}: not a Vivado timing summary (no Design Timing Summary table)") from None
    summary: dict = {k: _figure(v) for k, v in zip(_TIMING_COLUMNS, row)}
    if summary.get("wns_ns") is None and "NA" not in row[:1]:
        raise InputError(f"{where}: Design Timing Summary row {' '.join(row[:4])!r}: expected numbers")
    summary["met"] = "All user specified timing constraints are met." in text
    header = {}
    for line in lines[:20]:
        m = re.match(r"^\|\s*(Design|Device|Speed File)\s*:\s*(.*?)\s*$", line)
        if m:
            header[m.group(1).lower().replace(" ", "_")] = m.group(2)
    clocks = {}
    if any(line.strip() == "| Clock Summary" for line in lines):
        at = next(i for i, line in enumerate(lines) if line.strip() == "| Clock Summary")
        for line in lines[at:at + 30]:
            m = _CLOCK_ROW.match(line.strip())
            if m:
                clocks[m.group("name")] = {"period_ns": float(m.group("period")), "frequency_mhz": float(m.group("mhz"))}
            elif clocks and not line.strip():
                break
    return {**header, **summary, "clocks": clocks}


def vivado_status() -> str | None:
    """None when vivado can run here, else why not."""
    return None if shutil.which("vivado") else "skipped: vivado not on PATH"


PROJECT_TCL = "build.tcl"
PROJECT_XDC = "cs_top.xdc"


def write_project(sources: list[Path], top: str, part: str, clock_mhz: float, out_dir: Path) -> list[Path]:
    """The Vivado project of the Verilog: build.tcl (out-of-context synthesis, implementation, reports) and the
    XDC clock from the spec; source paths relative to out_dir, so the files depend on the design only."""
    out_dir.mkdir(parents=True, exist_ok=True)
    env = environment()
    tcl = env.get_template("vivado_build.tcl.j2").render(
        sources=[os.path.relpath(s, out_dir) for s in sources], top=top, part=part, tcl=PROJECT_TCL,
        xdc=PROJECT_XDC, instances=BLOCK_INSTANCES)
    xdc = env.get_template("cs_top.xdc.j2").render(clock_mhz=f"{clock_mhz:g}", period_ns=f"{1000.0 / clock_mhz:.6g}")
    write_text(out_dir / PROJECT_TCL, tcl)
    write_text(out_dir / PROJECT_XDC, xdc)
    return [out_dir / PROJECT_TCL, out_dir / PROJECT_XDC]


def run_vivado(project: Path) -> dict:
    """Run the project's build.tcl (synthesis and implementation); its utilisation (synthesis, per block, routed)
    and routed timing summary."""
    proc = subprocess.run(["vivado", "-mode", "batch", "-nojournal", "-log", "vivado.log", "-source", PROJECT_TCL],
                          capture_output=True, text=True, cwd=project)
    report = project / "utilization.rpt"
    timing = project / "timing_summary_routed.rpt"
    if proc.returncode != 0 or not report.exists() or not timing.exists():
        return {"status": f"failed: vivado exit {proc.returncode} (see {project / 'vivado.log'})"}
    blocks = {b: parse_utilization((project / f"utilization_{b}.rpt").read_text(), b) for b in BLOCK_INSTANCES
              if (project / f"utilization_{b}.rpt").exists()}
    routed = project / "utilization_routed.rpt"
    return {"status": "done", "total": parse_utilization(report.read_text(), str(report)), "blocks": blocks,
            "routed": parse_utilization(routed.read_text(), str(routed)),
            "timing": parse_timing_summary(timing.read_text(), str(timing))}
