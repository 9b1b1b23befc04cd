"""V2, HLS side: the generated C++ (g++ C simulation) against the emulator, bit for bit.

Every output and every per-block intermediate the testbench writes is compared as a whole array
with exact equality: random bundles, both shipped specs (P = 1 and P = 4), saturating weights
with all-maximum inputs, and the clusterer's tie cases. The kernel and testbench are compiled
once per spec (object cache shared by the module); each bundle recompiles only parameters.cpp.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from codesign.build.events import REFERENCE_INTERMEDIATES, synthetic_events
from codesign.bundles import random_bundle
from codesign.derived import derive
from codesign.hls.csim import compare, simulate
from codesign.hls.project import HlsDesign, render_project, write_project
from codesign.paths import DEFAULT_SPEC
from codesign.spec import load_spec
from emulation.chain import OUTPUTS, run_chain
from helpers import TIGHT_SPEC, require_compiler, saturating_bundle

COMPARED = OUTPUTS + REFERENCE_INTERMEDIATES


@pytest.fixture(scope="module", autouse=True)
def compiler():
    """g++ is required: a failure under CI=true, a skip with the reason elsewhere."""
    require_compiler("the HLS C simulation")


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("csim_objects")


@pytest.fixture(scope="module")
def default():
    return derive(load_spec(DEFAULT_SPEC))


@pytest.fixture(scope="module")
def tight():
    return derive(load_spec(TIGHT_SPEC))


def csim_vs_emulator(bundle, derived, et, tmp_path, cache):
    """Run the C simulation of `bundle` on raw events; assert every compared array equals the emulator's."""
    design = HlsDesign(derived.pixel_parallelism, derived.part.name, derived.clock_mhz)
    write_project(tmp_path / "hls", bundle, design, et)
    want = run_chain(bundle, et, keep=True)
    reference = {k: np.asarray(want[k]) for k in COMPARED}
    run = simulate(tmp_path / "hls", tmp_path / "csim", {k: v.shape for k, v in reference.items()}, cache=cache)
    mismatches, counts = compare(reference, run.outputs)
    assert sum(counts.values()) == 0, (counts, mismatches[:5])
    for name in COMPARED:  # the comparison itself, spelled out: whole arrays, exact
        assert np.array_equal(run.outputs[name], reference[name].astype(np.int64)), name
    return reference


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_bundles_default_spec(default, seed, tmp_path, cache):
    bundle = random_bundle(default, seed)
    et = synthetic_events(5, seed, (2, 50, 64), bundle.formats["et_in"])
    ref = csim_vs_emulator(bundle, default, et, tmp_path, cache)
    assert ref["n_clusters"].max() == 10 and ref["seeds"].sum() > 20  # the comparison saw real clusters


def test_tight_spec_four_pixels_per_clock(tight, tmp_path, cache):
    assert tight.pixel_parallelism == 4
    bundle = random_bundle(tight, 4)
    et = synthetic_events(5, 4, (2, 50, 64), bundle.formats["et_in"])
    csim_vs_emulator(bundle, tight, et, tmp_path, cache)
    assert "#define PIX_PAR 4" in (tmp_path / "hls" / "firmware" / "defines.h").read_text()


def test_all_maximum_inputs_and_saturating_weights(default, tmp_path, cache):
    bundle = random_bundle(default, 4)
    f = bundle.formats
    saturating = saturating_bundle(bundle)
    # negative extremes too: the most negative kernel drives the conv accumulator below zero (ReLU)
    negative = dataclasses.replace(bundle, cnn=dataclasses.replace(
        bundle.cnn, dw_kernel=np.full_like(bundle.cnn.dw_kernel, f["conv_w"].raw_min),
        dense3_w=np.full_like(bundle.cnn.dense3_w, f["dense_w"].raw_min),
        dense3_b=np.full_like(bundle.cnn.dense3_b, f["dense_b"].raw_min)))
    et = synthetic_events(4, 9, (2, 50, 64), f["et_in"])
    et[1] = f["et_in"].raw_max  # two all-maximum events (raw 65535 everywhere)
    et[2, :, ::2, ::3] = f["et_in"].raw_max  # a saturating grid
    ref = csim_vs_emulator(saturating, default, et, tmp_path / "sat", cache)
    assert (ref["codes"][0] == bundle.levels - 1).all()
    assert (ref["conv_act"][0] == f["conv_act"].raw_max).all()
    assert (ref["seg_w"][0] == 1 << f["seg_w"].frac_bits).all()  # hard sigmoid clipped at exactly 1.0
    assert (ref["et_pred"][0] == f["et_pred"].raw_max).all()  # E_pred saturates
    ref = csim_vs_emulator(negative, default, et, tmp_path / "neg", cache)
    assert (ref["seg_w"] == 0).all()  # hard sigmoid clipped at 0


def _identity(bundle, threshold=0):
    """w = 1 for both layers (hard sigmoid saturated at 1), so E_pred = E_em + E_had where representable."""
    f = bundle.formats
    cnn = dataclasses.replace(bundle.cnn, dense3_w=np.zeros_like(bundle.cnn.dense3_w),
                              dense3_b=np.full_like(bundle.cnn.dense3_b, f["dense_b"].raw_max))
    return dataclasses.replace(bundle, cnn=cnn,
                               clusterer=dataclasses.replace(bundle.clusterer, seed_threshold=np.array(threshold)))


def test_clusterer_ties(default, tmp_path, cache):
    bundle = _identity(random_bundle(default, 5))
    levels = bundle.quantiser.levels
    v, w = int(levels[0, 40]), int(levels[0, 60])
    img = np.zeros((8, 2, 50, 64), dtype=np.int64)
    img[0, 0, 10, 10] = img[0, 0, 10, 14] = v  # equal maxima in one window: the earlier seeds
    img[1, 0, 10, 62] = img[1, 0, 10, 1] = v  # equal maxima across the phi wrap: column 62 comes first
    img[2, 0, :, :] = v  # a plateau: phi is cyclic, so no pixel beats the one before it
    img[3, 0, 0, 5] = img[3, 0, 49, 5] = v  # eta edges: no wrap in eta
    img[4, 0, 20, 0:3] = v  # a plateau segment crossing nothing: the first pixel seeds
    img[4, 0, 30, 62:64] = img[4, 0, 30, 0] = v  # a plateau across the phi seam
    for k in range(12):  # 12 separated equal clusters: top 10 by raster index, two dropped
        img[5, 0, 4 + 9 * (k // 4), 4 + 16 * (k % 4)] = w
    img[6, 0, 24, 0] = img[6, 1, 24, 63] = v  # neighbours across the seam in different layers sum
    img[7, 0, 25, 30] = w
    img[7, 0, 21, 30] = img[7, 0, 29, 30] = w  # equal pixels on the window's eta edge (d_eta = -4, +4)
    ref = csim_vs_emulator(bundle, default, img, tmp_path, cache)
    assert ref["n_clusters"][0] == 1 and (ref["cluster_ieta"][0, 0], ref["cluster_iphi"][0, 0]) == (10, 10)
    assert ref["n_clusters"][1] == 1 and ref["cluster_iphi"][1, 0] == 62
    assert ref["n_clusters"][2] == 0
    assert ref["n_clusters"][3] == 2
    assert ref["n_clusters"][5] == 10 and (np.diff(ref["cluster_pt"][5]) == 0).all()
    assert list(ref["cluster_ieta"][5]) == [4, 4, 4, 4, 13, 13, 13, 13, 22, 22]


def test_generated_files_are_deterministic(default, tight):
    bundle = random_bundle(default, 0)
    design = HlsDesign(default.pixel_parallelism, default.part.name, default.clock_mhz)
    a, b = render_project(bundle, design), render_project(random_bundle(default, 0), design)
    assert a == b and "firmware/parameters.cpp" in a and "build_prj.tcl" in a
    # a new bundle for the same spec changes only parameters.cpp and the tcl banner (the compiled kernel is reused)
    c = render_project(random_bundle(default, 1), design)
    assert sorted(k for k in a if a[k] != c[k]) == ["build_prj.tcl", "firmware/parameters.cpp"]
    # the spec's parallelism, part and clock reach the sources
    t = render_project(random_bundle(tight, 0), HlsDesign(tight.pixel_parallelism, "xcku15p-ffve1760-2-e", 250.0))
    assert "#define PIX_PAR 4" in t["firmware/defines.h"]
    assert "set part xcku15p-ffve1760-2-e" in t["build_prj.tcl"] and "set clock_period 4" in t["build_prj.tcl"]
