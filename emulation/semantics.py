"""Integer definitions shared by the spec derivation, the bundle and the emulator.

Each rule here is written once; emulation/SEMANTICS.md describes them in words and the
HLS/RTL generators implement the same rules.
"""

from __future__ import annotations

import numpy as np


def window_mask(window: int) -> np.ndarray:
    """The rounded-off square window: (d_eta, d_phi) with d_eta^2 + d_phi^2 <= (r + 1/2)^2, r = window // 2.

    Compared in integers as 4 * (d_eta^2 + d_phi^2) <= (2r + 1)^2; for window 9 this keeps
    69 of 81 cells (three cells cut at each corner).
    """
    r = window // 2
    d = np.arange(-r, r + 1)
    return (4 * (d[:, None] ** 2 + d[None, :] ** 2) <= (2 * r + 1) ** 2).astype(np.int64)


def calib_address_count(pt_width: int, mantissa_bits: int) -> int:
    """Entries per |eta| bin of the log-spaced calibration LUT addressed by `calib_address`."""
    if pt_width <= mantissa_bits:
        return 1 << pt_width
    return (pt_width - mantissa_bits + 1) << mantissa_bits


def calib_address(pt_raw: np.ndarray, mantissa_bits: int) -> np.ndarray:
    """Log-spaced LUT address of raw cluster pT: exact below 2**M, then (octave, top M bits below the leading one).

    With M mantissa bits: pt < 2**M -> pt; otherwise e = floor(log2 pt) and
    address = (e - M + 1) * 2**M + ((pt >> (e - M)) & (2**M - 1)). Non-decreasing in pt.
    """
    pt = np.asarray(pt_raw, dtype=np.int64)
    m = mantissa_bits
    e = np.zeros_like(pt)  # floor(log2 pt) for pt >= 1, by counting set positions above bit 0
    for k in range(1, 63):
        e += (pt >> k) > 0
    mant = (pt >> np.maximum(e - m, 0)) & ((1 << m) - 1)
    return np.where(pt < (1 << m), pt, ((e - m + 1) << m) + mant)


def thresholds_from_levels(levels: np.ndarray) -> np.ndarray:
    """Encoder thresholds of a nearest-level quantiser with ties going up.

    x maps to level i (of sorted levels c) iff x >= t_i, with t_i = ceil((c_(i-1) + c_i) / 2):
    x is at least as near to c_i as to c_(i-1) exactly when 2x >= c_(i-1) + c_i.
    """
    c = np.asarray(levels, dtype=np.int64)
    s = c[..., :-1] + c[..., 1:]
    return -((-s) // 2)
