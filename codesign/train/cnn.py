"""CNN pile-up denoiser with QKeras quantisers at the spec's precision (paper section 3.5, SEMANTICS.md 4).

Cyclic pad in phi, zero pad in eta, an (eta, phi)-symmetric depthwise 3x3 with four free taps
per kernel (centre, eta pair, phi pair, corners: symmetric by construction), depth multiplier
4, ReLU; concatenate log|eta|; QDense 32 ReLU, QDense 32 ReLU, QDense 2; hard sigmoid -> w;
E_pred = w_em E_em + w_had E_had. Every requantisation is `ApFixed` (AP_RND, AP_SAT).

Channels last, dense layers as 2-D matrix products over every pixel of the batch. Each
accumulator is computed in the number type `CnnTypes` gives it: float32 where the bound of
`emulation.cnn.CnnBounds` proves it exact, float64 otherwise; activations are float32.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from qkeras import QDense

from codesign.derived import DerivedParams
from codesign.train.fixed_tf import ApFixed
from codesign.train.tf_setup import DTYPE, tf
from emulation.bundle import DEPTH_MULTIPLIER, HIDDEN, KERNEL_TAPS, CnnParams
from emulation.cnn import CnnBounds
from emulation.exact import exact_type
from emulation.fixed import FixedFormat


class CnnTypes(NamedTuple):
    """Number type of each CNN accumulator: depthwise, dense layers, E_pred products."""

    depthwise: tf.DType
    dense: tf.DType
    output: tf.DType

    @classmethod
    def of(cls, formats: dict[str, FixedFormat], params: CnnParams) -> "CnnTypes":
        """The narrowest exact types for these raw weights (`emulation.exact.exact_type` of their bounds)."""
        bounds = CnnBounds.of(formats, params)

        def dtype(bound: int) -> tf.DType:
            t = exact_type(bound)
            if t is np.int64:
                raise ValueError(f"a CNN accumulator reaches {bound} LSBs: beyond float64's exact range")
            return tf.as_dtype(t)

        return cls(dtype(bounds.depthwise), dtype(bounds.dense), dtype(bounds.output))


# Events per group in forward-only passes of the CNN: their activations stay in cache.
CHUNK_EVENTS = 16
# Pixels per group in the CNN stage's forward and backward (benchmarks/train_throughput.py).
CHUNK_PIXELS = 1024
# Narrower dense outputs (dense 3: one per layer) are computed as products with this many columns.
MIN_COLUMNS = 16


def event_groups(x: tf.Tensor, chunk: int) -> tf.Tensor:
    """(B, ...) -> (ceil(B / chunk), chunk, ...), padded with all-zero (empty) events."""
    pad = [[0, (-tf.shape(x)[0]) % chunk]] + [[0, 0]] * (x.shape.rank - 1)
    return tf.reshape(tf.pad(x, pad), tf.concat([[-1, chunk], tf.shape(x)[1:]], axis=0))


def ungroup(x: tf.Tensor) -> tf.Tensor:
    """(groups, chunk, ...) -> (groups * chunk, ...): the inverse of `event_groups`, padding included."""
    return tf.reshape(x, tf.concat([[-1], tf.shape(x)[2:]], axis=0))


def tap_sums(x: tf.Tensor) -> tf.Tensor:
    """(B, H, W, L) -> (B, H, W, L, 4): centre, eta-pair, phi-pair and corner sums (phi cyclic, eta zero-padded)."""
    x = tf.concat([x[:, :, -1:], x, x[:, :, :1]], axis=2)
    x = tf.pad(x, [[0, 0], [1, 1], [0, 0], [0, 0]])
    up, mid, down = x[:, :-2], x[:, 1:-1], x[:, 2:]
    centre = mid[:, :, 1:-1]
    eta_pair = up[:, :, 1:-1] + down[:, :, 1:-1]
    phi_pair = mid[:, :, :-2] + mid[:, :, 2:]
    corners = (up[:, :, :-2] + up[:, :, 2:]) + (down[:, :, :-2] + down[:, :, 2:])
    return tf.stack([centre, eta_pair, phi_pair, corners], axis=-1)


class SymmetricDepthwise(tf.keras.layers.Layer):
    """Depthwise 3x3 with the four symmetric taps k[layer, m, tap], bias, ReLU and requantisation to conv_act."""

    def __init__(self, derived: DerivedParams, seed: int, **kwargs) -> None:
        super().__init__(dtype=DTYPE, autocast=False, **kwargs)
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

    def call(self, taps: tf.Tensor, k: tf.Tensor, b: tf.Tensor, dtype: tf.DType = DTYPE) -> tf.Tensor:
        """Tap sums (P, L, 4) of decoded E_T, quantised taps k (L, 4, 4) and biases b (L, 4) -> (P, L * 4)
        conv_act (float32), channel = layer * 4 + m (Keras order).

        One matrix product (pixels, L * 4 tap sums) @ (L * 4, L * 4) with the block-diagonal kernel
        K[l * 4 + t, l * 4 + m] = k[l, m, t], in `dtype`.
        """
        k, b = tf.cast(k, dtype), tf.cast(b, dtype)
        n = self.n_layers * DEPTH_MULTIPLIER
        block = tf.transpose(k, [0, 2, 1])[:, :, None, :] * tf.eye(self.n_layers, dtype=dtype)[:, None, :, None]
        taps = tf.reshape(tf.cast(taps, dtype), [-1, self.n_layers * len(KERNEL_TAPS)])
        acc = tf.linalg.matmul(taps, tf.reshape(block, [self.n_layers * len(KERNEL_TAPS), n])) + tf.reshape(b, [n])
        return tf.cast(self.act_q(acc), tf.float32)


class CnnWeights(NamedTuple):
    """The quantised parameters the CNN multiplies by: quantised once per pass, not once per pixel group."""

    taps: tf.Tensor
    conv_bias: tf.Tensor
    dense: tuple[tuple[tf.Tensor, tf.Tensor], ...]  # (kernel, bias) of each dense layer


def dense_accumulator(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor, dtype: tf.DType) -> tf.Tensor:
    """x (P, in) @ quantised kernel w + quantised bias b in `dtype`: the exact accumulator where `dtype` is exact."""
    w, b = tf.cast(w, dtype), tf.cast(b, dtype)
    units = w.shape[1]
    if units < MIN_COLUMNS:  # a narrow product runs (forward and backward) faster padded with zero columns
        return tf.linalg.matmul(tf.cast(x, dtype), tf.pad(w, [[0, 0], [0, MIN_COLUMNS - units]]))[:, :units] + b
    return tf.linalg.matmul(tf.cast(x, dtype), w) + b


class Denoiser(tf.keras.layers.Layer):
    """Decoded images (B, H, W, L) GeV -> (E_pred (B, H, W), segmentation weights w (B, H, W, L)), float32."""

    def __init__(self, derived: DerivedParams, seed: int, **kwargs) -> None:
        super().__init__(dtype=DTYPE, autocast=False, **kwargs)
        f = derived.formats
        self.formats = f
        self.n_layers = derived.n_layers
        self.conv = SymmetricDepthwise(derived, seed, name="depthwise")
        self.log_eta = tf.constant(np.ldexp(derived.log_abs_eta_raw.astype(np.float64), -f["log_eta"].frac_bits),
                                   tf.float32)

        def dense(units: int, index: int, act: bool) -> QDense:
            return QDense(units, kernel_quantizer=ApFixed(f["dense_w"]), bias_quantizer=ApFixed(f["dense_b"]),
                          activation=ApFixed(f["dense_act"]) if act else None, dtype=DTYPE, name=f"dense{index}",
                          kernel_initializer=tf.keras.initializers.GlorotUniform(seed=seed + index))

        self.dense1 = dense(HIDDEN, 1, True)
        self.dense2 = dense(HIDDEN, 2, True)
        self.dense3 = dense(derived.n_layers, 3, False)
        for i, layer in enumerate(self.dense_layers()):
            layer.build((None, derived.n_layers * DEPTH_MULTIPLIER + 1 if i == 0 else HIDDEN))
        self.seg_q = ApFixed(f["seg_w"])
        self.pred_q = ApFixed(f["et_pred"])
        # gradient of the hard sigmoid outside its linear band (0: the paper's, exactly zero there); the
        # trainer sets it from TrainConfig.seg_gradient_leak. The forward never depends on it.
        self.seg_gradient_leak = 0.0
        self.worst_types = self._worst_types()

    def quantised_weights(self) -> CnnWeights:
        """The quantised parameters (their gradients reach the variables straight through the quantisers)."""
        return CnnWeights(*self.conv.quantised(), tuple(
            (layer.kernel_quantizer_internal(layer.kernel), layer.bias_quantizer_internal(layer.bias))
            for layer in self.dense_layers()))

    def pixels(self, taps: tf.Tensor, log_eta: tf.Tensor, centre: tf.Tensor, types: CnnTypes,
               weights: CnnWeights | None = None) -> tuple[tf.Tensor, tf.Tensor]:
        """The network on independent pixels: tap sums (P, L, 4), log|eta| (P,), own E_T (P, L) -> (E_pred (P,), w (P, L)).

        `weights` default to the layers' own, quantised here.
        """
        q = weights if weights is not None else self.quantised_weights()
        h = tf.concat([self.conv(taps, q.taps, q.conv_bias, types.depthwise), log_eta[:, None]], axis=-1)
        h = tf.cast(self.dense1.activation(dense_accumulator(h, *q.dense[0], types.dense)), tf.float32)
        h = tf.cast(self.dense2.activation(dense_accumulator(h, *q.dense[1], types.dense)), tf.float32)
        acc = dense_accumulator(h, *q.dense[2], types.dense)
        # hard sigmoid clip(acc / 2 + 1/2, 0, 1), clipped first so that every step stays exact in float32
        clipped = tf.clip_by_value(acc, -1.0, 1.0)
        if self.seg_gradient_leak:  # adds exact zeros forward; slope `leak` outside the band backward
            outside = tf.cast(tf.abs(acc) > 1.0, acc.dtype)
            clipped += self.seg_gradient_leak * outside * (acc - tf.stop_gradient(acc))
        w = tf.cast(self.seg_q(clipped * 0.5 + 0.5), tf.float32)
        product = tf.reduce_sum(tf.cast(w, types.output) * tf.cast(centre, types.output), axis=-1)
        return tf.cast(self.pred_q(product), tf.float32), w

    def pixel_inputs(self, et_dec: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """Decoded images (B, H, W, L) -> what `pixels` reads: tap sums (P, L, 4), log|eta| (P,), own E_T (P, L)."""
        shape = tf.shape(et_dec)
        taps = tf.reshape(tap_sums(et_dec), [-1, self.n_layers, len(KERNEL_TAPS)])
        log_eta = tf.reshape(tf.broadcast_to(self.log_eta[None, :, None], shape[:3]), [-1])
        return taps, log_eta, tf.reshape(et_dec, [-1, self.n_layers])

    def call(self, et_dec: tf.Tensor, types: CnnTypes | None = None) -> tuple[tf.Tensor, tf.Tensor]:
        """Decoded images (B, H, W, L) -> (E_pred (B, H, W), w (B, H, W, L)); `types` default to the worst case."""
        t = types if types is not None else self.worst_types
        shape = tf.shape(et_dec)
        e_pred, w = self.pixels(*self.pixel_inputs(et_dec), t)
        return tf.reshape(e_pred, shape[:3]), tf.reshape(w, shape)

    def chunked(self, et_dec: tf.Tensor, types: CnnTypes, chunk: int = CHUNK_EVENTS) -> tuple[tf.Tensor, tf.Tensor]:
        """`call` over groups of `chunk` events (a loop), so that the activations stay in cache: forward only."""
        e_pred, w = tf.map_fn(lambda x: self(x, types), event_groups(et_dec, chunk),
                              fn_output_signature=(tf.float32, tf.float32))
        n = tf.shape(et_dec)[0]
        return ungroup(e_pred)[:n], ungroup(w)[:n]

    def squared_error(self, et_dec: tf.Tensor, target: tf.Tensor, types: CnnTypes, chunk: int = CHUNK_PIXELS
                      ) -> tuple[tf.Tensor, list[tf.Tensor]]:
        """Sum over pixels of (E_pred - target)^2 (float64) for images (B, H, W, L) and targets (B, H, W), and its
        gradient with respect to `trainable_variables`.

        The pixels are independent given their tap sums, so the forward and backward run `chunk`
        pixels at a time while their activations are in cache; the weights are quantised once.
        Padding pixels (no energy, target 0) add exact zeros.
        """
        with tf.GradientTape() as tape:
            q = self.quantised_weights()
        flat = tf.nest.flatten(q)
        inputs = [*self.pixel_inputs(et_dec), tf.reshape(target, [-1])]
        pad = (-tf.shape(inputs[0])[0]) % chunk
        grouped = [tf.reshape(tf.pad(x, [[0, pad]] + [[0, 0]] * (x.shape.rank - 1)),
                              tf.concat([[-1, chunk], tf.shape(x)[1:]], axis=0)) for x in inputs]

        def body(i: tf.Tensor, total: tf.Tensor, grads: list[tf.Tensor]):
            taps, log_eta, centre, want = (x[i] for x in grouped)
            with tf.GradientTape() as inner:
                inner.watch(flat)
                e, _ = self.pixels(taps, log_eta, centre, types, tf.nest.pack_sequence_as(q, flat))
                squares = tf.reduce_sum(tf.square(tf.cast(e, DTYPE) - tf.cast(want, DTYPE)))
            return i + 1, total + squares, [g + d for g, d in zip(grads, inner.gradient(squares, flat))]

        start = (tf.constant(0), tf.constant(0.0, DTYPE), [tf.zeros_like(x) for x in flat])
        _, total, grads = tf.while_loop(lambda i, *_: i < tf.shape(grouped[0])[0], body, start)
        return total, tape.gradient(flat, self.trainable_variables, output_gradients=grads)

    def _worst_types(self) -> CnnTypes:
        """Types exact for any weights of the spec's formats (the worst-case bounds)."""
        f = self.formats

        def largest(fmt: FixedFormat) -> int:
            return max(-fmt.raw_min, fmt.raw_max)

        worst = CnnParams(
            dw_kernel=np.full((self.n_layers, DEPTH_MULTIPLIER, len(KERNEL_TAPS)), largest(f["conv_w"])),
            dw_bias=np.full((self.n_layers, DEPTH_MULTIPLIER), largest(f["conv_b"])),
            log_eta=np.ldexp(self.log_eta.numpy().astype(np.float64), f["log_eta"].frac_bits).astype(np.int64),
            **{f"dense{i + 1}_w": np.full(tuple(layer.kernel.shape), largest(f["dense_w"]))
               for i, layer in enumerate(self.dense_layers())},
            **{f"dense{i + 1}_b": np.full(tuple(layer.bias.shape), largest(f["dense_b"]))
               for i, layer in enumerate(self.dense_layers())})
        return CnnTypes.of(f, worst)

    def dense_layers(self) -> tuple[QDense, QDense, QDense]:
        return self.dense1, self.dense2, self.dense3
