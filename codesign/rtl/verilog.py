"""Render the Verilog of the chain from the Jinja2 templates in firmware/templates.

The templates use `{= ... =}` for values (Verilog itself uses `{{` for replication) and
`{% ... %}` for blocks. Output is a pure function of the plan: same bundle and spec give
byte-identical files.
"""

from __future__ import annotations

from pathlib import Path

import jinja2

from codesign.paths import FIRMWARE_DIR
from codesign.rtl.plan import RtlPlan
from emulation.atomic import write_text

TEMPLATES = FIRMWARE_DIR / "templates"
# Modules in dependency order (a module's submodules come before it); one file each.
MODULES = ("cs_decoder", "cs_cnn_pixel", "cs_cnn", "cs_clusterer", "cs_calibration", "cs_trigger", "cs_top")
# The blocks of the chain, by the name the spec's latency budgets use, and their top modules.
BLOCK_MODULES = {"quantiser": "cs_decoder", "denoiser": "cs_cnn", "clusterer": "cs_clusterer",
                 "calibration": "cs_calibration", "trigger": "cs_trigger"}
TOP = "cs_top"


def _slit(value: int, width: int) -> str:
    """A sized signed Verilog literal (the minus applies to a positive literal of the same width)."""
    return f"-{width}'sd{-value}" if value < 0 else f"{width}'sd{value}"


def _in_regs(lane: int, regs: frozenset, row: int, pos: int) -> bool:
    return (row, pos, lane) in regs


def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), variable_start_string="{=",
                             variable_end_string="=}", trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True, undefined=jinja2.StrictUndefined, autoescape=False)
    env.filters["slit"] = _slit
    env.tests["in_regs"] = _in_regs
    return env


def render_sources(plan: RtlPlan) -> dict[str, str]:
    """File name -> Verilog text of every module of the chain."""
    env = environment()
    return {f"{m}.v": env.get_template(f"{m}.v.j2").render(plan=plan) for m in MODULES}


def write_sources(plan: RtlPlan, out_dir: Path) -> list[Path]:
    """Write the Verilog files into out_dir; returns their paths in dependency order."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in render_sources(plan).items():
        write_text(out_dir / name, text)
        paths.append(out_dir / name)
    return paths
