"""Plain-text rendering of derived parameters (`codesign spec show`)."""

from __future__ import annotations

from codesign.derived import DerivedParams

TENSOR_ROLES = {
    "et_in": "detector cell E_T (encoder input)",
    "code": "quantiser code sent over the link",
    "et_dec": "decoded E_T (decoder LUT, CNN input)",
    "conv_w": "depthwise 3x3 weights",
    "conv_b": "depthwise biases",
    "conv_acc": "depthwise accumulator (exact)",
    "conv_act": "depthwise ReLU output",
    "log_eta": "log|eta| input feature",
    "dense_w": "dense weights",
    "dense_b": "dense biases",
    "dense1_acc": "dense-1 accumulator (exact)",
    "dense_act": "dense ReLU outputs",
    "dense_acc": "dense-2/3 accumulator (exact)",
    "seg_w": "segmentation weights w (hard sigmoid)",
    "et_pred": "denoised pixel E_T",
    "cluster_pt": "cluster pT (window sum, exact)",
    "pt_calib": "calibrated cluster pT",
}


def derived_table(d: DerivedParams) -> str:
    """Human-readable summary of everything the spec implies."""
    us_per_cycle = 1.0 / d.clock_mhz
    lines = [
        f"spec            {d.spec_name}  (hash {d.spec_hash[:12]})",
        f"part            {d.part.name} ({d.part.lut} LUT, {d.part.ff} FF, {d.part.dsp} DSP, "
        f"{d.part.bram36} BRAM36, {d.part.uram} URAM) at {d.clock_mhz:g} MHz",
        f"image           {d.eta_bins} x {d.phi_bins} x {d.n_layers} = {d.n_pixels * d.n_layers} cells",
        "",
        "encoding",
        f"  bits per cell   {d.bits_per_cell}  (link allows {float(d.bits_per_cell_exact):.4g})",
        f"  quantiser       {d.levels} levels per layer",
        f"  event size      {d.event_bits} bits = {d.event_bits / 8 / 1000:.1f} kB",
        "",
        "latency",
        f"  pixel parallelism P = {d.pixel_parallelism}  (streaming bound ceil({d.n_pixels}/P) = "
        f"{d.streaming_cycles} cycles = {d.streaming_cycles * us_per_cycle:.3f} us)",
        f"  estimated       denoiser {d.estimated_denoise_cycles} cycles, chain {d.estimated_chain_cycles} cycles",
        f"  {'block':12s} {'budget us':>10s} {'budget cycles':>14s}",
    ]
    for name, b in d.budgets.items():
        us = "-" if b.us is None else f"{b.us:g}"
        cyc = "-" if b.cycles is None else str(b.cycles)
        lines.append(f"  {name:12s} {us:>10s} {cyc:>14s}")
    lines += ["", "fixed-point types", f"  {'tensor':12s} {'type':20s} {'lsb':>12s}  role"]
    for name, fmt in d.formats.items():
        lines.append(f"  {name:12s} {fmt.cpp():20s} {fmt.lsb:>12.6g}  {TENSOR_ROLES[name]}")
    lines += [
        "",
        f"clusterer       {d.window}x{d.window} rounded window ({d.window_cells} cells), top {d.n_clusters}",
        f"calibration     LUT {d.abs_eta_bins} |eta| bins x {d.calib_addresses} log-spaced pT addresses "
        f"({d.mantissa_bits} mantissa bits)",
    ]
    return "\n".join(lines)
