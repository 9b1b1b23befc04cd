"""Training blocks without training: each QAT forward against emulation's integer definitions, monotonicity,
export checks, losses and metrics."""

from __future__ import annotations

import numpy as np
import pytest

from codesign.build.events import synthetic_events
from codesign.derived import derive
from codesign.errors import InputError
from codesign.paths import DEFAULT_SPEC
from codesign.spec import load_spec
from codesign.train.bundle_of_model import check_monotone, model_bundle
from codesign.train.calibration import AddressGrid
from codesign.train.evaluate import Agreement, model_raw
from codesign.train.fixed_tf import ApFixed, round_to
from codesign.train.losses import calibration_distance, event_weights, matched_pairs
from codesign.train.metrics import passing_rate, roc_auc, threshold_at_fpr
from codesign.train.model import build_model
from codesign.train.quantiser import digitise
from codesign.train.tf_setup import DTYPE, tf
from emulation.bundle import Provenance
from emulation.chain import run_chain
from emulation.clusterer import cluster
from emulation.fixed import FixedFormat, from_float, to_float
from emulation.quantiser import quantise
from emulation.semantics import calib_address


@pytest.fixture(scope="module")
def spec():
    return load_spec(DEFAULT_SPEC)


@pytest.fixture(scope="module")
def derived(spec):
    return derive(spec)


@pytest.fixture(scope="module")
def model(spec, derived):
    return build_model(spec, derived, seed=3)


def _bundle(model, derived, thresholds=(0, 0)):
    prov = Provenance(spec_name=derived.spec_name, spec_hash=derived.spec_hash, codesign_version="test", seed=3,
                      source="export")
    return model_bundle(model, derived, np.array(thresholds), prov)


# --------------------------------------------------------------------------- fixed point


@pytest.mark.parametrize("fmt", [FixedFormat(16, 10, False), FixedFormat(10, 1, True), FixedFormat(10, 6, False),
                                 FixedFormat(10, 3, True), FixedFormat(18, 12, False)])
def test_round_to_is_from_float(fmt):
    rng = np.random.default_rng(0)
    lsb = fmt.lsb
    grid = np.arange(fmt.raw_min - 40, fmt.raw_max + 40, max(1, (fmt.raw_max - fmt.raw_min) // 5000)) * lsb
    values = np.concatenate([grid, grid + lsb / 2, grid - lsb / 2, grid + lsb / 3,
                             rng.normal(0, fmt.max_value, 20000), [0.0, -0.0, 1e9, -1e9]])
    got = round_to(tf.constant(values, DTYPE), fmt).numpy()
    assert np.array_equal(got, to_float(from_float(values, fmt), fmt))


def test_apfixed_gradient_passes_inside_the_range_only():
    fmt = FixedFormat(10, 6, False)  # the ReLU activation format: [0, 63.9375]
    x = tf.constant([-3.0, -0.01, 0.2, 17.3, 63.9, 64.5, 200.0], DTYPE)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = ApFixed(fmt)(x)
    assert np.array_equal(tape.gradient(y, x).numpy(), [0, 0, 1, 1, 1, 0, 0])
    assert np.array_equal(y.numpy(), to_float(from_float(x.numpy(), fmt), fmt))


# --------------------------------------------------------------------------- quantiser


def test_quantiser_forward_is_the_exported_encoder_and_decoder_on_every_input(model, derived):
    """Every et_in raw value (0..65535); widths below the LSB (equal levels) and up to 15 GeV (levels saturate)."""
    rng = np.random.default_rng(1)
    saved = [q.width_param.numpy() for q in model.quantisers]
    try:
        for q in model.quantisers:
            widths = np.concatenate([rng.uniform(0.002, 0.05, 100), rng.uniform(5.0, 15.0, q.n_levels - 101)])
            q.width_param.assign(np.log(np.expm1(widths)))
        et_in = derived.formats["et_in"]
        raw = np.arange(et_in.raw_max + 1, dtype=np.int64)
        images = np.stack([raw, raw[::-1]]).reshape(1, 2, 256, 256)
        et_dec, codes = model.quantise(tf.constant(to_float(images, et_in)))
        bundle = _bundle(model, derived)
        want_codes, want_dec = quantise(images, bundle.quantiser.thresholds, bundle.quantiser.levels)
        levels = bundle.quantiser.levels
        assert (levels[:, -1] == derived.formats["et_dec"].raw_max).all() and (np.diff(levels) == 0).any()
        assert np.array_equal(codes.numpy(), want_codes)
        assert np.array_equal(np.ldexp(et_dec.numpy(), et_in.frac_bits), want_dec)
    finally:
        for q, w in zip(model.quantisers, saved):
            q.width_param.assign(w)


def test_quantiser_surrogate_gives_width_gradients_and_regulariser(model):
    q = model.quantisers[0]
    x = tf.constant(np.linspace(0.0, 120.0, 4001), DTYPE)
    with tf.GradientTape() as tape:
        y, _ = q(digitise(x, q.et_in), soft=True)
        loss = tf.reduce_mean((tf.cast(y, DTYPE) - x) ** 2) + q.regulariser()
    grad = tape.gradient(loss, q.width_param).numpy()
    assert np.isfinite(grad).all() and (grad != 0).mean() > 0.9
    assert float(q.regulariser()) == 0.0  # all widths equal at the start (0.4 GeV)
    assert np.allclose(q.centres().numpy()[[1, 255]], [0.4, 102.0])


# --------------------------------------------------------------------------- CNN, clusterer, whole chain


def test_untrained_model_equals_emulator_on_adversarial_events(model, derived):
    """Saturating (all cells at the maximum), empty and pile-up-like events: every tensor bit-identical."""
    raw = synthetic_events(12, 5, (2, derived.eta_bins, derived.phi_bins), derived.formats["et_in"])
    bundle = _bundle(model, derived, thresholds=(20000, 3000))
    out = model_raw({k: v.numpy() for k, v in model(to_float(raw, derived.formats["et_in"])).items()}, bundle)
    agreement = Agreement()
    agreement.add(out, run_chain(bundle, raw, keep=True))
    report = agreement.report()
    assert all(r["fraction_identical"] == 1.0 for r in report.values()), report
    assert set(report) >= {"codes", "seg_w", "et_pred", "cluster_pt", "pt_calib", "pass_pt1", "pass_pt4"}


def test_clusterer_forward_equals_emulator_with_ties(model, derived):
    """Small integer energies make many equal neighbours: seeds, order and padding follow SEMANTICS.md 5."""
    rng = np.random.default_rng(2)
    e_raw = rng.integers(0, 4, size=(24, derived.eta_bins, derived.phi_bins)) * 64
    e_raw[0] = 64  # flat image: no seed at all
    e_raw[1] = 0
    e_raw[2, 10, 10] = e_raw[2, 10, 13] = 500  # two equal maxima in one window: the earlier wins
    bundle = _bundle(model, derived)
    want = cluster(bundle, e_raw)
    got = {k: v.numpy() for k, v in model.clusterer(tf.constant(to_float(e_raw, derived.formats["et_pred"]))).items()}
    assert np.array_equal(np.ldexp(got["cluster_pt"], 6), want["cluster_pt"])
    for k in ("cluster_ieta", "cluster_iphi", "n_clusters", "seeds"):
        assert np.array_equal(got[k], want[k]), k
    assert want["n_clusters"][0] == 0 and want["seeds"][2, 10, 10] and not want["seeds"][2, 10, 13]


def test_both_modes_start_from_the_same_parameters(spec, derived):
    a, b = build_model(spec, derived, seed=7), build_model(spec, derived, seed=7)
    c = build_model(spec, derived, seed=8)
    assert [v.name for v in a.variables] == [v.name for v in b.variables]
    assert all(np.array_equal(x.numpy(), y.numpy()) for x, y in zip(a.variables, b.variables))
    assert not all(np.array_equal(x.numpy(), y.numpy()) for x, y in zip(a.variables, c.variables))


# --------------------------------------------------------------------------- calibration


def test_address_grid_matches_calib_address(derived):
    f = derived.formats["cluster_pt"]
    grid = AddressGrid.of(f.width, derived.mantissa_bits)
    assert len(grid.first_raw) == derived.calib_addresses
    assert np.array_equal(calib_address(grid.first_raw, derived.mantissa_bits), np.arange(derived.calib_addresses))
    assert np.array_equal(calib_address(grid.first_raw[1:] - 1, derived.mantissa_bits),
                          np.arange(derived.calib_addresses - 1))


def test_calibration_is_monotone_in_pt_for_any_parameters(model, derived):
    cal = model.calibration
    saved = [v.numpy() for v in cal.variables]
    rng = np.random.default_rng(4)
    try:
        for trial in range(4):
            for v in cal.variables:
                v.assign(rng.normal(0.0, 3.0, v.shape))
            pt = tf.constant(np.geomspace(0.01, 4000.0, 3000), DTYPE)
            for eta in (0.25, 1.25, 2.25):
                h = cal.response(pt, tf.fill(pt.shape, tf.constant(eta, DTYPE))).numpy()
                assert (np.diff(h) >= 0).all(), (trial, eta)
            lut = np.ldexp(cal.lut().numpy(), derived.formats["pt_calib"].frac_bits)
            assert (np.diff(lut, axis=1) >= 0).all()
    finally:
        for v, w in zip(cal.variables, saved):
            v.assign(w)


def test_export_fails_on_a_non_monotone_lut(model, derived, monkeypatch):
    lut = np.tile(np.arange(derived.calib_addresses, dtype=np.int64), (derived.abs_eta_bins, 1))
    lut[3, 200] = lut[3, 199] - 1
    with pytest.raises(InputError) as err:
        check_monotone(lut)
    assert "|eta| bin 3, address 200" in str(err.value) and "\n" not in str(err.value)
    broken = tf.constant(np.ldexp(lut[:, ::-1].astype(np.float64), -6))
    monkeypatch.setattr(model.calibration, "lut", lambda: broken)
    with pytest.raises(InputError, match="calibration LUT is not monotone in pT"):
        _bundle(model, derived)


# --------------------------------------------------------------------------- losses and metrics


def test_matching_is_unique_and_within_delta_r():
    # event 0: truth 0 matches reco 0 alone; truth 1 and 2 both match reco 1 (not unique); reco 2 far away.
    jets = np.zeros((1, 4, 4), np.float32)
    jets[0, :3, :3] = [[100.0, 0.0, 0.0], [50.0, 1.0, 3.1], [40.0, 1.1, -3.1]]
    reco_eta = tf.constant([[0.05, 1.05, -2.0]], DTYPE)
    reco_phi = tf.constant([[0.1, 3.14, 0.0]], DTYPE)
    valid = tf.constant([[True, True, True]])
    m = matched_pairs(reco_eta, reco_phi, valid, tf.constant(jets), tf.constant([3]), 2.5).numpy()
    want = np.zeros((1, 4, 3))
    want[0, 0, 0] = 1
    assert np.array_equal(m, want)
    pt = tf.constant([[90.0, 10.0, 5.0]], DTYPE)
    assert float(calibration_distance(pt, tf.constant(m), tf.constant(jets), tf.constant([1.0], DTYPE))) == 100.0


def test_event_weights_balance_classes():
    w = event_weights(tf.constant([1, 1, 0, 0], tf.int8), tf.constant([1.0, 1.0, 1e-6, 3e-6])).numpy()
    assert np.allclose(w, [0.25, 0.25, 0.125, 0.375])


def test_threshold_at_fpr_and_auc_against_brute_force():
    rng = np.random.default_rng(6)
    bkg = rng.integers(0, 200, 3000)
    w = rng.exponential(1.0, 3000) * (rng.random(3000) < 0.7)
    sig = rng.integers(50, 300, 500)
    for fpr in (1e-3, 0.05, 0.5):
        t = threshold_at_fpr(bkg, w, fpr)
        rates = [np.sum(w[bkg >= c]) / w.sum() for c in range(0, 202)]
        assert t == next(c for c in range(0, 202) if rates[c] <= fpr)
        assert passing_rate(bkg, t, w) <= fpr
    brute = sum(wj * ((si > bj) + 0.5 * (si == bj)) for bj, wj in zip(bkg, w) for si in sig[:50]) / (50 * w.sum())
    assert roc_auc(sig[:50], bkg, w) == pytest.approx(brute, rel=1e-12)
