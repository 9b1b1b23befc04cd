"""The csynth report parser on checked-in sample reports (Vitis HLS 2023.2 and Vivado HLS 2019.2 layouts)."""

from __future__ import annotations

from pathlib import Path

import pytest

from codesign.errors import InputError
from codesign.hls.csynth import parse_csynth_xml

DATA = Path(__file__).parent / "data" / "hls"


def test_vitis_2023_report():
    r = parse_csynth_xml(DATA / "csynth.xml")
    assert (r["tool_version"], r["part"], r["top"]) == ("2023.2", "xcvu13p-flga2577-2-e", "trigger_top")
    assert (r["target_clock_ns"], r["clock_uncertainty_ns"], r["estimated_clock_ns"]) == (2.78, 0.75, 2.771)
    assert r["estimated_fmax_mhz"] == 360.881
    assert r["latency_cycles"] == {"best": 3651, "average": 3651, "worst": 3651, "interval_min": 3533,
                                   "interval_max": 3533}
    assert r["worst_latency_us"] == 10.14978
    assert r["resources"] == {"BRAM_18K": 2, "DSP": 1154, "FF": 58777, "LUT": 138725, "URAM": 0}
    assert r["available"] == {"BRAM_18K": 5376, "DSP": 12288, "FF": 3456000, "LUT": 1728000, "URAM": 1280}
    assert r["utilisation_percent"]["LUT"] == 8.028 and r["utilisation_percent"]["DSP"] == 9.391
    names = [m["name"] for m in r["modules"]]
    assert names == ["decode", "cnn", "cluster", "calibrate", "trigger", "trigger_top"]
    cnn = r["modules"][1]
    assert cnn["latency_cycles"]["worst"] == 3337 and cnn["latency_cycles"]["interval_min"] == 3329
    assert cnn["resources"] == {"BRAM_18K": 0, "DSP": 1154, "FF": 41873, "LUT": 98214, "URAM": 0}
    assert cnn["estimated_clock_ns"] == 2.771


def test_vivado_hls_report_with_undefined_latency():
    r = parse_csynth_xml(DATA / "csynth_vivado_hls_2019.xml")
    assert r["resources"]["DSP"] == 1200 and r["available"]["DSP"] == 6840  # DSP48E reported as DSP
    assert r["latency_cycles"] == {"best": None, "average": None, "worst": None, "interval_min": None,
                                   "interval_max": None}
    assert r["worst_latency_us"] is None and r["modules"] == []


def test_bad_reports(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        parse_csynth_xml(tmp_path / "missing.xml")
    (tmp_path / "broken.xml").write_text("<profile><UserAssignments>")
    with pytest.raises(InputError, match="not valid XML"):
        parse_csynth_xml(tmp_path / "broken.xml")
    (tmp_path / "other.xml").write_text("<report><x/></report>")
    with pytest.raises(InputError, match="expected <profile>"):
        parse_csynth_xml(tmp_path / "other.xml")
