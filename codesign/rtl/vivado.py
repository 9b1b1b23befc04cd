"""Vivado: out-of-context synthesis of the generated chain when `vivado` is on PATH, and its report parser.

`parse_utilization` reads the text of `report_utilization` (UltraScale+ "CLB Logic" / "BLOCKRAM" /
"ARITHMETIC" tables, or 7-series "Slice Logic"), tested on tests/data/rtl/utilization_synth.rpt.
"""

from __future__ import annotations

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


def vivado_status() -> str | None:
    """None when vivado can run here, else why not."""
    return None if shutil.which("vivado") else "skipped: vivado not on PATH"


def run_vivado(sources: list[Path], top: str, part: str, out_dir: Path) -> dict:
    """Synthesize with Vivado and parse its utilisation reports (total and per block)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    tcl = out_dir / "synth.tcl"
    write_text(tcl, environment().get_template("vivado_synth.tcl.j2").render(
        sources=[str(s) for s in sources], top=top, part=part, out=str(out_dir), instances=BLOCK_INSTANCES))
    proc = subprocess.run(["vivado", "-mode", "batch", "-nojournal", "-log", str(out_dir / "vivado.log"), "-source",
                           str(tcl)], capture_output=True, text=True, cwd=out_dir)
    report = out_dir / "utilization.rpt"
    if proc.returncode != 0 or not report.exists():
        return {"status": f"failed: vivado exit {proc.returncode} (see vivado.log)"}
    blocks = {b: parse_utilization((out_dir / f"utilization_{b}.rpt").read_text(), b) for b in BLOCK_INSTANCES
              if (out_dir / f"utilization_{b}.rpt").exists()}
    return {"status": "done", "total": parse_utilization(report.read_text(), str(report)), "blocks": blocks}
