"""Quantiser: detector-side encoder (E_T -> code) and FPGA-side decoder LUT (code -> E_T)."""

from __future__ import annotations

import numpy as np



def encode(et_raw: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Codes (..., L, H, W) from raw E_T: code = number of the layer's thresholds <= E_T."""
    codes = np.empty(et_raw.shape, dtype=np.int64)
    for layer in range(thresholds.shape[0]):
        codes[..., layer, :, :] = np.searchsorted(thresholds[layer], et_raw[..., layer, :, :], side="right")
    return codes


def decode(codes: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Decoded raw E_T (et_dec format) from codes, through each layer's LUT."""
    out = np.empty(codes.shape, dtype=np.int64)
    for layer in range(levels.shape[0]):
        out[..., layer, :, :] = levels[layer][codes[..., layer, :, :]]
    return out
