"""Quantiser: detector-side encoder (E_T -> code) and FPGA-side decoder LUT (code -> E_T)."""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(parallel=True, cache=True)
def _quantise(et: np.ndarray, thresholds: np.ndarray, levels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n_ev, n_layers, h, w = et.shape
    n_thr = thresholds.shape[1]
    codes = np.empty_like(et)
    decoded = np.empty_like(et)
    for ev in numba.prange(n_ev):
        for layer in range(n_layers):
            thr = thresholds[layer]
            for i in range(h):
                for j in range(w):
                    x = et[ev, layer, i, j]
                    lo, hi = 0, n_thr  # binary search: number of thresholds <= x
                    while lo < hi:
                        mid = (lo + hi) // 2
                        if thr[mid] <= x:
                            lo = mid + 1
                        else:
                            hi = mid
                    codes[ev, layer, i, j] = lo
                    decoded[ev, layer, i, j] = levels[layer, lo]
    return codes, decoded


def quantise(et_raw: np.ndarray, thresholds: np.ndarray, levels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Encoder and decoder on raw E_T (B, L, H, W): code = number of the layer's sorted thresholds <= E_T,
    et_dec = levels[layer][code]. Returns (codes, et_dec)."""
    return _quantise(np.ascontiguousarray(et_raw, dtype=np.int64), np.ascontiguousarray(thresholds, dtype=np.int64),
                     np.ascontiguousarray(levels, dtype=np.int64))
