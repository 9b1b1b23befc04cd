"""Derived parameters against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from codesign.derived import derive, product_format, sum_format, union_format
from codesign.paths import DEFAULT_SPEC
from codesign.spec import load_spec, parse_spec
from emulation.fixed import sfixed, ufixed
from emulation.semantics import calib_address, calib_address_count, thresholds_from_levels, window_mask
from helpers import TIGHT_SPEC, default_spec_dict


def test_default_spec_matches_paper():
    d = derive(load_spec(DEFAULT_SPEC))
    # 2.048e12 b/s / (40e6 /s * 50*64*2 cells) = 8 bits exactly -> 256 levels, 6.4 kB events
    assert d.bits_per_cell == 8 and d.bits_per_cell_exact == 8
    assert d.levels == 256
    assert d.event_bits == 51200
    # 10 us at 360 MHz = 3600 cycles; 3200 pixels at P=1 plus 5 % = 3360 fits
    assert d.budgets["denoiser"].cycles == 3600
    assert d.budgets["chain"].cycles == 4320
    assert d.pixel_parallelism == 1
    assert d.streaming_cycles == 3200
    assert d.part.name == "xcvu13p-flga2577-2-e"
    assert d.formats["conv_w"].cpp() == "ap_fixed<10,1>"
    assert d.formats["et_in"].cpp() == "ap_ufixed<16,10>"


def test_tighter_spec_needs_more_parallelism():
    d = derive(load_spec(TIGHT_SPEC))
    # 2.5 us * 360 MHz = 900 cycles; P=2 gives 1600*1.05 = 1680 > 900, P=4 gives 800*1.05 = 840 <= 900
    assert d.budgets["denoiser"].cycles == 900
    assert d.pixel_parallelism == 4
    assert d.streaming_cycles == 800
    assert d.levels == 256


def test_bandwidth_changes_levels():
    s = default_spec_dict()
    s["bandwidth"]["link_tbps"] = 1.024  # 4 bits per cell
    d = derive(parse_spec(s))
    assert (d.bits_per_cell, d.levels) == (4, 16)
    assert d.formats["code"].cpp() == "ap_ufixed<4,4>"
    s["bandwidth"]["link_tbps"] = 1.5  # 5.86 bits -> floor 5
    assert derive(parse_spec(s)).bits_per_cell == 5


def test_fixed_point_type_arithmetic():
    # ap_ufixed<16,10> * ap_fixed<10,1> -> ap_fixed<27,12> (one extra bit for the sign)
    p = product_format(ufixed(16, 10), sfixed(10, 1))
    assert p == sfixed(27, 12)
    # nine products: +4 integer bits; plus a bias ap_fixed<10,6>: +1 -> ap_fixed<32,17>
    assert sum_format(p, 9, sfixed(10, 6)) == sfixed(32, 17)
    assert union_format(ufixed(10, 6), sfixed(10, 3)) == sfixed(14, 7)
    assert ufixed(16, 10).lsb == 2 ** -6 and sfixed(10, 1).raw_min == -512


def test_window_and_calibration_addressing():
    m = window_mask(9)
    assert m.sum() == 69 and m[0, 0] == 0 and m[0, 2] == 1 and m[0, 1] == 0 and m[4, 0] == 1
    assert calib_address_count(23, 4) == 320
    pt = np.arange(0, 1 << 14)
    addr = calib_address(pt, 4)
    assert (np.diff(addr) >= 0).all()
    assert list(calib_address(np.array([0, 15, 16, 17, 31, 32, 33, 34, (1 << 23) - 1]), 4)) == \
        [0, 15, 16, 17, 31, 32, 32, 33, 319]


def test_thresholds_are_nearest_level_ties_up():
    levels = np.array([0, 3, 4, 10])
    t = thresholds_from_levels(levels)
    assert list(t) == [2, 4, 7]
    for x in range(0, 15):
        code = int((x >= t).sum())
        dist = np.abs(levels - x)
        best = np.flatnonzero(dist == dist.min()).max()  # nearest, ties to the upper level
        assert code == best


def test_log_eta_and_eta_bins():
    d = derive(load_spec(DEFAULT_SPEC))
    assert d.eta_bin_of_row[0] == 4 and d.eta_bin_of_row[24] == 0 and d.eta_bin_of_row[25] == 0
    assert d.eta_bin_of_row[49] == 4
    # row 25 is eta in [0, 0.1): centre 0.05, log = -2.9957 -> raw round(-2.9957 * 128) = -383
    assert d.log_abs_eta_raw[25] == -383 == d.log_abs_eta_raw[24]


# 1.2 us at 360 MHz = 432 cycles: P = 8 streams 400 beats, but with the pipeline fill (8 + 2 + 13)
# and 5 % the RTL needs 445: P = 16.
@pytest.mark.parametrize("clock,denoise,p", [(360, 10.0, 1), (360, 5.0, 2), (240, 10.0, 2), (360, 1.2, 16)])
def test_parallelism_table(clock, denoise, p):
    s = default_spec_dict()
    s["target"]["clock_mhz"] = clock
    s["latency"]["denoise_us"] = denoise
    assert derive(parse_spec(s)).pixel_parallelism == p
