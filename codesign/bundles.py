"""Bundles from a spec: the random-but-valid bundle for testing, and the bundle/spec match check."""

from __future__ import annotations

import numpy as np

from codesign import __version__
from codesign.derived import DerivedParams
from codesign.errors import BundleError
from emulation.bundle import (DEPTH_MULTIPLIER, HIDDEN, KERNEL_TAPS, CalibrationParams, ClustererParams,
                              CnnParams, FirmwareBundle, Geometry, Provenance, QuantiserParams, TriggerParams)
from emulation.fixed import FixedFormat, from_float
from emulation.semantics import thresholds_from_levels


def geometry_of(d: DerivedParams) -> Geometry:
    return Geometry(eta_bins=d.eta_bins, phi_bins=d.phi_bins, n_layers=d.n_layers)


def random_bundle(d: DerivedParams, seed: int = 0) -> FirmwareBundle:
    """A random but valid bundle for the spec: realistic magnitudes, every invariant satisfied.

    Lets the emulator and the firmware generators be built and tested before training exists.
    """
    rng = np.random.default_rng(seed)
    f = d.formats

    def weights(shape: tuple[int, ...], fmt: FixedFormat, scale: float) -> np.ndarray:
        return from_float(rng.normal(0.0, scale, size=shape), fmt)

    # Quantiser: c0 = 0, widths around 0.4 GeV (the paper's initialisation), strictly increasing.
    et_in = f["et_in"]
    step = max(1, int(round(0.4 / et_in.lsb)))
    widths = rng.integers(max(1, step // 2), 2 * step, size=(d.n_layers, d.levels - 1))
    levels = np.concatenate([np.zeros((d.n_layers, 1), np.int64), np.cumsum(widths, axis=1)], axis=1)
    levels = np.minimum(levels, f["et_dec"].raw_max)
    quantiser = QuantiserParams(thresholds=thresholds_from_levels(levels), levels=levels)

    n_in = d.n_layers * DEPTH_MULTIPLIER + 1
    cnn = CnnParams(
        dw_kernel=weights((d.n_layers, DEPTH_MULTIPLIER, len(KERNEL_TAPS)), f["conv_w"], 0.3),
        dw_bias=weights((d.n_layers, DEPTH_MULTIPLIER), f["conv_b"], 1.0),
        log_eta=d.log_abs_eta_raw.copy(),
        dense1_w=weights((n_in, HIDDEN), f["dense_w"], 0.3),
        dense1_b=weights((HIDDEN,), f["dense_b"], 0.5),
        dense2_w=weights((HIDDEN, HIDDEN), f["dense_w"], 0.2),
        dense2_b=weights((HIDDEN,), f["dense_b"], 0.5),
        dense3_w=weights((HIDDEN, d.n_layers), f["dense_w"], 0.2),
        dense3_b=weights((d.n_layers,), f["dense_b"], 0.5),
    )

    clusterer = ClustererParams(
        window_mask=d.window_mask.astype(np.int64),
        seed_threshold=np.array(int(rng.integers(0, int(2.0 / f["et_pred"].lsb))), dtype=np.int64),
        n_clusters=np.array(d.n_clusters, dtype=np.int64),
    )

    # Calibration: per |eta| bin a non-decreasing LUT starting near zero (a gate) then ~linear growth.
    pt_calib = f["pt_calib"]
    increments = rng.integers(0, 4 * (1 << d.mantissa_bits), size=(d.abs_eta_bins, d.calib_addresses))
    lut = np.minimum(np.cumsum(increments, axis=1), pt_calib.raw_max)
    calibration = CalibrationParams(
        lut=lut.astype(np.int64),
        eta_bin_of_row=d.eta_bin_of_row.astype(np.int64),
        mantissa_bits=np.array(d.mantissa_bits, dtype=np.int64),
    )
    gev = int(round(1.0 / pt_calib.lsb))
    trigger = TriggerParams(thresholds=np.array([int(rng.integers(50, 200)) * gev, int(rng.integers(10, 60)) * gev],
                                                dtype=np.int64))
    provenance = Provenance(spec_name=d.spec_name, spec_hash=d.spec_hash, codesign_version=__version__,
                            seed=int(seed), source="random")
    bundle = FirmwareBundle(geometry=geometry_of(d), formats=dict(d.formats), quantiser=quantiser, cnn=cnn,
                            clusterer=clusterer, calibration=calibration, trigger=trigger, provenance=provenance)
    bundle.validate()
    return bundle


def check_bundle_matches(bundle: FirmwareBundle, d: DerivedParams) -> None:
    """Fail with one line when a bundle does not fit a spec (geometry, formats, LUT layouts).

    The spec hash may differ: a model trained under one spec can be built under another
    with the same numerics (e.g. a tighter latency budget that only changes parallelism).
    """
    who = f"bundle made for spec {bundle.provenance.spec_name!r} does not match spec {d.spec_name!r}"
    g = geometry_of(d)
    if bundle.geometry != g:
        raise BundleError(f"{who}: geometry {bundle.geometry} vs {g}")
    for name, fmt in d.formats.items():
        have = bundle.formats.get(name)
        if have != fmt:
            raise BundleError(f"{who}: formats.{name} is {have.cpp() if have else 'missing'} in the bundle, "
                              f"{fmt.cpp()} in the spec")
    checks = {
        "quantiser levels": (bundle.levels, d.levels),
        "clusterer window": (bundle.clusterer.window_mask.shape[0], d.window),
        "clusterer n_clusters": (int(bundle.clusterer.n_clusters), d.n_clusters),
        "calibration |eta| bins": (bundle.calibration.lut.shape[0], d.abs_eta_bins),
        "calibration mantissa bits": (int(bundle.calibration.mantissa_bits), d.mantissa_bits),
    }
    for what, (have, want) in checks.items():
        if have != want:
            raise BundleError(f"{who}: {what} is {have} in the bundle, {want} in the spec")
    if not np.array_equal(bundle.clusterer.window_mask, d.window_mask):
        raise BundleError(f"{who}: clusterer window mask differs")
    if not np.array_equal(bundle.calibration.eta_bin_of_row, d.eta_bin_of_row):
        raise BundleError(f"{who}: calibration |eta| binning differs")
    if not np.array_equal(bundle.cnn.log_eta, d.log_abs_eta_raw):
        raise BundleError(f"{who}: cnn.log_eta (log|eta| per row) differs")
