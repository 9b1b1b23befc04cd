"""Fixed-point quantisers for QAT, with the firmware's rounding: AP_RND (half toward +inf) and AP_SAT.

QKeras's own quantisers round half to even (tf.round); the firmware rounds half up
(emulation/SEMANTICS.md), so the QAT forward uses `round_to`, the TensorFlow image of
`emulation.fixed.from_float`, and passes gradients straight through inside the format's range.
"""

from __future__ import annotations

import numpy as np
from qkeras.quantizers import BaseQuantizer

from codesign.train.tf_setup import tf
from emulation.fixed import FixedFormat


def round_to(x: tf.Tensor, fmt: FixedFormat) -> tf.Tensor:
    """Values of `x` as ap_fixed<fmt, AP_RND, AP_SAT> in x's float type (`emulation.fixed.from_float`).

    Half an LSB rounds up: r = floor(v) + (v - floor(v) >= 1/2) with v = x 2^F. Every step is exact
    in float32 as in float64 whenever x is (v - floor(v) is exact), unlike floor(v + 1/2).
    """
    scale = float(2.0 ** fmt.frac_bits)
    v = x * scale
    r = tf.floor(v)
    r = tf.where(v - r >= 0.5, r + 1.0, r)
    return tf.clip_by_value(r, float(fmt.raw_min), float(fmt.raw_max)) / scale


def straight_through(hard: tf.Tensor, soft: tf.Tensor) -> tf.Tensor:
    """Forward exactly `hard`, gradient of `soft` (hard + (soft - soft) adds an exact zero)."""
    return hard + (soft - tf.stop_gradient(soft))


def to_raw(values: np.ndarray, fmt: FixedFormat) -> np.ndarray:
    """Raw integers of values that lie exactly on the format's grid (ValueError otherwise)."""
    scaled = np.ldexp(np.asarray(values, dtype=np.float64), fmt.frac_bits)
    raw = np.rint(scaled)
    if not np.array_equal(raw, scaled) or not fmt.contains(raw.astype(np.int64)):
        raise ValueError(f"values are not on the {fmt.cpp()} grid")
    return raw.astype(np.int64)


class ApFixed(BaseQuantizer):
    """QKeras quantiser onto an ap_[u]fixed format: AP_RND + AP_SAT forward, clipped straight-through gradient.

    The gradient is written out (tf.custom_gradient) instead of `straight_through(round_to(x),
    clip(x))`: the same values, without the forward passes over the soft clip that the
    activations (B x 3,200 pixels x 32 channels) would otherwise pay for.

    On an unsigned format the saturation at 0 is also the ReLU (with the ReLU's gradient).
    """

    def __init__(self, fmt: FixedFormat) -> None:
        super().__init__()
        self.fmt = fmt
        self.bits = fmt.width

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        lo, hi = self.fmt.min_value, self.fmt.max_value

        @tf.custom_gradient
        def quantise(x: tf.Tensor):
            def grad(dy: tf.Tensor) -> tf.Tensor:  # the gradient of clip_by_value(x, lo, hi), in one pass
                return tf.where((x >= lo) & (x <= hi), dy, tf.zeros_like(dy))

            return round_to(x, self.fmt), grad

        return quantise(tf.convert_to_tensor(x))

    def max(self) -> float:
        return self.fmt.max_value

    def min(self) -> float:
        return self.fmt.min_value

    def get_config(self) -> dict[str, str]:
        return {"format": self.fmt.cpp()}

    def __str__(self) -> str:
        return f"ApFixed({self.fmt.cpp()}, AP_RND, AP_SAT)"
