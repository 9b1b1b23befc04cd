"""A trained model's integers as FirmwareBundle blocks: exactly the values its QAT forward uses."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from codesign.bundles import geometry_of
from codesign.derived import DerivedParams
from codesign.errors import InputError
from codesign.train.clusterer import seed_threshold_raw
from codesign.train.fixed_tf import to_raw
from emulation.bundle import (CalibrationParams, ClustererParams, CnnParams, FirmwareBundle, Provenance,
                              QuantiserParams, TriggerParams)
from emulation.semantics import thresholds_from_levels

if TYPE_CHECKING:  # the model imports this module for its number types
    from codesign.train.model import TriggerChain


def quantiser_params(model: TriggerChain) -> QuantiserParams:
    levels = np.stack([q.levels_raw().numpy() for q in model.quantisers]).astype(np.int64)
    return QuantiserParams(thresholds=thresholds_from_levels(levels), levels=levels)


def cnn_params(model: TriggerChain, d: DerivedParams) -> CnnParams:
    """The CNN's raw integer parameters: the quantised weights its forward uses (one compiled call)."""
    f = d.formats
    q = model.quantised_cnn_weights()
    dense = {}
    for i, (w, b) in enumerate(q.dense, start=1):
        dense[f"dense{i}_w"] = to_raw(w.numpy(), f["dense_w"])
        dense[f"dense{i}_b"] = to_raw(b.numpy(), f["dense_b"])
    return CnnParams(dw_kernel=to_raw(q.taps.numpy(), f["conv_w"]), dw_bias=to_raw(q.conv_bias.numpy(), f["conv_b"]),
                     log_eta=d.log_abs_eta_raw.astype(np.int64), **dense)


def check_monotone(lut: np.ndarray) -> None:
    """Every (|eta| bin) row of the calibration LUT must be non-decreasing in pT: one-line error otherwise."""
    bad = np.argwhere(np.diff(lut, axis=1) < 0)
    if bad.size:
        b, a = (int(i) for i in bad[0])
        raise InputError(f"calibration LUT is not monotone in pT: |eta| bin {b}, address {a + 1} gives "
                         f"{lut[b, a + 1]} < {lut[b, a]} at address {a} ({len(bad)} decreasing steps); not exported")


def calibration_params(model: TriggerChain, d: DerivedParams) -> CalibrationParams:
    lut = to_raw(model.calibration.lut().numpy(), d.formats["pt_calib"])
    check_monotone(lut)
    return CalibrationParams(lut=lut, eta_bin_of_row=d.eta_bin_of_row.astype(np.int64),
                             mantissa_bits=np.array(d.mantissa_bits, dtype=np.int64))


def clusterer_params(d: DerivedParams) -> ClustererParams:
    return ClustererParams(window_mask=d.window_mask.astype(np.int64),
                           seed_threshold=np.array(seed_threshold_raw(d), dtype=np.int64),
                           n_clusters=np.array(d.n_clusters, dtype=np.int64))


def model_bundle(model: TriggerChain, d: DerivedParams, thresholds: np.ndarray,
                 provenance: Provenance) -> FirmwareBundle:
    """The validated bundle of `model` with the given raw pt_calib trigger thresholds (pT1, pT4)."""
    bundle = FirmwareBundle(geometry=geometry_of(d), formats=dict(d.formats), quantiser=quantiser_params(model),
                            cnn=cnn_params(model, d), clusterer=clusterer_params(d),
                            calibration=calibration_params(model, d),
                            trigger=TriggerParams(thresholds=np.asarray(thresholds, dtype=np.int64)),
                            provenance=provenance)
    bundle.validate()
    return bundle
