"""Which number type computes a bounded integer sum exactly: the one rule the emulator and QAT training share.

A binary float adds and multiplies integers exactly while every operand, product and partial sum
stays below 2**24 (float32) or 2**53 (float64) in magnitude. A bound that covers every partial
sum, whatever order the additions run in, therefore picks the narrowest exact type. Values on a
fixed-point grid count in units of the finest LSB involved (scaling by a power of two is exact).
"""

from __future__ import annotations

import numpy as np

FLOAT32_EXACT = 2**24
FLOAT64_EXACT = 2**53


def exact_type(bound: int) -> type:
    """np.float32 below 2**24, np.float64 below 2**53, else np.int64: the narrowest type exact up to `bound`."""
    if bound < FLOAT32_EXACT:
        return np.float32
    if bound < FLOAT64_EXACT:
        return np.float64
    return np.int64


def sum_bound(x_max: np.ndarray, w: np.ndarray, b: np.ndarray) -> int:
    """Largest |partial sum| any neuron of x @ w + b can reach for |x| <= x_max (w (in, out), b (out,))."""
    terms = np.abs(np.asarray(w, dtype=np.int64)) * np.asarray(x_max, dtype=np.int64)[:, None]
    return int((terms.sum(axis=0) + np.abs(np.asarray(b, dtype=np.int64))).max())
