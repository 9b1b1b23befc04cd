"""The pixel-stream format of the generated Verilog: images <-> beats of P pixels, and output beats <-> arrays.

A beat carries one phi group (P adjacent pixels) of one eta row; lane l, channel c of a beat
sits at bits [(l*C + c)*width, +width). Rows come in order; within a row, beat k carries the
group (rot + k) mod G (rot = 0 at the chain input, the CNN's out_rot after the CNN).
"""

from __future__ import annotations

import numpy as np


def image_beats(img: np.ndarray, lanes: int, rot: int, width: int) -> np.ndarray:
    """Beat payloads (N, H*G) as Python ints of images (N, C, H, W) of raw unsigned values."""
    n, ch, h, w = img.shape
    g = w // lanes
    order = (rot + np.arange(g)) % g
    x = img.reshape(n, ch, h, g, lanes)[:, :, :, order, :]  # (N, C, H, G, P) in stream order
    fields = x.transpose(0, 2, 3, 4, 1).reshape(n, h * g, lanes * ch)
    out = np.zeros((n, h * g), dtype=object)
    for f in range(lanes * ch):
        out += fields[:, :, f].astype(np.int64).astype(object) << (f * width)
    return out


def beats_image(beats: np.ndarray, lanes: int, rot: int, width: int, channels: int, h: int) -> np.ndarray:
    """Inverse of `image_beats`: (N, H*G) Python ints -> images (N, C, H, W) int64."""
    n = beats.shape[0]
    g = beats.shape[1] // h
    mask = (1 << width) - 1
    fields = np.empty((n, h * g, lanes * channels), dtype=np.int64)
    for f in range(lanes * channels):
        fields[:, :, f] = np.array([[(int(b) >> (f * width)) & mask for b in row] for row in beats],
                                   dtype=np.int64).reshape(n, h * g)
    x = fields.reshape(n, h, g, lanes, channels).transpose(0, 4, 1, 2, 3)  # (N, C, H, G_stream, P)
    img = np.empty_like(x)
    img[:, :, :, (rot + np.arange(g)) % g, :] = x
    return img.reshape(n, channels, h, g * lanes)


def split_fields(values: np.ndarray, width: int, count: int) -> np.ndarray:
    """(..., ) Python ints -> (..., count) int64 fields of `width` bits, field 0 in the low bits."""
    flat = [int(v) for v in np.asarray(values, dtype=object).reshape(-1)]
    mask = (1 << width) - 1
    out = np.array([[(v >> (i * width)) & mask for i in range(count)] for v in flat], dtype=np.int64)
    return out.reshape(np.asarray(values).shape + (count,))
