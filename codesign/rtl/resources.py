"""The resource report of the "synth" step: yosys per block and total, the analytic estimate, Vivado when present."""

from __future__ import annotations

import subprocess
from pathlib import Path

from codesign.parts import Part
from codesign.rtl.estimate import estimate
from codesign.rtl.plan import RtlPlan
from codesign.rtl.sim import tool_env
from codesign.rtl.verilog import BLOCK_MODULES
from codesign.rtl.vivado import run_vivado, vivado_status
from codesign.rtl.yosys import CATEGORIES, categorise, synth_block, yosys_exe

CAPACITY_KEYS = ("lut", "ff", "dsp", "bram36", "uram")


def capacity(part: Part) -> dict[str, int]:
    return {"lut": part.lut, "ff": part.ff, "dsp": part.dsp, "bram36": part.bram36, "uram": part.uram}


def utilisation(total: dict, part: Part) -> dict[str, float]:
    """Percent of the part's capacity, per category."""
    cap = capacity(part)
    return {k: round(100.0 * total.get(k, 0) / cap[k], 3) for k in CAPACITY_KEYS if cap[k]}


def yosys_version() -> str:
    with tool_env():
        proc = subprocess.run([yosys_exe() or "yosys", "-V"], capture_output=True, text=True)
    return proc.stdout.strip().split(" (")[0]


def yosys_resources(sources: list[Path], part: Part, out: Path, blocks: dict[str, str] = BLOCK_MODULES,
                    nodsp: bool = False) -> tuple[dict, dict[str, float]]:
    """Per-block and total counts from yosys (`nodsp`: multiplications in LUTs); returns (report section, seconds
    per block)."""
    counts, seconds = {}, {}
    for block, module in blocks.items():
        cells, seconds[block] = synth_block(sources, module, part.yosys_family, out, nodsp)
        counts[block] = categorise(cells)
    total = {k: sum(c[k] for c in counts.values()) for k in CATEGORIES}
    section = {"tool": yosys_version(),
               "script": f"synth_xilinx -family {part.yosys_family} -top <block> -noiopad -noclkbuf"
                         f"{' -nodsp' if nodsp else ''}; stat -json",
               "blocks": counts, "total": total, "utilisation_pct": utilisation(total, part)}
    return section, seconds


def resource_report(plan: RtlPlan, sources: list[Path], part: Part, out: Path, vivado_project: Path) -> tuple[dict, dict]:
    """The resources.json document and the run times (yosys per block; Vivado runs `vivado_project` when present)."""
    ys, seconds = yosys_resources(sources, part, out / "yosys", nodsp=plan.cnn.lut_multipliers)
    est = estimate(plan)
    why_not = vivado_status()
    vivado = {"status": why_not} if why_not else run_vivado(vivado_project)
    report = {
        "part": part.name,
        "capacity": capacity(part),
        "pixel_parallelism": plan.lanes,
        "yosys": ys,
        "estimate": {"blocks": {b: v for b, v in est.items() if b != "total"}, "total": est["total"],
                     "utilisation_pct": utilisation(est["total"], part)},
        "vivado": vivado,
    }
    return report, {"yosys_s": {b: round(s, 1) for b, s in seconds.items()},
                    "yosys_total_s": round(sum(seconds.values()), 1)}
