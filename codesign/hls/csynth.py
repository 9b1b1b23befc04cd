"""C synthesis with Vitis HLS / Vivado HLS when installed, and the parser of its csynth.xml report.

The report layout is the one of Vitis HLS 2020.2-2023.x (`<solution>/syn/report/csynth.xml`):
UserAssignments, PerformanceEstimates (SummaryOfTimingAnalysis, SummaryOfOverallLatency),
AreaEstimates (Resources, AvailableResources) and, per module, ModuleInformation. Vivado HLS
names the DSP count DSP48E; it is reported here as DSP.
"""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from codesign.errors import InputError
from codesign.hls.project import PROJECT_NAME

TOOLS = ("vitis_hls", "vivado_hls")
RESOURCES = ("BRAM_18K", "DSP", "FF", "LUT", "URAM")
SKIP_REASON = "vitis_hls/vivado_hls not on PATH"


class CsynthError(RuntimeError):
    """The HLS tool failed or wrote no report."""


def find_hls_tool() -> str | None:
    """The first HLS tool on PATH (Vitis HLS preferred), or None."""
    return next((t for t in TOOLS if shutil.which(t)), None)


def _number(text: str | None) -> int | float | None:
    """An integer or float from report text; None for 'undef', '-' or a missing field."""
    if text is None:
        return None
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return None


def _resources(node: ET.Element | None) -> dict[str, int | None]:
    if node is None:
        return {}
    values = {("DSP" if child.tag == "DSP48E" else child.tag): _number(child.text) for child in node}
    return {k: values.get(k) for k in RESOURCES if k in values}


def _latency(node: ET.Element | None) -> dict[str, Any]:
    def get(tag: str) -> int | float | None:
        return _number(node.findtext(tag)) if node is not None else None

    interval = (get("Interval-min"), get("Interval-max"))
    ii = node.findtext("PipelineInitiationInterval") if node is not None else None
    if interval == (None, None) and ii:  # module entries give "II" or "min ~ max" instead
        low, _, high = ii.partition("~")
        interval = (_number(low), _number(high or low))
    return {"best": get("Best-caseLatency"), "average": get("Average-caseLatency"), "worst": get("Worst-caseLatency"),
            "interval_min": interval[0], "interval_max": interval[1]}


def parse_csynth_xml(path: Path) -> dict[str, Any]:
    """The summary of a csynth.xml: part, clocks, latency and interval (cycles), resources and per-module figures."""
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except FileNotFoundError:
        raise InputError(f"csynth report {str(path)!r} does not exist") from None
    except ET.ParseError as exc:
        raise InputError(f"csynth report {str(path)!r} is not valid XML ({exc})") from None
    user = root.find("UserAssignments")
    perf = root.find("PerformanceEstimates")
    if root.tag != "profile" or user is None or perf is None:
        raise InputError(f"csynth report {str(path)!r}: expected <profile> with UserAssignments and "
                         f"PerformanceEstimates (a Vitis/Vivado HLS csynth.xml)")
    target = _number(user.findtext("TargetClockPeriod"))
    estimated = _number(perf.findtext("SummaryOfTimingAnalysis/EstimatedClockPeriod"))
    latency = _latency(perf.find("SummaryOfOverallLatency"))
    used = _resources(root.find("AreaEstimates/Resources"))
    available = _resources(root.find("AreaEstimates/AvailableResources"))
    modules = []
    for module in root.findall("ModuleInformation/Module"):
        mperf = module.find("PerformanceEstimates")
        modules.append({
            "name": module.findtext("Name"),
            "estimated_clock_ns": _number(mperf.findtext("SummaryOfTimingAnalysis/EstimatedClockPeriod"))
            if mperf is not None else None,
            "latency_cycles": _latency(mperf.find("SummaryOfOverallLatency") if mperf is not None else None),
            "resources": _resources(module.find("AreaEstimates/Resources")),
        })
    worst = latency["worst"]
    return {
        "tool_version": root.findtext("ReportVersion/Version"),
        "part": user.findtext("Part"),
        "top": user.findtext("TopModelName"),
        "target_clock_ns": target,
        "clock_uncertainty_ns": _number(user.findtext("ClockUncertainty")),
        "estimated_clock_ns": estimated,
        "estimated_fmax_mhz": round(1000.0 / estimated, 3) if estimated else None,
        "latency_cycles": latency,
        "worst_latency_us": round(worst * target / 1000.0, 6) if isinstance(worst, int) and target else None,
        "resources": used,
        "available": available,
        "utilisation_percent": {k: round(100.0 * used[k] / available[k], 3) for k in used
                                if used[k] is not None and available.get(k)},
        "modules": modules,
    }


COSIM_OUT = "cosim_out"


def run_csynth(tool: str, project: Path, log: Path) -> Path:
    """Run the project's build_prj.tcl with `tool`: C simulation, C synthesis, then C/RTL co-simulation (outputs in
    COSIM_OUT); returns the csynth.xml it wrote."""
    with open(log, "w") as fh:
        proc = subprocess.run([tool, "-f", "build_prj.tcl", "-tclargs", "csim", "cosim"], cwd=project, stdout=fh,
                              stderr=subprocess.STDOUT)
    report = Path(project) / PROJECT_NAME / "solution1" / "syn" / "report" / "csynth.xml"
    if proc.returncode != 0 or not report.is_file():
        raise CsynthError(f"{tool} failed (exit code {proc.returncode}); see {log}")
    return report
