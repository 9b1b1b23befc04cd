"""CNN pile-up denoiser with QKeras quantisers at the spec's precision (paper section 3.5, SEMANTICS.md 4).

Cyclic pad in phi, zero pad in eta, an (eta, phi)-symmetric depthwise 3x3 with four free taps
per kernel (centre, eta pair, phi pair, corners: symmetric by construction), depth multiplier
4, ReLU; concatenate log|eta|; QDense 32 ReLU, QDense 32 ReLU, QDense 2; hard sigmoid -> w;
E_pred = w_em E_em + w_had E_had. Every requantisation is `ApFixed` (AP_RND, AP_SAT).
"""

from __future__ import annotations

import numpy as np
from qkeras import QDense

from codesign.derived import DerivedParams
from codesign.train.fixed_tf import ApFixed
from codesign.train.tf_setup import DTYPE, tf
from emulation.bundle import DEPTH_MULTIPLIER, HIDDEN, KERNEL_TAPS


def tap_sums(x: tf.Tensor) -> tf.Tensor:
    """(B, L, H, W) -> (B, L, 4, H, W): centre, eta-pair, phi-pair and corner sums (phi cyclic, eta zero-padded)."""
    x = tf.concat([x[..., -1:], x, x[..., :1]], axis=-1)
    x = tf.pad(x, [[0, 0], [0, 0], [1, 1], [0, 0]])
    up, mid, down = x[:, :, :-2], x[:, :, 1:-1], x[:, :, 2:]
    centre = mid[..., 1:-1]
    eta_pair = up[..., 1:-1] + down[..., 1:-1]
    phi_pair = mid[..., :-2] + mid[..., 2:]
    corners = (up[..., :-2] + up[..., 2:]) + (down[..., :-2] + down[..., 2:])
    return tf.stack([centre, eta_pair, phi_pair, corners], axis=2)


class SymmetricDepthwise(tf.keras.layers.Layer):
    """Depthwise 3x3 with the four symmetric taps k[layer, m, tap], bias, ReLU and requantisation to conv_act."""

    def __init__(self, derived: DerivedParams, seed: int, **kwargs) -> None:
        super().__init__(dtype=DTYPE, **kwargs)
        f = derived.formats
        self.n_layers = derived.n_layers
        self.kernel_q, self.bias_q, self.act_q = ApFixed(f["conv_w"]), ApFixed(f["conv_b"]), ApFixed(f["conv_act"])
        shape = (derived.n_layers, DEPTH_MULTIPLIER, len(KERNEL_TAPS))
        self.taps = self.add_weight(name="taps", shape=shape, dtype=DTYPE,
                                    initializer=tf.keras.initializers.RandomNormal(0.0, 0.3, seed=seed))
        self.bias = self.add_weight(name="bias", shape=shape[:2], dtype=DTYPE, initializer="zeros")

    def quantised(self) -> tuple[tf.Tensor, tf.Tensor]:
        """The taps and biases the forward uses (on the conv_w / conv_b grids)."""
        return self.kernel_q(self.taps), self.bias_q(self.bias)

    def call(self, x: tf.Tensor) -> tf.Tensor:
        """(B, L, H, W) decoded E_T -> (B, H, W, L * 4) conv_act, channel = layer * 4 + m (Keras order)."""
        k, b = self.quantised()
        acc = tf.einsum("blthw,lmt->bhwlm", tap_sums(x), k) + b
        shape = tf.concat([tf.shape(acc)[:3], [self.n_layers * DEPTH_MULTIPLIER]], axis=0)
        return self.act_q(tf.reshape(acc, shape))


class Denoiser(tf.keras.layers.Layer):
    """Decoded images (B, L, H, W) GeV -> (E_pred (B, H, W), segmentation weights w (B, H, W, L))."""

    def __init__(self, derived: DerivedParams, seed: int, **kwargs) -> None:
        super().__init__(dtype=DTYPE, **kwargs)
        f = derived.formats
        self.conv = SymmetricDepthwise(derived, seed, name="depthwise")
        self.log_eta = tf.constant(np.ldexp(derived.log_abs_eta_raw.astype(np.float64), -f["log_eta"].frac_bits),
                                   DTYPE)

        def dense(units: int, index: int, act: bool) -> QDense:
            return QDense(units, kernel_quantizer=ApFixed(f["dense_w"]), bias_quantizer=ApFixed(f["dense_b"]),
                          activation=ApFixed(f["dense_act"]) if act else None, dtype=DTYPE, name=f"dense{index}",
                          kernel_initializer=tf.keras.initializers.GlorotUniform(seed=seed + index))

        self.dense1 = dense(HIDDEN, 1, True)
        self.dense2 = dense(HIDDEN, 2, True)
        self.dense3 = dense(derived.n_layers, 3, False)
        self.seg_q = ApFixed(f["seg_w"])
        self.pred_q = ApFixed(f["et_pred"])

    def features(self, et_dec: tf.Tensor) -> tf.Tensor:
        """(B, H, W, L * 4 + 1): the depthwise outputs and log|eta| of the row."""
        conv = self.conv(et_dec)
        log_eta = tf.broadcast_to(self.log_eta[None, :, None, None], tf.concat([tf.shape(conv)[:3], [1]], axis=0))
        return tf.concat([conv, log_eta], axis=-1)

    def call(self, et_dec: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        acc = self.dense3(self.dense2(self.dense1(self.features(et_dec))))  # the exact dense-3 accumulator
        w = self.seg_q(tf.clip_by_value(acc * 0.5 + 0.5, 0.0, 1.0))  # hard sigmoid, then seg_w
        e_pred = self.pred_q(tf.reduce_sum(w * tf.transpose(et_dec, [0, 2, 3, 1]), axis=-1))
        return e_pred, w

    def dense_layers(self) -> tuple[QDense, QDense, QDense]:
        return self.dense1, self.dense2, self.dense3
