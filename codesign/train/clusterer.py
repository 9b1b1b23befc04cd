"""Cone clusterer for training: the firmware's exact forward with a differentiable surrogate gradient.

Forward (SEMANTICS.md 5): seeds are pixels above the seed threshold that beat every window
neighbour before them in raster order and are not beaten by any after them; cluster pT is the
window sum; the top N by pT, ties to the lower raster index, zero padded. The window and the
before/after split come from `emulation.semantics.window_mask` and `emulation.clusterer.window_offsets`.
Backward: a seed's indicator passes the gradient of sigmoid((E - max of its neighbours) / s), and
the window sums and the top-N selection (straight-through sorting) pass gradients to the pixels.
"""

from __future__ import annotations

import numpy as np

from codesign.derived import DerivedParams
from codesign.train.config import HYPER
from codesign.train.fixed_tf import straight_through
from codesign.train.tf_setup import DTYPE, tf
from emulation.clusterer import window_offsets
from emulation.fixed import from_float

_EXCLUDED = -1e30  # structuring-element value of cells outside a neighbourhood


def seed_threshold_raw(derived: DerivedParams) -> int:
    """The seed threshold on the et_pred grid (real-number rule), as the bundle stores it."""
    return int(from_float(HYPER.seed_threshold_gev, derived.formats["et_pred"]))


def _neighbourhood(mask: np.ndarray, after: bool) -> np.ndarray:
    """Dilation filter (w, w, 1): 0 on the window neighbours before (after=False) or after the centre."""
    r = mask.shape[0] // 2
    out = np.full(mask.shape + (1,), _EXCLUDED)
    for d_eta, d_phi, is_after in window_offsets(mask):
        if bool(is_after) == after:
            out[d_eta + r, d_phi + r, 0] = 0.0
    return out


class ConeClusterer(tf.keras.layers.Layer):
    """E_pred (B, H, W) GeV -> the N highest-pT clusters (pT GeV, seed row, column, validity) and their count."""

    def __init__(self, derived: DerivedParams, **kwargs) -> None:
        super().__init__(dtype=DTYPE, trainable=False, **kwargs)
        window_mask = derived.window_mask
        self.r = window_mask.shape[0] // 2
        self.n_clusters = derived.n_clusters
        self.seed_threshold = float(np.ldexp(seed_threshold_raw(derived), -derived.formats["et_pred"].frac_bits))
        self.window = tf.constant(window_mask.astype(np.float64)[:, :, None, None], DTYPE)
        self.before = tf.constant(_neighbourhood(window_mask, after=False), DTYPE)
        self.after = tf.constant(_neighbourhood(window_mask, after=True), DTYPE)

    def _padded(self, e: tf.Tensor) -> tf.Tensor:
        """(B, H + 2r, W + 2r, 1): phi wrapped, eta zero-padded (missing rows never win or add)."""
        r = self.r
        e = tf.concat([e[:, :, -r:], e, e[:, :, :r]], axis=2)
        return tf.pad(e, [[0, 0], [r, r], [0, 0]])[..., None]

    def call(self, e: tf.Tensor) -> dict[str, tf.Tensor]:
        padded = self._padded(e)
        dilate = dict(strides=[1, 1, 1, 1], padding="VALID", data_format="NHWC", dilations=[1, 1, 1, 1])
        max_before = tf.nn.dilation2d(padded, self.before, **dilate)[..., 0]
        max_after = tf.nn.dilation2d(padded, self.after, **dilate)[..., 0]
        sums = tf.nn.conv2d(padded, self.window, strides=1, padding="VALID")[..., 0]
        hard = (e > self.seed_threshold) & (e > max_before) & (e >= max_after)
        s = HYPER.seed_softness_gev
        soft = (tf.sigmoid((e - max_before) / s) * tf.sigmoid((e - max_after) / s)
                * tf.sigmoid((e - self.seed_threshold) / s))
        seed = straight_through(tf.cast(hard, DTYPE), soft)
        width = tf.shape(e)[2]
        flat = tf.reshape(sums * seed, [tf.shape(e)[0], -1])
        pt, index = tf.math.top_k(flat, k=self.n_clusters, sorted=True)  # equal values: lower index first
        valid = tf.gather(tf.reshape(hard, [tf.shape(e)[0], -1]), index, batch_dims=1)
        zero = tf.zeros_like(index)
        return {
            "cluster_pt": tf.where(valid, pt, 0.0),
            "cluster_ieta": tf.where(valid, index // width, zero),
            "cluster_iphi": tf.where(valid, index % width, zero),
            "valid": valid,
            "n_clusters": tf.reduce_sum(tf.cast(valid, tf.int32), axis=1),
            "seeds": hard,
        }
