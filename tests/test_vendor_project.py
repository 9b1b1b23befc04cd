"""The vendor-ready project: Vivado tcl + XDC from the spec, the Vitis HLS tcl with C/RTL co-simulation, the report
parsers on checked-in samples, and the vendor runs through stand-in executables (no vendor tool here)."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from click.testing import CliRunner

from codesign.build.steps import CheckFailed
from codesign.bundles import random_bundle
from codesign.cli import main
from codesign.derived import derive
from codesign.errors import InputError
from codesign.hls import csynth
from codesign.hls.steps import cosim_result
from codesign.paths import DEFAULT_SPEC
from codesign.rtl.plan import make_plan
from codesign.rtl.verilog import write_sources
from codesign.rtl.vivado import BLOCK_INSTANCES, parse_timing_summary, run_vivado, vivado_status, write_project
from codesign.spec import load_spec
from emulation.chain import OUTPUTS
from helpers import TIGHT_SPEC

DATA = Path(__file__).parent / "data" / "rtl"
TIMING = DATA / "timing_summary_routed.rpt"


def test_timing_summary_parser_on_the_sample():
    got = parse_timing_summary(TIMING.read_text(), str(TIMING))
    assert got == {"design": "cs_top", "device": "xcvu13p-flga2577", "speed_file": "-2  PRODUCTION 1.28 05-01-2022",
                   "wns_ns": -0.412, "tns_ns": -163.207, "tns_failing_endpoints": 1184, "tns_total_endpoints": 41873,
                   "whs_ns": 0.011, "ths_ns": 0.0, "ths_failing_endpoints": 0, "ths_total_endpoints": 41873,
                   "met": False, "clocks": {"clk": {"period_ns": 2.778, "frequency_mhz": 359.971}}}


def test_timing_summary_parser_met_and_unconstrained():
    text = TIMING.read_text().replace("     -0.412     -163.207                   1184", "      0.153        0.000"
                                      "                      0").replace("Timing constraints are not met.",
                                                                         "All user specified timing constraints are met.")
    got = parse_timing_summary(text)
    assert got["wns_ns"] == 0.153 and got["tns_failing_endpoints"] == 0 and got["met"] is True
    na = TIMING.read_text().replace("     -0.412     -163.207", "         NA           NA")
    assert parse_timing_summary(na)["wns_ns"] is None
    with pytest.raises(InputError, match="not a Vivado timing summary"):
        parse_timing_summary((DATA / "utilization_synth.rpt").read_text(), "u.rpt")
    with pytest.raises(InputError, match="expected numbers"):
        parse_timing_summary(TIMING.read_text().replace("     -0.412     -163.207", "      x.y        z"))


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    d = derive(load_spec(DEFAULT_SPEC))
    return write_sources(make_plan(random_bundle(d, 0), d), tmp_path_factory.mktemp("rtl") / "src")


def test_vivado_project_from_the_spec(sources):
    """build.tcl: OOC synthesis, implementation, routed reports; the XDC clock is the spec's; files are deterministic."""
    out = sources[0].parent.parent / "vivado"
    tcl, xdc = (p.read_text() for p in write_project(sources, "cs_top", "xcvu13p-flga2577-2-e", 360.0, out))
    assert "read_verilog ../src/cs_decoder.v" in tcl and "read_xdc -mode out_of_context cs_top.xdc" in tcl
    for command in ("synth_design -top $top -part $part -mode out_of_context", "opt_design", "place_design",
                    "route_design", "report_timing_summary", "report_utilization -file utilization_routed.rpt"):
        assert command in tcl
    assert "create_clock -period 2.77778 -name clk [get_ports clk]" in xdc and "360 MHz" in xdc
    again = [p.read_bytes() for p in write_project(sources, "cs_top", "xcvu13p-flga2577-2-e", 360.0, out)]
    assert again == [tcl.encode(), xdc.encode()]
    slow = write_project(sources, "cs_top", "xcvu13p-flga2577-2-e", 250.0, out)[1].read_text()
    assert "create_clock -period 4 " in slow


def fake_tool(tmp_path, name: str, script: str) -> dict:
    """An environment whose PATH starts with a stand-in executable `name` running `script` (sh)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    exe = bin_dir / name
    exe.write_text("#!/bin/sh\n" + script)
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}


def test_vivado_run_parses_its_reports(sources, tmp_path, monkeypatch):
    """With `vivado` on PATH the project runs and the routed timing and utilisation come back (a stand-in here)."""
    out = tmp_path / "vivado"
    write_project(sources, "cs_top", "xcvu13p-flga2577-2-e", 360.0, out)
    copies = [f"cp {DATA / 'utilization_synth.rpt'} {n}" for n in
              ["utilization.rpt", "utilization_routed.rpt", *(f"utilization_{b}.rpt" for b in BLOCK_INSTANCES)]]
    env = fake_tool(tmp_path, "vivado", "\n".join([*copies, f"cp {TIMING} timing_summary_routed.rpt", ""]))
    monkeypatch.setenv("PATH", env["PATH"])
    assert vivado_status() is None
    got = run_vivado(out)
    assert got["status"] == "done" and got["timing"]["wns_ns"] == -0.412 and got["total"]["dsp"] == 918
    assert set(got["blocks"]) == set(BLOCK_INSTANCES) and got["routed"]["lut"] == 61873
    failing = fake_tool(tmp_path, "vivado", "exit 3\n")
    monkeypatch.setenv("PATH", failing["PATH"])
    shutil.rmtree(out)
    write_project(sources, "cs_top", "xcvu13p-flga2577-2-e", 360.0, out)
    assert run_vivado(out)["status"].startswith("failed: vivado exit 3")


def test_build_writes_the_vendor_projects(tmp_path):
    """`codesign build --steps events,hls,rtl`: the Vivado tcl + XDC and the HLS tcl (csim, csynth, cosim)."""
    bundle = tmp_path / "bundle"
    random_bundle(derive(load_spec(TIGHT_SPEC)), 0).save(bundle)
    r = CliRunner().invoke(main, ["build", "--spec", str(TIGHT_SPEC), "--bundle", str(bundle), "--out",
                                  str(tmp_path / "b"), "--events", "1", "--steps", "events,hls,rtl"])
    assert r.exit_code == 0, r.output
    vivado = tmp_path / "b" / "rtl" / "vivado"
    assert "create_clock -period 2.77778" in (vivado / "cs_top.xdc").read_text()
    assert "read_verilog ../src/cs_top.v" in (vivado / "build.tcl").read_text()
    hls = (tmp_path / "b" / "hls" / "build_prj.tcl").read_text()
    assert "csim_design" in hls and "csynth_design" in hls and "cosim_design -argv" in hls


def test_hls_tool_runs_csim_csynth_and_cosim(tmp_path, monkeypatch):
    seen = {}

    def fake_run(args, **kwargs):
        seen["args"] = args
        return SimpleNamespace(returncode=1)

    monkeypatch.setattr(csynth.subprocess, "run", fake_run)
    with pytest.raises(csynth.CsynthError, match="vitis_hls failed"):
        csynth.run_csynth("vitis_hls", tmp_path, tmp_path / "log")
    assert seen["args"] == ["vitis_hls", "-f", "build_prj.tcl", "-tclargs", "csim", "cosim"]


def test_cosim_outputs_compared_with_the_emulator(tmp_path):
    rng = np.random.default_rng(0)
    reference = {name: rng.integers(0, 100, size=(3, 4)) for name in OUTPUTS}
    ctx = SimpleNamespace(path=lambda *p: tmp_path.joinpath(*p), events=SimpleNamespace(reference=reference))
    (tmp_path / "hls" / "csynth").mkdir(parents=True)
    with pytest.raises(CheckFailed, match="wrote no readable outputs"):
        cosim_result(ctx)
    out = tmp_path / "hls" / "cosim_out"
    out.mkdir()
    for name, values in reference.items():
        (out / f"{name}.dat").write_text(" ".join(str(v) for v in values.ravel()) + "\n")
    assert cosim_result(ctx) == {"values": 12 * len(OUTPUTS), "mismatches": 0}
    (out / f"{OUTPUTS[0]}.dat").write_text(" ".join(str(v + 1) for v in reference[OUTPUTS[0]].ravel()))
    with pytest.raises(CheckFailed, match="co-simulation disagrees"):
        cosim_result(ctx)
