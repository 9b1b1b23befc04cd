"""The numba emulator against the independent numpy reference: whole arrays, exact equality."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from codesign.bundles import random_bundle
from codesign.derived import derive
from codesign.paths import DEFAULT_SPEC
from codesign.spec import load_spec, parse_spec
from emulation.chain import OUTPUTS, run_chain, run_chain_gev
from emulation.errors import InputError
from emulation.fixed import from_float
from emulation.quantiser import encoder_table, quantise
from emulation.cnn import CnnKernelParams
from helpers import default_spec_dict, saturating_bundle
from reference_chain import reference_chain

INTERMEDIATES = ("codes", "et_dec", "conv_act", "dense1_act", "dense2_act", "dense3_acc", "seg_w", "et_pred", "seeds")


@pytest.fixture(scope="module")
def derived():
    return derive(load_spec(DEFAULT_SPEC))


def physics_like(rng: np.random.Generator, n: int, et_in) -> np.ndarray:
    """Pile-up-like exponential noise plus a few narrow jets, digitised to raw et_in."""
    img = rng.exponential(0.4, size=(n, 2, 50, 64)) * (rng.random((n, 2, 50, 64)) < 0.8)
    for ev in range(n):
        for _ in range(rng.integers(0, 6)):
            i, j = rng.integers(0, 50), rng.integers(0, 64)
            pt = rng.exponential(60.0)
            img[ev, :, max(i - 1, 0):i + 2, j] += pt * np.array([0.3, 0.7])[:, None] / 3
    return from_float(img, et_in)


def assert_same(bundle, et_raw):
    got = run_chain(bundle, et_raw, keep=True)
    want = reference_chain(bundle, et_raw)
    for name in OUTPUTS + INTERMEDIATES:
        a, b = np.asarray(got[name]), np.asarray(want[name])
        assert a.shape == b.shape, name
        assert np.array_equal(a, b), f"{name}: {np.count_nonzero(a != b)} of {a.size} differ"
    return got


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_bundles_physics_like_inputs(derived, seed):
    bundle = random_bundle(derived, seed)
    rng = np.random.default_rng(100 + seed)
    got = assert_same(bundle, physics_like(rng, 6, bundle.formats["et_in"]))
    assert got["n_clusters"].max() > 0


def test_all_maximum_codes_and_saturation(derived):
    bundle = random_bundle(derived, 4)
    f = bundle.formats
    sat = saturating_bundle(bundle)
    top = np.full((2, 2, 50, 64), f["et_in"].raw_max, dtype=np.int64)
    got = assert_same(sat, top)
    assert (got["codes"] == bundle.levels - 1).all()
    assert (got["conv_act"] == f["conv_act"].raw_max).all()
    assert (got["seg_w"] == 1 << f["seg_w"].frac_bits).all()  # hard sigmoid clipped at exactly 1.0
    assert (got["et_pred"] == f["et_pred"].raw_max).all()  # E_pred saturates
    assert_same(bundle, top)
    assert_same(bundle, np.zeros((2, 2, 50, 64), dtype=np.int64))


@pytest.mark.parametrize("bits, bias_int_bits, saturating, number_type", [
    (10, 6, False, np.float32),  # the shipped spec: BLAS sgemm
    (10, 6, True, np.float64),  # extreme weights push the bound past 2**24: BLAS dgemm
    (24, 16, True, np.int64),  # past 2**53: int64 loops
])
def test_each_dense_number_type_matches_the_reference(bits, bias_int_bits, saturating, number_type):
    data = default_spec_dict()
    data["precision"]["cnn"].update(bits=bits, bias_int_bits=bias_int_bits)
    bundle = random_bundle(derive(parse_spec(data)), 6)
    bundle = saturating_bundle(bundle) if saturating else bundle
    assert CnnKernelParams.of(bundle).w1.dtype == number_type
    rng = np.random.default_rng(7)
    assert_same(bundle, physics_like(rng, 2, bundle.formats["et_in"]))
    top = np.full((1, 2, 50, 64), bundle.formats["et_in"].raw_max, dtype=np.int64)
    assert_same(bundle, top)


def test_ties_in_the_clusterer(derived):
    bundle = random_bundle(derived, 5)
    # identity-like CNN: w = 1 everywhere, so E_pred = E_em + E_had exactly (when representable)
    f = bundle.formats
    cnn = dataclasses.replace(bundle.cnn, dense3_w=np.zeros_like(bundle.cnn.dense3_w),
                              dense3_b=np.full_like(bundle.cnn.dense3_b, f["dense_b"].raw_max))
    ident = dataclasses.replace(bundle, cnn=cnn,
                                clusterer=dataclasses.replace(bundle.clusterer, seed_threshold=np.array(0)))
    levels = bundle.quantiser.levels
    img = np.zeros((4, 2, 50, 64), dtype=np.int64)
    v = int(levels[0, 40])
    img[0, 0, 10, 10] = img[0, 0, 10, 14] = v  # equal maxima in one window: the earlier wins
    img[1, 0, 10, 62] = img[1, 0, 10, 1] = v  # equal maxima across the phi wrap
    img[2, 0, :, :] = v  # a plateau: only the first pixel of each window region seeds
    img[3, 0, 0, 5] = img[3, 0, 49, 5] = v  # eta edges: no wrap in eta
    got = assert_same(ident, img)
    assert got["n_clusters"][0] == 1 and (got["cluster_ieta"][0, 0], got["cluster_iphi"][0, 0]) == (10, 10)
    assert got["n_clusters"][1] == 1 and got["cluster_iphi"][1, 0] == 62
    assert got["n_clusters"][3] == 2


def test_gev_entry_point_digitises_round_half_up(derived):
    bundle = random_bundle(derived, 0)
    lsb = bundle.formats["et_in"].lsb
    images = np.zeros((1, 2, 50, 64))
    images[0, 0, 0, :4] = [0.5 * lsb, 1.5 * lsb, 2000.0, -1.0]
    got = run_chain_gev(bundle, images, keep=True)
    assert list(got["et_in"][0, 0, 0, :4]) == [1, 2, bundle.formats["et_in"].raw_max, 0]


def test_bad_inputs(derived):
    bundle = random_bundle(derived, 0)
    with pytest.raises(InputError, match="shape"):
        run_chain(bundle, np.zeros((1, 2, 50, 63), dtype=np.int64))
    with pytest.raises(InputError, match="raw integers"):
        run_chain(bundle, np.zeros((1, 2, 50, 64)))
    with pytest.raises(InputError, match="outside"):
        run_chain(bundle, np.full((1, 2, 50, 64), 1 << 16, dtype=np.int64))


def test_batches_are_independent(derived):
    """Parallel (prange) batches give the same per-event result as events run one at a time."""
    bundle = random_bundle(derived, 7)
    et = physics_like(np.random.default_rng(7), 5, bundle.formats["et_in"])
    whole = run_chain(bundle, et)
    for ev in range(len(et)):
        single = run_chain(bundle, et[ev:ev + 1])
        for name in OUTPUTS:
            assert np.array_equal(whole[name][ev], single[name][0]), name


@pytest.mark.parametrize("top", [300, 1 << 21])  # encoder table of 301 entries; too large: binary search only
def test_quantiser_encoder_counts_thresholds_at_or_below(top):
    rng = np.random.default_rng(top)
    thresholds = np.sort(rng.integers(0, top, (2, 15)), axis=1)
    thresholds[:, -1] = top
    thresholds[1, 3:6] = thresholds[1, 3]  # repeated thresholds
    levels = rng.integers(0, 1000, (2, 16))
    edges = np.concatenate([thresholds.ravel() + d for d in (-1, 0, 1)] + [[-5, 0, top * 3]])
    et = np.resize(edges, (1, 2, 50, 64))
    codes, dec = quantise(et, thresholds, levels)
    want = np.stack([(thresholds[layer][None, :] <= et[0, layer].reshape(-1, 1)).sum(1).reshape(50, 64)
                     for layer in range(2)])[None]
    assert np.array_equal(codes, want)
    assert np.array_equal(dec, np.stack([levels[layer][want[0, layer]] for layer in range(2)])[None])
    assert encoder_table(thresholds).shape[1] == (top + 1 if top < 1 << 20 else 0)
