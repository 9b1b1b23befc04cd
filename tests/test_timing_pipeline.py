"""Spec keys of the firmware section: extra CNN pipeline stages stay bit-exact and add to the measured latency;
LUT multipliers are marked for Vivado; a default section leaves the spec hash and the Verilog as they were."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import yaml

from codesign.derived import PRODUCT_REGISTER_STAGES, derive, rtl_latency_model
from codesign.errors import SpecError
from codesign.paths import DEFAULT_SPEC
from codesign.rtl.plan import make_plan
from codesign.rtl.verilog import render_sources, write_sources
from codesign.spec import FirmwareSpec, load_spec
from helpers import ROOT
from test_rtl_blocks import Design, assert_passed, need_simulator, stress_bundle


def with_firmware(tmp_path, **firmware) -> str:
    doc = yaml.safe_load(DEFAULT_SPEC.read_text())
    doc["firmware"] = firmware
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(doc))
    return str(path)


@pytest.mark.parametrize("firmware, message", [
    ({"multipliers": "dsp48"}, "firmware.multipliers = \"dsp48\": expected dsp or lut"),
    ({"register_products": 1}, "firmware.register_products = 1: expected true or false"),
    ({"register_decision": "yes"}, "firmware.register_decision = \"yes\": expected true or false"),
    ({"pipeline": 2}, "firmware.pipeline: unknown key (known keys here: multipliers, register_decision, "
                      "register_products)"),
])
def test_bad_firmware_keys_are_one_line_errors(tmp_path, firmware, message):
    with pytest.raises(SpecError) as err:
        load_spec(with_firmware(tmp_path, **firmware))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_default_firmware_section_keeps_the_spec_hash(tmp_path):
    default = load_spec(DEFAULT_SPEC)
    explicit = load_spec(with_firmware(tmp_path, multipliers="dsp", register_products=False))
    assert explicit.firmware == default.firmware == FirmwareSpec()
    assert explicit.spec_hash() == default.spec_hash()
    assert load_spec(with_firmware(tmp_path, multipliers="lut")).spec_hash() != default.spec_hash()


def test_register_products_adds_stages_to_plan_and_latency_model(tmp_path):
    base = derive(load_spec(DEFAULT_SPEC))
    regs = derive(load_spec(with_firmware(tmp_path, register_products=True)))
    assert regs.cnn_extra_stages == PRODUCT_REGISTER_STAGES and base.cnn_extra_stages == 0
    assert regs.estimated_denoise_cycles > base.estimated_denoise_cycles
    a = rtl_latency_model(50, 64, 1, 9, 10)
    b = rtl_latency_model(50, 64, 1, 9, 10, PRODUCT_REGISTER_STAGES)
    assert (b[0] - a[0], b[1] - a[1]) == (PRODUCT_REGISTER_STAGES, PRODUCT_REGISTER_STAGES)


def test_lut_multipliers_mark_the_pixel_network_only(tmp_path):
    lut = derive(load_spec(with_firmware(tmp_path, multipliers="lut")))
    base = derive(load_spec(DEFAULT_SPEC))
    design = Design(DEFAULT_SPEC)
    a = render_sources(make_plan(design.bundle, base))
    b = render_sources(make_plan(design.bundle, lut))
    assert [k for k in a if a[k] != b[k]] == ["cs_cnn_pixel.v"]
    assert '(* use_dsp = "no" *)' in b["cs_cnn_pixel.v"] and "use_dsp" not in a["cs_cnn_pixel.v"]


class Variant(Design):
    """The adversarial P = 1 design of test_rtl_blocks built with another firmware section."""

    def __init__(self, firmware: FirmwareSpec, tag: str) -> None:
        self.bundle, _ = stress_bundle(DEFAULT_SPEC)
        self.derived = derive(dataclasses.replace(load_spec(DEFAULT_SPEC), firmware=firmware))
        self.plan = make_plan(self.bundle, self.derived)
        self.root = ROOT / "build" / "rtl_tests" / f"P1-{tag}-{self.bundle.content_hash()[:12]}"
        self.sources = write_sources(self.plan, self.root / "src")


def assert_later(base, other, block: str, cycles: int) -> None:
    for edge in ("first_out", "last_out"):
        assert other.latency[block][edge] - base.latency[block][edge] == cycles


def test_extra_pipeline_stages_are_bit_exact_and_measured():
    """The denoiser with its tap sums and products registered: the emulator's et_pred, 6 cycles later."""
    need_simulator("icarus")
    base, regs = Design(DEFAULT_SPEC), Variant(FirmwareSpec(register_products=True), "regs")
    assert regs.plan.cnn.depth == base.plan.cnn.depth + PRODUCT_REGISTER_STAGES
    rng = np.random.default_rng(5)
    et = rng.integers(0, 1 << 16, size=(2, 2, 50, 64)) >> rng.integers(0, 14, size=(2, 2, 50, 64))
    et[0] = (1 << 16) - 1  # all-maximum: every requantisation saturates
    res_b, stim_b = base.run("icarus", "denoiser", {"et_dec": et}, "pipe")
    res_r, stim_r = regs.run("icarus", "denoiser", {"et_dec": et}, "pipe")
    assert_passed(res_b, stim_b)
    assert_passed(res_r, stim_r)
    assert_later(res_b, res_r, "denoiser", PRODUCT_REGISTER_STAGES)
    model = rtl_latency_model(50, 64, 1, 9, 10, PRODUCT_REGISTER_STAGES)[0] - rtl_latency_model(50, 64, 1, 9, 10)[0]
    assert model == PRODUCT_REGISTER_STAGES


def test_registered_decision_is_bit_exact_and_one_cycle_later():
    """The trigger with its sorted pT registered before the threshold compares: same decisions, 1 cycle later."""
    need_simulator("icarus")
    base, dec = Design(DEFAULT_SPEC), Variant(FirmwareSpec(register_decision=True), "decision")
    t1, t4 = base.plan.thresholds
    pt = np.random.default_rng(6).integers(0, 3, size=(4, base.plan.clusterer.n_out)) * 1000
    pt[1, 0], pt[1, 3:] = t1, t4  # exactly at the thresholds
    pt[2, 0], pt[2, 3:] = t1 - 1, t4 - 1
    res_b, stim_b = base.run("icarus", "trigger", {"pt_calib": pt}, "decision")
    res_d, stim_d = dec.run("icarus", "trigger", {"pt_calib": pt}, "decision")
    assert_passed(res_b, stim_b)
    assert_passed(res_d, stim_d)
    assert stim_d["expect_pass_pt1"][1] and not stim_d["expect_pass_pt1"][2]
    assert_later(res_b, res_d, "trigger", 1)
    assert (rtl_latency_model(50, 64, 1, 9, 10, 0, 1)[1] - rtl_latency_model(50, 64, 1, 9, 10)[1]) == 1
