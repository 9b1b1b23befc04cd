"""Build steps of the RTL flow: "rtl" (write the Verilog), "rtl_sim" (cocotb on each simulator), "synth" (resources).

Step results hold no timings or absolute paths (build.json stays deterministic); run times go
to timings.json files next to the artefacts.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

from codesign.build.steps import BuildContext, CheckFailed, step
from codesign.errors import InputError
from codesign.rtl.latency import LATENCY_FILE, latency_record
from codesign.rtl.lint import lint
from codesign.rtl.plan import RtlPlan, make_plan
from codesign.rtl.resources import resource_report
from codesign.rtl.sim import build_model, run_testbench
from codesign.rtl.timing import estimate_module, load_delays, read_netlist
from codesign.rtl.timing_gate import TIMING_FILE, timing_record
from codesign.rtl.verify import chain_stimulus
from codesign.rtl.verilog import BLOCK_MODULES, MODULES, TOP, write_sources
from codesign.rtl.vivado import write_project
from codesign.rtl.yosys import netlist_path
from emulation.atomic import write_json

SRC = "rtl/src"
DESIGN = "rtl/design.json"
SIM_SUMMARY = "rtl/sim_summary.json"
RESOURCES = "rtl/synth/resources.json"
VIVADO = "rtl/vivado"


def tool_failure(exc: RuntimeError, log_dir: Path) -> CheckFailed:
    """A simulator or synthesis run that crashed, as a one-line failure pointing at its logs."""
    return CheckFailed(f"{str(exc).splitlines()[0].rstrip(':')} (logs under {log_dir})")


def sources(ctx: BuildContext) -> list[Path]:
    return [ctx.path(SRC, f"{m}.v") for m in MODULES]


def plan_of(ctx: BuildContext) -> RtlPlan:
    return make_plan(ctx.bundle, ctx.derived)


@step("rtl", (SRC + "/cs_top.v", DESIGN), "Verilog of the chain from the bundle (firmware/templates), lint")
def rtl_step(ctx: BuildContext) -> dict[str, Any]:
    plan = plan_of(ctx)
    paths = write_sources(plan, ctx.path(SRC))
    digests = {p.name: hashlib.sha256(p.read_bytes()).hexdigest()[:16] for p in paths}
    lint_status = lint(paths, TOP, ctx.path("rtl", "lint.log"))
    write_project(paths, TOP, ctx.part.name, ctx.derived.clock_mhz, ctx.path(VIVADO))
    write_json(ctx.path(DESIGN), {"top": TOP, "params": plan.params(), "files": digests, "lint": lint_status})
    return {"top": TOP, "pixel_parallelism": plan.lanes, "files": digests, "lint": lint_status}


@step("rtl_sim", (SIM_SUMMARY,), "RTL simulation of the verification events (cocotb), latency in cycles")
def rtl_sim_step(ctx: BuildContext) -> dict[str, Any]:
    cfg = ctx.config
    n = min(cfg.rtl_events, len(ctx.events.et_in))
    if n == 0:
        summary: dict[str, Any] = {"skipped": "rtl_events = 0"}
        write_json(ctx.path(SIM_SUMMARY), summary)
        return summary
    plan = plan_of(ctx)
    failed = []
    summary = {}
    for sim in cfg.simulators:
        d = ctx.path("rtl", f"sim_{sim}")
        stimulus = chain_stimulus(ctx.events.reference, n, plan.beats_per_event)
        try:
            build_s = build_model(sim, sources(ctx), TOP, d / "build")
            res = run_testbench(sim, d / "build", TOP, d / "tb", "chain", plan.params(), stimulus,
                                drain_cycles=20 * plan.beats_per_event, results_xml=d / "results.xml")
        except RuntimeError as exc:
            raise tool_failure(exc, d) from None
        write_json(d / LATENCY_FILE, latency_record(sim, n, plan.lanes, res.latency))
        write_json(d / "mismatches.json", res.mismatches)
        write_json(d / "timings.json", {"build_s": round(build_s, 2), "sim_s": round(res.sim_s, 2), "cycles": res.cycles,
                                   "cycles_per_s": round(res.cycles / res.sim_s) if res.sim_s else None})
        summary[sim] = {"events": n, "mismatching_outputs": sorted(res.mismatches),
                        "latency_cycles": {k: v["last_out"] for k, v in sorted(res.latency.items())}}
        if res.mismatches:
            failed.append(f"{sim}: {', '.join(sorted(res.mismatches))}")
    write_json(ctx.path(SIM_SUMMARY), summary)
    if failed:
        raise CheckFailed(f"RTL differs from the emulator ({'; '.join(failed)}): "
                          f"see {ctx.path('rtl')}/sim_*/mismatches.json")
    return summary


NETLISTS = tuple(str(netlist_path(Path("rtl/synth/yosys"), m)) for m in BLOCK_MODULES.values())


@step("synth", (RESOURCES, *NETLISTS), "resources: yosys synth_xilinx per block and total, analytic estimate, "
                                       "Vivado if present")
def synth_step(ctx: BuildContext) -> dict[str, Any]:
    out = ctx.path("rtl", "synth")
    if out.exists():
        shutil.rmtree(out)
    try:
        report, timings = resource_report(plan_of(ctx), sources(ctx), ctx.part, out, ctx.path(VIVADO))
    except RuntimeError as exc:
        raise tool_failure(exc, out) from None
    write_json(ctx.path(RESOURCES), report)
    write_json(out / "timings.json", timings)
    return {"yosys_total": report["yosys"]["total"], "estimate_total": report["estimate"]["total"],
            "vivado": report["vivado"]["status"]}


@step("timing", (TIMING_FILE,), "timing estimate: slowest register-to-register path per block (yosys netlists), Fmax")
def timing_step(ctx: BuildContext) -> dict[str, Any]:
    delays = load_delays(ctx.part.yosys_family)
    blocks = {}
    for block, module in BLOCK_MODULES.items():
        path = netlist_path(ctx.path("rtl", "synth", "yosys"), module)
        if not path.exists():
            raise InputError(f"step 'timing' needs the synth step's netlist {path} (run with --steps synth,timing)")
        estimate, unmodelled = estimate_module(read_netlist(path), module, delays)
        blocks[block] = {**estimate.to_json(), "unmodelled_cells": unmodelled}
    write_json(ctx.path(TIMING_FILE), timing_record(blocks, delays))
    period = 1000.0 / ctx.derived.clock_mhz
    misses = [b for b, e in blocks.items() if e["period_ns"] > period]
    fmax = {b: e["fmax_mhz"] for b, e in blocks.items()}
    print(f"[timing] estimated Fmax (MHz): {', '.join(f'{b} {f:.0f}' for b, f in fmax.items())}; spec clock "
          f"{ctx.derived.clock_mhz:g} MHz; estimated to miss it: {', '.join(misses) or 'none'}", flush=True)
    return {"clock_mhz": ctx.derived.clock_mhz, "fmax_mhz": fmax, "misses": misses}
