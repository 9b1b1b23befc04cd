"""Parameters derived from a spec: encoding, parallelism, cycle budgets and every fixed-point type.

Both the QAT models and the firmware generators read these, so a change in the spec
changes training and firmware together. All arithmetic on spec numbers goes through
`Fraction` of their decimal text, so 2.048 Tbps / (40 MHz * 6400 cells) is exactly 8.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from codesign.errors import InputError, SpecError
from codesign.parts import Part, load_parts
from codesign.spec import InputEtSpec, Spec
from emulation.fixed import FixedFormat, from_float, sfixed, ufixed
from emulation.semantics import calib_address_count, window_mask

BLOCKS = ("quantiser", "denoiser", "clusterer", "calibration", "trigger")
_BUDGET_KEYS = {"quantiser": "quantise_us", "denoiser": "denoise_us", "clusterer": "cluster_us",
                "calibration": "calibrate_us", "trigger": "trigger_us"}


def _exact(x: float) -> Fraction:
    """The decimal value a YAML number was written as (avoids binary float error)."""
    return Fraction(repr(x))


@dataclass(frozen=True)
class Budget:
    """A latency budget of one block or of the whole chain."""

    name: str
    us: float | None
    cycles: int | None


@dataclass(frozen=True)
class DerivedParams:
    """Everything the spec implies for training and firmware."""

    spec_name: str
    spec_hash: str
    part: Part
    clock_mhz: float
    eta_bins: int
    phi_bins: int
    n_layers: int
    bits_per_cell: int
    bits_per_cell_exact: Fraction
    levels: int
    event_bits: int
    pixel_parallelism: int
    streaming_cycles: int
    estimated_denoise_cycles: int
    estimated_chain_cycles: int
    budgets: dict[str, Budget]
    formats: dict[str, FixedFormat]
    window: int
    window_mask: np.ndarray
    n_clusters: int
    abs_eta_bins: int
    mantissa_bits: int
    calib_addresses: int
    log_abs_eta_raw: np.ndarray
    eta_bin_of_row: np.ndarray
    cnn_extra_stages: int = 0  # firmware.register_products: PRODUCT_REGISTER_STAGES, else 0
    trigger_extra_stages: int = 0  # firmware.register_decision: 1, else 0
    multipliers: str = "dsp"  # firmware.multipliers: dsp | lut

    @property
    def n_pixels(self) -> int:
        return self.eta_bins * self.phi_bins

    @property
    def window_cells(self) -> int:
        return int(self.window_mask.sum())

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready summary (what `codesign spec show --json` prints)."""
        return {
            "spec": self.spec_name,
            "spec_hash": self.spec_hash,
            "part": self.part.name,
            "clock_mhz": self.clock_mhz,
            "image": [self.eta_bins, self.phi_bins, self.n_layers],
            "bits_per_cell": self.bits_per_cell,
            "bits_per_cell_exact": float(self.bits_per_cell_exact),
            "quantiser_levels": self.levels,
            "event_bits": self.event_bits,
            "pixel_parallelism": self.pixel_parallelism,
            "streaming_cycles": self.streaming_cycles,
            "estimated_cycles": {"denoiser": self.estimated_denoise_cycles, "chain": self.estimated_chain_cycles},
            "budgets": {k: {"us": b.us, "cycles": b.cycles} for k, b in self.budgets.items()},
            "formats": {k: f.cpp() for k, f in self.formats.items()},
            "clusterer": {"window": self.window, "window_cells": self.window_cells, "n_clusters": self.n_clusters},
            "calibration": {"abs_eta_bins": self.abs_eta_bins, "mantissa_bits": self.mantissa_bits,
                            "lut_addresses": self.calib_addresses,
                            "lut_entries": self.abs_eta_bins * self.calib_addresses},
        }


def et_format(s: InputEtSpec) -> FixedFormat:
    """Unsigned format with the given width and a power-of-two LSB in GeV."""
    frac = -int(round(math.log2(s.lsb_gev)))
    return ufixed(s.bits, s.bits - frac)


def product_format(a: FixedFormat, b: FixedFormat) -> FixedFormat:
    """Exact format of a*b (as ap_fixed's operator* result type)."""
    signed = a.signed or b.signed
    extra = 1 if a.signed != b.signed else 0
    return FixedFormat(a.width + b.width + extra, a.int_bits + b.int_bits + extra, signed)


def union_format(a: FixedFormat, b: FixedFormat) -> FixedFormat:
    """Smallest format holding every value of both `a` and `b`."""
    signed = a.signed or b.signed
    int_a = a.int_bits + (1 if signed and not a.signed else 0)
    int_b = b.int_bits + (1 if signed and not b.signed else 0)
    int_bits, frac = max(int_a, int_b), max(a.frac_bits, b.frac_bits)
    return FixedFormat(int_bits + frac, int_bits, signed)


def sum_format(a: FixedFormat, n_terms: int, bias: FixedFormat | None = None) -> FixedFormat:
    """Exact format of a sum of n_terms values of format `a`, plus an optional bias term."""
    grow = max(0, math.ceil(math.log2(n_terms))) if n_terms > 1 else 0
    int_bits, frac, signed = a.int_bits + grow, a.frac_bits, a.signed
    if bias is not None:
        int_bits = max(int_bits, bias.int_bits + (1 if bias.signed and not signed else 0)) + 1
        frac = max(frac, bias.frac_bits)
        signed = signed or bias.signed
    return FixedFormat(int_bits + frac, int_bits, signed)


def _formats(spec: Spec, bits_per_cell: int, window_cells: int) -> dict[str, FixedFormat]:
    c = spec.precision.cnn
    et_in = et_format(spec.precision.input_et)
    conv_w = sfixed(c.bits, c.weight_int_bits)
    conv_b = sfixed(c.bits, c.bias_int_bits)
    act = ufixed(c.bits, c.act_int_bits)
    log_eta = sfixed(c.bits, c.log_eta_int_bits)
    dense_w = sfixed(c.bits, c.weight_int_bits)
    dense_b = sfixed(c.bits, c.bias_int_bits)
    et_pred = et_format(spec.precision.pred_et)
    pt_sum = sum_format(et_pred, window_cells)
    n_conv = 2 * 4  # channels x depth multiplier
    return {
        "et_in": et_in,
        "code": ufixed(bits_per_cell, bits_per_cell),
        "et_dec": et_in,
        "conv_w": conv_w,
        "conv_b": conv_b,
        "conv_acc": sum_format(product_format(et_in, conv_w), 9, conv_b),
        "conv_act": act,
        "log_eta": log_eta,
        "dense_w": dense_w,
        "dense_b": dense_b,
        "dense1_acc": sum_format(product_format(union_format(act, log_eta), dense_w), n_conv + 1, dense_b),
        "dense_act": act,
        "dense_acc": sum_format(product_format(act, dense_w), 32, dense_b),
        "seg_w": ufixed(c.bits, 1),
        "et_pred": et_pred,
        "cluster_pt": pt_sum,
        "pt_calib": et_format(spec.precision.calibrated_pt),
    }


def _budgets(spec: Spec, clock: Fraction) -> dict[str, Budget]:
    out: dict[str, Budget] = {}
    for block, key in _BUDGET_KEYS.items():
        us = getattr(spec.latency, key)
        out[block] = Budget(block, us, None if us is None else math.floor(_exact(us) * clock))
    out["chain"] = Budget("chain", spec.latency.chain_us, math.floor(_exact(spec.latency.chain_us) * clock))
    return out


# Register stages `firmware.register_products` adds to the CNN pixel pipeline: the tap-group sums and
# the constant products of the depthwise convolution, the constant products of each dense layer, and
# the products w * E of E_pred.
PRODUCT_REGISTER_STAGES = 6


def rtl_latency_model(eta_bins: int, phi_bins: int, p: int, window: int, n_clusters: int,
                      cnn_extra_stages: int = 0, trigger_extra_stages: int = 0) -> tuple[int, int]:
    """Cycles the generated RTL takes at P pixels per clock: (denoiser, chain), pipeline fill included.

    Denoiser: the event's beats, then the CNN window's last row and two groups (phi_bins / P + 2
    emissions) and its 13 register stages (plus `cnn_extra_stages`). Chain: the clusterer's last r
    rows and 2 ceil(r / P) column beats after the CNN, then its stages, the cluster stream,
    calibration and the sort (plus `trigger_extra_stages`).
    Measured in RTL simulation (docs/rtl.md); `tests/test_spec_rtl_sweep.py` checks that the
    simulated latency never exceeds it.
    """
    groups = phi_bins // p
    r = window // 2
    denoise = -(-eta_bins * phi_bins // p) + groups + 2 + 13 + cnn_extra_stages
    chain = denoise + r * groups + 2 * -(-r // p) + 11 + n_clusters + trigger_extra_stages
    return denoise, chain


def _spec_fail(key: str, value: Any, expected: str) -> SpecError:
    return SpecError(f"{key} = {value}: expected {expected}")


# (accumulator, activation, spec keys that set them) of every requantisation of the CNN.
_REQUANTISATIONS = (("conv_acc", "conv_act", "precision.cnn.act_int_bits / precision.input_et"),
                    ("dense1_acc", "dense_act", "precision.cnn.act_int_bits / precision.cnn.weight_int_bits"),
                    ("dense_acc", "dense_act", "precision.cnn.act_int_bits / precision.cnn.weight_int_bits"))


def _check_emulator_limits(formats: dict[str, FixedFormat]) -> None:
    """Every tensor fits the emulator's int64 (62 bits), and no requantisation shifts right past its source."""
    for name, fmt in formats.items():
        if fmt.width > 62:
            raise SpecError(f"precision: tensor {name} would need {fmt.width} bits; expected at most 62")
    f = formats
    # hard sigmoid: dense 3's accumulator one bit finer and one bit wider; E_pred: two products summed
    if f["dense_acc"].width + 1 > 62:
        raise SpecError(f"precision.cnn.bits: the hard sigmoid would need {f['dense_acc'].width + 1} bits; "
                        f"expected at most 62")
    hs = FixedFormat(f["dense_acc"].width + 1, f["dense_acc"].int_bits, True)
    pred = sum_format(product_format(f["seg_w"], f["et_dec"]), 2)
    steps = [(f[a], f[b], f"{a} -> {b}", key) for a, b, key in _REQUANTISATIONS]
    steps += [(hs, f["seg_w"], "hard sigmoid -> seg_w", "precision.cnn.bits"),
              (pred, f["et_pred"], "E_pred -> et_pred", "precision.pred_et.lsb_gev")]
    for src, dst, what, key in steps:
        shift = src.frac_bits - dst.frac_bits
        if shift > src.width:
            raise SpecError(f"{key}: the requantisation {what} ({src.cpp()} -> {dst.cpp()}) shifts right by {shift} "
                            f"bits, more than its {src.width}-bit source; expected a shift of at most {src.width}")


def derive(spec: Spec) -> DerivedParams:
    """Compute the derived parameters; impossible specs raise `SpecError` with the reason (and the spec's file)."""
    try:
        return _derive(spec)
    except SpecError as exc:
        if spec.source == "<memory>":
            raise
        raise SpecError(f"spec {spec.source!r}: {exc}") from None


def _derive(spec: Spec) -> DerivedParams:
    part = load_parts().resolve(spec.target.part, "target.part")
    d = spec.detector
    n_layers = len(d.layers)
    n_pixels = d.eta_bins * d.phi_bins

    # --- bandwidth -> bits per cell -> quantiser levels
    link_bps = _exact(spec.bandwidth_tbps) * 10**12
    bx_hz = _exact(d.bunch_crossing_mhz) * 10**6
    bits_exact = link_bps / (bx_hz * n_pixels * n_layers)
    if bits_exact < 1:
        need = Fraction(bx_hz * n_pixels * n_layers, 10**12)
        raise SpecError(
            f"bandwidth.link_tbps = {spec.bandwidth_tbps}: gives {float(bits_exact):.3g} bits per cell at "
            f"{d.bunch_crossing_mhz} MHz for {n_pixels}x{n_layers} cells; expected at least 1 bit per cell "
            f"(>= {float(need):.4g} Tbps)")
    bits = min(math.floor(bits_exact), spec.precision.input_et.bits)

    # --- latency -> cycle budgets -> pixel parallelism
    clock = _exact(spec.target.clock_mhz)
    budgets = _budgets(spec, clock)
    mask = window_mask(spec.clusterer.window)
    r = spec.clusterer.window // 2
    overhead = _exact(spec.latency.pipeline_overhead)
    n_clusters = spec.clusterer.n_clusters
    extra = PRODUCT_REGISTER_STAGES if spec.firmware.register_products else 0
    extra_trigger = int(spec.firmware.register_decision)
    # The RTL streams at least 2 pixel groups per row (P <= phi_bins / 2).
    candidates = [p for p in range(1, d.phi_bins // 2 + 1) if d.phi_bins % p == 0]
    choice = None
    for p in candidates:
        stream = -(-n_pixels // p)
        model_denoise, model_chain = rtl_latency_model(d.eta_bins, d.phi_bins, p, spec.clusterer.window, n_clusters,
                                                       extra, extra_trigger)
        denoise_est = math.ceil(model_denoise * (1 + overhead))
        chain_est = math.ceil(model_chain * (1 + overhead))
        if denoise_est <= budgets["denoiser"].cycles and chain_est <= budgets["chain"].cycles:
            choice = (p, stream, denoise_est, chain_est)
            break
    if choice is None:
        p = candidates[-1]
        model_denoise, model_chain = rtl_latency_model(d.eta_bins, d.phi_bins, p, spec.clusterer.window, n_clusters,
                                                       extra, extra_trigger)
        raise SpecError(
            f"latency.denoise_us = {spec.latency.denoise_us}, latency.chain_us = {spec.latency.chain_us}: cannot be "
            f"met at {spec.target.clock_mhz} MHz even with P = {p} pixels per clock (the RTL's largest, phi_bins / 2 "
            f"or its largest divisor below): the RTL needs {math.ceil(model_denoise * (1 + overhead))} cycles for the "
            f"denoiser (budget {budgets['denoiser'].cycles}) and {math.ceil(model_chain * (1 + overhead))} for the "
            f"chain (budget {budgets['chain'].cycles}), pipeline fill and latency.pipeline_overhead included")
    p, stream, denoise_est, chain_est = choice
    beats = d.eta_bins * (d.phi_bins // p)
    if beats < n_clusters + 4:
        raise _spec_fail("clusterer.n_clusters", n_clusters,
                         f"at most {beats - 4}: the RTL streams the clusters out between events, and an event "
                         f"at P = {p} is only {beats} beats long")

    try:
        formats = _formats(spec, bits, int(mask.sum()))
        _check_emulator_limits(formats)
    except SpecError:
        raise
    except InputError as exc:  # a derived format wider than FixedFormat allows
        raise SpecError(f"precision: a derived tensor format is too wide ({exc}); expected at most 62 bits") from None

    half = d.eta_bins // 2
    eta_width = 2 * d.eta_max / d.eta_bins
    rows = np.arange(d.eta_bins)
    abs_index = np.where(rows >= half, rows - half, half - 1 - rows)
    eta_centre = (abs_index + 0.5) * eta_width
    log_eta = from_float(np.log(eta_centre), formats["log_eta"])
    eta_bin = (abs_index // (half // spec.calibration.abs_eta_bins)).astype(np.int64)

    return DerivedParams(
        spec_name=spec.name,
        spec_hash=spec.spec_hash(),
        part=part,
        clock_mhz=spec.target.clock_mhz,
        eta_bins=d.eta_bins,
        phi_bins=d.phi_bins,
        n_layers=n_layers,
        bits_per_cell=bits,
        bits_per_cell_exact=bits_exact,
        levels=1 << bits,
        event_bits=bits * n_pixels * n_layers,
        pixel_parallelism=p,
        streaming_cycles=stream,
        estimated_denoise_cycles=denoise_est,
        estimated_chain_cycles=chain_est,
        budgets=budgets,
        formats=formats,
        window=spec.clusterer.window,
        window_mask=mask,
        n_clusters=spec.clusterer.n_clusters,
        abs_eta_bins=spec.calibration.abs_eta_bins,
        mantissa_bits=spec.calibration.mantissa_bits,
        calib_addresses=calib_address_count(formats["cluster_pt"].width, spec.calibration.mantissa_bits),
        log_abs_eta_raw=log_eta,
        eta_bin_of_row=eta_bin,
        cnn_extra_stages=extra,
        trigger_extra_stages=extra_trigger,
        multipliers=spec.firmware.multipliers,
    )
