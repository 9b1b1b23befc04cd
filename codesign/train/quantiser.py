"""Learnable nearest-level quantiser of one calorimeter layer (paper section 3.4).

Centres c_0 = 0, c_i = c_(i-1) + Delta_i with Delta_i = softplus(theta_i) > 0 (initialised at
0.4 GeV). Forward: exactly the firmware's encoder and decoder (input digitised to et_in, levels
rounded to et_dec, code = number of thresholds <= E_T with the rule of
`emulation.semantics.thresholds_from_levels`). Backward: the soft surrogate
sum_i c_i softmax(-T |x - c_i|), T = 50, over the levels near the nearest one.

Every pixel's input is a raw et_in integer, so the encoder, the decoder and the surrogate are
tabulated once per step over all 2^width raw inputs and then gathered per pixel.
"""

from __future__ import annotations

import math

import numpy as np

from codesign.train.config import HYPER
from codesign.train.fixed_tf import round_to, straight_through
from codesign.train.tf_setup import DTYPE, tf
from emulation.fixed import FixedFormat

# Largest encoder table (raw et_in inputs) the quantiser tabulates; wider inputs are refused.
MAX_TABLE = 1 << 20


def inverse_softplus(y: float) -> float:
    return math.log(math.expm1(y))


def digitise(x: tf.Tensor, et_in: FixedFormat) -> tf.Tensor:
    """E_T in GeV (any float type) -> raw et_in integers (int32): the detector's AP_RND, AP_SAT digitisation."""
    return tf.cast(round_to(x, et_in) * float(2 ** et_in.frac_bits), tf.int32)


def thresholds_raw(levels_raw: tf.Tensor) -> tf.Tensor:
    """Encoder thresholds t_i = ceil((c_(i-1) + c_i) / 2) of raw levels (`emulation.semantics.thresholds_from_levels`)."""
    return -tf.floor(-(levels_raw[:-1] + levels_raw[1:]) / 2.0)


def running_sum(x: tf.Tensor) -> tf.Tensor:
    """Inclusive running sum of a 1-D float32 tensor whose length is a power of two, by blocks of triangular matmuls."""
    n = int(x.shape[0])
    cols = 1 << ((n.bit_length() - 1 + 1) // 2)
    rows = n // cols
    upper = tf.constant(np.triu(np.ones((cols, cols), np.float32)))
    within = tf.linalg.matmul(tf.reshape(x, [rows, cols]), upper)  # running sum inside each row
    strict = tf.constant(np.triu(np.ones((rows, rows), np.float32), 1))
    before = tf.linalg.matmul(within[None, :, -1], strict)[0]  # total of the earlier rows
    return tf.reshape(within + before[:, None], [n])


class LearnableQuantiser(tf.keras.layers.Layer):
    """Raw et_in inputs -> (decoded E_T in GeV, code) for one layer; the smoothness regulariser of its widths."""

    def __init__(self, n_levels: int, et_in: FixedFormat, et_dec: FixedFormat, **kwargs) -> None:
        super().__init__(dtype=DTYPE, autocast=False, **kwargs)
        if et_in.raw_max + 1 > MAX_TABLE:
            raise ValueError(f"et_in {et_in.cpp()} has more than {MAX_TABLE} raw values")
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
        """c_0 = 0, c_i = c_(i-1) + Delta_i (GeV, unrounded); tf.pad, as XLA compiles a gather from a concat slowly."""
        return tf.pad(tf.cumsum(self.widths()), [[1, 0]])

    def levels_raw(self) -> tf.Tensor:
        """Decoder LUT: the centres rounded to et_dec (raw integers as float64), non-decreasing."""
        return round_to(self.centres(), self.et_dec) * float(2 ** self.et_dec.frac_bits)

    def regulariser(self) -> tf.Tensor:
        """lambda * sum |Delta_(i+1) - Delta_i| / sum Delta_i (paper Eq. 11)."""
        d = self.widths()
        return HYPER.quantiser_lambda * tf.reduce_sum(tf.abs(d[1:] - d[:-1])) / tf.reduce_sum(d)

    def code_table(self) -> tf.Tensor:
        """(2^width,) int32 code of every raw et_in input: the number of thresholds <= it.

        A histogram of the thresholds, then its running sum as two triangular matrix products
        (exact in float32: counts below 2^24); XLA's own cumsum and searchsorted are slow here.
        """
        size = self.et_in.raw_max + 1
        t = tf.cast(tf.minimum(thresholds_raw(self.levels_raw()), float(size)), tf.int32)
        counts = tf.math.unsorted_segment_sum(tf.ones_like(t, tf.float32), t, size + 1)[:size]
        return tf.cast(running_sum(counts), tf.int32)

    def tables(self, soft: bool, dtype: tf.DType) -> tuple[tf.Tensor, tf.Tensor]:
        """(decoded E_T in GeV, code) of every raw input; with soft, the decoded values carry the surrogate's gradient."""
        code = self.code_table()
        levels = self.levels_raw()
        hard = tf.gather(levels, code) / float(2 ** self.et_dec.frac_bits)
        if soft:
            x = tf.range(self.et_in.raw_max + 1, dtype=DTYPE) / float(2 ** self.et_in.frac_bits)
            k = HYPER.quantiser_window
            idx = code[:, None] + tf.range(-k, k + 1)
            valid = (idx >= 0) & (idx < self.n_levels)
            near = tf.gather(self.centres(), tf.clip_by_value(idx, 0, self.n_levels - 1))
            logits = tf.where(valid, -HYPER.quantiser_temperature * tf.abs(x[:, None] - near),
                              tf.constant(-np.inf, DTYPE))
            surrogate = tf.reduce_sum(tf.nn.softmax(logits, axis=-1) * near, axis=-1)
            hard = straight_through(hard, surrogate)
        return tf.cast(hard, dtype), code

    def call(self, raw: tf.Tensor, soft: bool = False, dtype: tf.DType = tf.float32) -> tuple[tf.Tensor, tf.Tensor]:
        """raw et_in (int32, any shape) -> (decoded E_T in GeV, int32 code); soft: surrogate gradient."""
        table, code = self.tables(soft, dtype)
        return tf.gather(table, raw), tf.gather(code, raw)
