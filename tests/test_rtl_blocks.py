"""RTL vs emulator, block by block and for the whole chain, on Verilator and Icarus (cocotb testbench).

Every comparison is exact over whole arrays (tests/../codesign/rtl/compare.py). The bundle is
adversarial: saturating weights in some channels and neurons, a top quantiser level at the
largest E_T, so all-maximum codes overflow E_pred. Models are built once per simulator and
source hash under build/rtl_tests (Verilator rebuilds go through ccache).
"""

from __future__ import annotations

import dataclasses
import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from codesign.build.events import synthetic_events
from codesign.bundles import random_bundle
from codesign.derived import derive
from codesign.paths import DEFAULT_SPEC
from codesign.rtl.plan import make_plan
from codesign.rtl.sim import SIMULATORS, missing_simulator
from codesign.rtl.verify import block_stimulus, run_block
from codesign.rtl.verilog import write_sources
from codesign.spec import load_spec
from emulation.chain import run_chain
from emulation.semantics import thresholds_from_levels
from helpers import ROOT, TIGHT_SPEC, require_tool

CACHE = ROOT / "build" / "rtl_tests"
CHAIN_LATENCY: dict[str, dict] = {}  # simulator -> latency measured by test_chain in this session


def need_simulator(sim: str) -> None:
    """Skip when the simulator is missing, except under CI=true where that is a failure."""
    why = missing_simulator(sim)
    require_tool(why is None, f"{sim}: {why}")


def stress_bundle(spec_path, seed: int = 7):
    """A random bundle with saturating channels and neurons and a top quantiser level at the largest E_T."""
    d = derive(load_spec(spec_path))
    b = random_bundle(d, seed)
    f = b.formats
    wmax, wmin, bmax = f["conv_w"].raw_max, f["conv_w"].raw_min, f["conv_b"].raw_max
    k = b.cnn.dw_kernel.copy()
    k[0, 0, :] = wmax  # conv channel 0 saturates at conv_act's maximum for bright pixels
    k[1, 1, :] = wmin  # conv channel 5 is clipped to 0 by the ReLU
    cb = b.cnn.dw_bias.copy()
    cb[1, 3] = bmax
    w1 = b.cnn.dense1_w.copy()
    w1[:, 0] = f["dense_w"].raw_max  # dense-1 neuron 0 saturates
    w1[:, 1] = f["dense_w"].raw_min
    w2 = b.cnn.dense2_w.copy()
    w2[:, 0] = f["dense_w"].raw_max
    b2 = b.cnn.dense2_b.copy()
    b2[2] = f["dense_b"].raw_max
    w3 = b.cnn.dense3_w.copy()
    w3[:8, 0] = f["dense_w"].raw_max  # w_em often clips at 1.0
    b3 = np.array([f["dense_b"].raw_max // 4, f["dense_b"].raw_min // 4])
    cnn = dataclasses.replace(b.cnn, dw_kernel=k, dw_bias=cb, dense1_w=w1, dense2_w=w2, dense2_b=b2, dense3_w=w3,
                              dense3_b=b3)
    levels = b.quantiser.levels.copy()
    levels[:, -1] = f["et_dec"].raw_max
    quant = dataclasses.replace(b.quantiser, levels=levels, thresholds=thresholds_from_levels(levels))
    bundle = dataclasses.replace(b, cnn=cnn, quantiser=quant)
    bundle.validate()
    return bundle, d


class Design:
    """A bundle, its plan and sources, and a cache directory for simulator builds."""

    def __init__(self, spec_path):
        self.bundle, self.derived = stress_bundle(spec_path)
        self.plan = make_plan(self.bundle, self.derived)
        self.root = CACHE / f"P{self.plan.lanes}-{self.bundle.content_hash()[:12]}"
        self.sources = write_sources(self.plan, self.root / "src")

    def run(self, sim: str, mode: str, inputs: dict, name: str, seed: int | None = None):
        need_simulator(sim)
        stim = block_stimulus(mode, self.bundle, self.plan, inputs, seed)
        return run_block(sim, mode, self.plan, self.sources, self.root, stim, name), stim


@pytest.fixture(scope="module")
def p1():
    return Design(DEFAULT_SPEC)


@pytest.fixture(scope="module")
def p4():
    return Design(TIGHT_SPEC)


def assert_passed(res, stim) -> None:
    assert res.passed, json.dumps(res.mismatches)[:2000]
    expected = sorted(k[len("expect_"):] for k in stim if k.startswith("expect_"))
    with np.load(res.results_xml.parent / "captured.npz") as z:
        assert sorted(set(z.files) & set(expected)) == expected  # every expected output was captured
    suite = ET.parse(res.results_xml).getroot()
    assert len(suite.findall(".//testcase")) == 1 and not suite.findall(".//failure")


def test_stress_bundle_saturates(p1):
    """The adversarial bundle really drives every requantisation into saturation on all-maximum codes."""
    f = p1.bundle.formats
    et = synthetic_events(3, 1, (2, 50, 64), f["et_in"])
    r = run_chain(p1.bundle, et, keep=True)
    assert (r["codes"][0] == p1.bundle.levels - 1).all()
    assert (r["conv_act"][..., 0] == f["conv_act"].raw_max).any() and (r["conv_act"][..., 5] == 0).all()
    assert (r["dense1_act"][..., 0] == f["dense_act"].raw_max).any()
    assert (r["seg_w"] == 1 << f["seg_w"].frac_bits).any() and (r["seg_w"] == 0).any()
    assert (r["et_pred"][0] == f["et_pred"].raw_max).any()


@pytest.mark.parametrize("sim", SIMULATORS)
def test_decoder(p1, sim):
    levels = len(p1.plan.levels[0])
    codes = np.random.default_rng(1).integers(0, levels, size=(3, 2, 50, 64))
    codes[0] = levels - 1  # all-maximum codes
    codes[1] = 0
    res, stim = p1.run(sim, "quantiser", {"codes": codes}, "random")
    assert_passed(res, stim)
    assert res.latency["quantiser"]["first_out"] == 1


@pytest.mark.parametrize("sim", SIMULATORS)
def test_cnn(p1, sim):
    """Full-range E_T (not only decoder levels), all-maximum and empty images."""
    rng = np.random.default_rng(2)
    et = rng.integers(0, 1 << 16, size=(3, 2, 50, 64)) >> rng.integers(0, 14, size=(3, 2, 50, 64))
    et[0] = (1 << 16) - 1
    et[2] = 0
    res, stim = p1.run(sim, "denoiser", {"et_dec": et}, "range")
    assert_passed(res, stim)
    assert (stim["expect_et_pred"][0] == (1 << 16) - 1).all()  # E_pred saturates on the all-maximum image


def cluster_images(threshold: int) -> np.ndarray:
    """Ties, plateaus, the phi wrap, eta edges, the seed threshold and more seeds than output slots."""
    img = np.zeros((6, 50, 64), dtype=np.int64)
    v = 5000
    img[0, 10, 10] = img[0, 10, 14] = v  # equal maxima in one window: the earlier in raster order wins
    img[0, 20, 62] = img[0, 20, 1] = v  # equal maxima across the phi wrap
    img[0, 0, 5] = img[0, 49, 5] = v  # eta edges: no wrap in eta
    img[0, 30, 30] = img[0, 34, 31] = v - 1  # ... and a near tie at the window's corner cut
    img[1] = v  # a plateau
    img[2] = (1 << 16) - 1  # all-maximum: window sums at the largest values
    img[3, ::5, ::5] = 700  # 130 equal isolated seeds: the top 10 by raster index
    img[4, 25, 40] = threshold  # not above the seed threshold
    img[4, 5, 40] = threshold + 1
    rng = np.random.default_rng(3)
    img[5] = rng.integers(0, 400, size=(50, 64)) * (rng.random((50, 64)) < 0.3)
    return img


@pytest.mark.parametrize("sim", SIMULATORS)
def test_clusterer_ties(p1, sim):
    thr = p1.plan.clusterer.threshold
    res, stim = p1.run(sim, "clusterer", {"et_pred": cluster_images(thr)}, "ties")
    assert_passed(res, stim)
    n = stim["expect_n_clusters"]
    assert n[3] == p1.plan.clusterer.n_out and n[4] == 1 and n[0] >= 4  # the cases are what they claim


def calibration_lists(plan, rng) -> dict:
    n_out, pt_w, rows = plan.clusterer.n_out, plan.clusterer.pt_width, plan.eta_bins
    edges = sorted({v for e in range(pt_w) for v in ((1 << e) - 1, 1 << e, (1 << e) + 1) if v < 1 << pt_w})
    edges += [(1 << pt_w) - 1, 0]
    pt = np.array(edges + list(rng.integers(0, 1 << pt_w, size=(-len(edges)) % n_out)), dtype=np.int64)
    pt = pt.reshape(-1, n_out)
    ieta = rng.integers(0, rows, size=pt.shape)
    n = rng.integers(0, n_out + 1, size=len(pt))
    n[0] = n_out
    return {"cluster_pt": pt, "cluster_ieta": ieta, "n_clusters": n}


@pytest.mark.parametrize("sim", SIMULATORS)
def test_calibration_octave_edges(p1, sim):
    res, stim = p1.run(sim, "calibration", calibration_lists(p1.plan, np.random.default_rng(4)), "edges")
    assert_passed(res, stim)


@pytest.mark.parametrize("sim", SIMULATORS)
def test_trigger_ties_and_thresholds(p1, sim):
    t1, t4 = p1.plan.thresholds
    n_out = p1.plan.clusterer.n_out
    rng = np.random.default_rng(5)
    pt = rng.integers(0, 3, size=(6, n_out)) * 1000  # many equal values: the sort must be stable
    pt[1] = 0
    pt[2, 0], pt[2, 3:] = t1, t4  # exactly at the thresholds
    pt[3, 0], pt[3, 3:] = t1 - 1, t4 - 1  # one below
    pt[4] = (1 << p1.plan.calibration.out_width) - 1
    res, stim = p1.run(sim, "trigger", {"pt_calib": pt}, "ties")
    assert_passed(res, stim)
    assert stim["expect_pass_pt1"][2] and not stim["expect_pass_pt1"][3]


@pytest.mark.parametrize("sim", SIMULATORS)
def test_chain(p1, sim):
    """Whole chain on real-looking events: an all-maximum event, an empty one, pile-up plus jets."""
    et = synthetic_events(4, 11, (2, 50, 64), p1.bundle.formats["et_in"])
    res, stim = p1.run(sim, "chain", {"et_in": et}, "events")
    assert_passed(res, stim)
    lat = CHAIN_LATENCY[sim] = res.latency
    budgets = p1.derived.budgets
    assert lat["denoiser"]["last_out"] <= 1.05 * p1.derived.streaming_cycles <= budgets["denoiser"].cycles
    assert lat["chain"]["last_out"] <= budgets["chain"].cycles
    assert stim["expect_n_clusters"].max() > 0


def test_chain_with_gaps_and_bubbles(p1):
    """Idle cycles between and inside events, and back-to-back events, give the same outputs."""
    et = synthetic_events(4, 12, (2, 50, 64), p1.bundle.formats["et_in"])
    res, stim = p1.run("verilator", "chain", {"et_in": et}, "gaps", seed=9)
    assert stim["gap"].sum() + stim["bubble"].sum() > 0
    assert_passed(res, stim)


def test_chain_p4_meets_the_tight_budget(p4):
    """The 2.5 us spec at P = 4: bit-exact, denoising within 5 % of ceil(3200 / 4) cycles, chain within budget."""
    assert p4.plan.lanes == 4
    et = synthetic_events(3, 13, (2, 50, 64), p4.bundle.formats["et_in"])
    res, stim = p4.run("verilator", "chain", {"et_in": et}, "events")
    assert_passed(res, stim)
    assert res.latency["denoiser"]["last_out"] <= 1.05 * 800
    assert res.latency["chain"]["last_out"] <= p4.derived.budgets["chain"].cycles


def test_mismatch_is_reported(p1):
    """A wrong expectation fails the testbench, names the output and the element, and reaches the JUnit file."""
    n_out = p1.plan.clusterer.n_out
    pt = np.arange(2 * n_out, dtype=np.int64).reshape(2, n_out) * 100
    need_simulator("icarus")
    stim = block_stimulus("trigger", p1.bundle, p1.plan, {"pt_calib": pt})
    stim["expect_pt4"] = stim["expect_pt4"].copy()
    stim["expect_pt4"][1] += 1
    res = run_block("icarus", "trigger", p1.plan, p1.sources, p1.root, stim, "wrong")
    assert not res.passed and list(res.mismatches) == ["pt4"]
    assert res.mismatches["pt4"]["first"][0]["index"] == [1]
    assert ET.parse(res.results_xml).getroot().findall(".//failure")


def test_simulators_agree_on_latency():
    if len(CHAIN_LATENCY) < len(SIMULATORS):
        pytest.skip("needs test_chain to have passed on both simulators in this session")
    assert CHAIN_LATENCY["verilator"] == CHAIN_LATENCY["icarus"]


def test_wider_parallelism_two_seeds_per_beat():
    """P = 8 (not a shipped spec): two seeds can share a beat, so the top-N list takes two insertions per cycle."""
    need_simulator("icarus")
    bundle, d = stress_bundle(DEFAULT_SPEC)
    plan = make_plan(bundle, dataclasses.replace(d, pixel_parallelism=8))
    assert plan.clusterer.lane_groups == ((0, 1, 2, 3, 4), (5, 6, 7))
    root = CACHE / f"P8-{bundle.content_hash()[:12]}"
    sources = write_sources(plan, root / "src")
    img = cluster_images(plan.clusterer.threshold)
    img[5, 7, 10] = img[5, 7, 16] = 60000  # two seeds six columns apart, in one beat of 8 pixels
    for mode, inputs, seed in (("clusterer", {"et_pred": img}, None),
                               ("chain", {"et_in": synthetic_events(3, 5, (2, 50, 64), bundle.formats["et_in"])}, 4)):
        stim = block_stimulus(mode, bundle, plan, inputs, seed)
        assert_passed(run_block("icarus", mode, plan, sources, root, stim, "p8"), stim)
