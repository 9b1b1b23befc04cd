"""Build steps of the HLS firmware: "hls" (write the project), "csim" (bit-exact C simulation), "csynth".

Artefacts live under <build>/hls/: the Vitis HLS project (firmware/, tb/, tb_data/, build_prj.tcl),
csim/ (mismatches.json, summary.json, timings.json) and csynth/report.json. Results stored in
build.json hold no timings, so the same inputs give the same build.json.
"""

from __future__ import annotations

from typing import Any

from codesign.build.events import EVENTS, REFERENCE_INTERMEDIATES
from codesign.build.steps import BuildContext, CheckFailed, step
from codesign.errors import InputError
from codesign.hls.csim import CsimError, compare, read_outputs, simulate
from codesign.hls.csynth import COSIM_OUT, SKIP_REASON, CsynthError, find_hls_tool, parse_csynth_xml, run_csynth
from codesign.hls.project import EVENTS_FILE, TOP, HlsDesign, write_project
from emulation.atomic import write_json
from emulation.chain import OUTPUTS

HLS = "hls"
CSIM = "hls/csim"
CSYNTH = "hls/csynth"


def design_of(ctx: BuildContext) -> HlsDesign:
    """Pixel parallelism and clock from the spec, part from the resolved build target."""
    return HlsDesign(pixel_parallelism=ctx.derived.pixel_parallelism, part=ctx.part.name,
                     clock_mhz=ctx.derived.clock_mhz)


def _require_events(ctx: BuildContext, step_name: str) -> None:
    if not ctx.path(EVENTS).exists():
        raise InputError(f"step {step_name!r} needs the events step's output {EVENTS} in {str(ctx.out)!r} "
                         f"(run with --steps events,{step_name})")


@step("hls", (f"{HLS}/build_prj.tcl", f"{HLS}/firmware/trigger_top.cpp", f"{HLS}/firmware/parameters.cpp",
              f"{HLS}/tb/csim_tb.cpp", f"{HLS}/{EVENTS_FILE}"),
      "HLS C++ project (Vitis HLS) from the bundle")
def hls_project(ctx: BuildContext) -> dict[str, Any]:
    _require_events(ctx, "hls")
    design = design_of(ctx)
    files = write_project(ctx.path(HLS), ctx.bundle, design, ctx.events.et_in)
    return {"top": TOP, "part": design.part, "clock_mhz": design.clock_mhz,
            "pixel_parallelism": design.pixel_parallelism, "files": files}


@step("csim", (f"{CSIM}/mismatches.json", f"{CSIM}/summary.json"),
      "C simulation (g++ + ap_types) of every event, bit for bit against the emulator")
def csim(ctx: BuildContext) -> dict[str, Any]:
    _require_events(ctx, "csim")
    if not ctx.path(HLS, EVENTS_FILE).exists():
        raise InputError(f"step 'csim' needs the hls step's project in {str(ctx.path(HLS))!r} (run with --steps hls,csim)")
    reference = ctx.events.reference
    work = ctx.path(CSIM)
    work.mkdir(parents=True, exist_ok=True)
    shapes = {name: reference[name].shape for name in OUTPUTS + REFERENCE_INTERMEDIATES}
    try:
        run = simulate(ctx.path(HLS), work, shapes)
    except CsimError as exc:
        raise CheckFailed(f"C simulation: {exc}") from None
    mismatches, counts = compare(reference, run.outputs)
    n = int(len(ctx.events.et_in))
    summary = {"events": n, "outputs": {k: {"values": int(reference[k].size), "mismatches": counts[k]} for k in counts},
               "mismatches": sum(counts.values())}
    write_json(work / "mismatches.json", mismatches)
    write_json(work / "summary.json", summary)
    write_json(work / "timings.json", {"compile_s": round(run.compile_s, 3), "run_s": round(run.run_s, 3),
                                        "events_per_s": round(n / run.run_s, 2)})
    print(f"[csim] {n} events in {run.run_s:.2f} s ({n / run.run_s:.1f} events/s); compile {run.compile_s:.1f} s",
          flush=True)
    if summary["mismatches"]:
        worst = ", ".join(f"{k} {v}" for k, v in counts.items() if v)
        raise CheckFailed(f"C simulation disagrees with the emulator ({worst} values differ); "
                          f"see {work / 'mismatches.json'}")
    return summary


def cosim_result(ctx: BuildContext) -> dict[str, Any]:
    """The chain outputs the C/RTL co-simulation wrote, compared value by value with the emulator."""
    out = ctx.path(HLS, COSIM_OUT)
    reference = ctx.events.reference
    try:
        got = read_outputs(out, {name: reference[name].shape for name in OUTPUTS})
    except (CsimError, OSError) as exc:
        raise CheckFailed(f"C/RTL co-simulation wrote no readable outputs in {out} ({exc})") from None
    mismatches, counts = compare({name: reference[name] for name in OUTPUTS}, got)
    path = ctx.path(CSYNTH, "cosim_mismatches.json")
    write_json(path, mismatches)
    if sum(counts.values()):
        raise CheckFailed(f"C/RTL co-simulation disagrees with the emulator; see {path}")
    return {"values": int(sum(reference[name].size for name in OUTPUTS)), "mismatches": 0}


@step("csynth", (f"{CSYNTH}/report.json",),
      "C simulation, C synthesis and C/RTL co-simulation with Vitis HLS / Vivado HLS (skipped when not installed)")
def csynth(ctx: BuildContext) -> dict[str, Any]:
    out = ctx.path(CSYNTH)
    out.mkdir(parents=True, exist_ok=True)
    tool = find_hls_tool()
    if tool is None:
        report: dict[str, Any] = {"status": "skipped", "reason": SKIP_REASON}
        print(f"[csynth] skipped: {SKIP_REASON}", flush=True)
    else:
        try:
            xml = run_csynth(tool, ctx.path(HLS), out / f"{tool}.log")
        except CsynthError as exc:
            raise CheckFailed(f"C synthesis: {exc}") from None
        report = {"status": "done", "tool": tool, **parse_csynth_xml(xml), "cosim": cosim_result(ctx)}
    write_json(out / "report.json", report)
    return report
