"""Soak (slow): 10,000 events, emulator vs Verilator, zero mismatches, at both pixel parallelisms.

Runs benchmarks/rtl_soak.py's soak in-process (HDL-side stimulus and capture, see
codesign/rtl/soak.py). Takes minutes: `make test-slow`.
"""

from __future__ import annotations

import importlib.util

import pytest

from codesign.paths import DEFAULT_SPEC
from helpers import ROOT, TIGHT_SPEC
from test_rtl_blocks import need_simulator, stress_bundle


def _soak():
    spec = importlib.util.spec_from_file_location("rtl_soak", ROOT / "benchmarks" / "rtl_soak.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.soak


@pytest.mark.slow
@pytest.mark.parametrize("spec_path,events", [(DEFAULT_SPEC, 10000), (TIGHT_SPEC, 10000)], ids=["P1", "P4"])
def test_soak_ten_thousand_events(spec_path, events, tmp_path):
    need_simulator("verilator")
    bundle, derived = stress_bundle(spec_path)
    summary = _soak()(spec_path, bundle, events, 500, 1, tmp_path, log=lambda _: None)
    assert summary["events"] == events
    assert summary["mismatches"] == {}
    assert len(summary["chain_latency_cycles"]) == 1  # the same latency for every event
    assert summary["chain_latency_cycles"][0] <= derived.budgets["chain"].cycles
