"""Learnable nearest-level quantiser of one calorimeter layer (paper section 3.4).

Centres c_0 = 0, c_i = c_(i-1) + Delta_i with Delta_i = softplus(theta_i) > 0 (initialised at
0.4 GeV). Forward: exactly the firmware's encoder and decoder (input digitised to et_in, levels
rounded to et_dec, code = number of thresholds <= E_T with the export rule of
`emulation.semantics.thresholds_from_levels`). Backward: the soft surrogate
sum_i c_i softmax(-T |x - c_i|), T = 50, over the levels near the nearest one.
"""

from __future__ import annotations

import math

import numpy as np

from codesign.train.config import HYPER
from codesign.train.fixed_tf import round_to, straight_through
from codesign.train.tf_setup import DTYPE, tf
from emulation.fixed import FixedFormat
from emulation.semantics import thresholds_from_levels


def inverse_softplus(y: float) -> float:
    return math.log(math.expm1(y))


def _thresholds(levels_raw: np.ndarray) -> np.ndarray:
    return thresholds_from_levels(levels_raw.astype(np.int64)).astype(np.float64)


class LearnableQuantiser(tf.keras.layers.Layer):
    """E_T (GeV) -> (decoded E_T in GeV, code) for one layer; the smoothness regulariser of its widths."""

    def __init__(self, n_levels: int, et_in: FixedFormat, et_dec: FixedFormat, **kwargs) -> None:
        super().__init__(dtype=DTYPE, **kwargs)
        self.n_levels = n_levels
        self.et_in = et_in
        self.et_dec = et_dec
        self.width_param = self.add_weight(
            name="width_param", shape=(n_levels - 1,), dtype=DTYPE,
            initializer=tf.keras.initializers.Constant(inverse_softplus(HYPER.quantiser_init_width_gev)))

    def widths(self) -> tf.Tensor:
        """Delta_i > 0 (GeV)."""
        return tf.math.softplus(self.width_param)

    def centres(self) -> tf.Tensor:
        """c_0 = 0, c_i = c_(i-1) + Delta_i (GeV, unrounded)."""
        return tf.concat([tf.zeros([1], DTYPE), tf.cumsum(self.widths())], axis=0)

    def levels_raw(self) -> tf.Tensor:
        """Decoder LUT: the centres rounded to et_dec (raw integers as float64), non-decreasing."""
        return round_to(self.centres(), self.et_dec) * float(2 ** self.et_dec.frac_bits)

    def thresholds_raw(self) -> tf.Tensor:
        """Encoder thresholds of the rounded levels (raw et_in), by emulation's export rule."""
        t = tf.numpy_function(_thresholds, [self.levels_raw()], DTYPE, stateful=False)
        return tf.reshape(t, [self.n_levels - 1])

    def regulariser(self) -> tf.Tensor:
        """lambda * sum |Delta_(i+1) - Delta_i| / sum Delta_i (paper Eq. 11)."""
        d = self.widths()
        return HYPER.quantiser_lambda * tf.reduce_sum(tf.abs(d[1:] - d[:-1])) / tf.reduce_sum(d)

    def call(self, x: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """x: E_T in GeV, any shape. Returns (decoded E_T in GeV: hard forward, soft gradient; int32 code)."""
        x = round_to(tf.cast(x, DTYPE), self.et_in)  # detector digitisation (real-number rule)
        levels = self.levels_raw()
        flat = tf.reshape(x * float(2 ** self.et_in.frac_bits), [1, -1])
        code = tf.reshape(tf.searchsorted(self.thresholds_raw()[None, :], flat, side="right"), tf.shape(x))
        hard = tf.gather(levels, code) / float(2 ** self.et_dec.frac_bits)
        k = HYPER.quantiser_window
        idx = code[..., None] + tf.range(-k, k + 1)
        valid = (idx >= 0) & (idx < self.n_levels)
        near = tf.gather(self.centres(), tf.clip_by_value(idx, 0, self.n_levels - 1))
        logits = tf.where(valid, -HYPER.quantiser_temperature * tf.abs(x[..., None] - near),
                          tf.constant(-np.inf, DTYPE))
        soft = tf.reduce_sum(tf.nn.softmax(logits, axis=-1) * near, axis=-1)
        return straight_through(hard, soft), code
