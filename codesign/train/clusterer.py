"""Cone clusterer for training: the firmware's exact forward with a differentiable surrogate gradient.

Forward (SEMANTICS.md 5): seeds are pixels above the seed threshold that beat every window
neighbour before them in raster order and are not beaten by any after them; cluster pT is the
window sum; the top N by pT, ties to the lower raster index, zero padded. The window and the
before/after split come from `emulation.semantics.window_mask` and `emulation.clusterer.window_offsets`.
Backward: a seed's indicator passes the gradient of sigmoid((E - max of its neighbours) / s), and
the window sums and the top-N selection (straight-through sorting) pass gradients to the pixels.

Neighbourhood maxima are shifted slices; window sums are one matrix product per row of the
window (a cyclic band over phi) and shifted adds over eta, in the type `emulation.exact` proves exact.
"""

from __future__ import annotations

import numpy as np

from codesign.derived import DerivedParams
from codesign.train.config import HYPER
from codesign.train.fixed_tf import straight_through
from codesign.train.tf_setup import DTYPE, tf
from emulation.clusterer import window_offsets
from emulation.exact import exact_type
from emulation.fixed import from_float


def seed_threshold_raw(derived: DerivedParams) -> int:
    """The seed threshold on the et_pred grid (real-number rule), as the bundle stores it."""
    return int(from_float(HYPER.seed_threshold_gev, derived.formats["et_pred"]))


def row_bands(mask: np.ndarray, width: int) -> np.ndarray:
    """(W, rows * W): for window row d, the cyclic band matrix M[j', d * W + j] = cells of that row landing on j'."""
    r = mask.shape[0] // 2
    bands = np.zeros((mask.shape[0], width, width))
    for d_eta in range(mask.shape[0]):
        for d_phi in np.flatnonzero(mask[d_eta]) - r:
            for j in range(width):
                bands[d_eta, (j + d_phi) % width, j] += 1.0
    return bands.transpose(1, 0, 2).reshape(width, -1)


class ConeClusterer(tf.keras.layers.Layer):
    """E_pred (B, H, W) GeV -> the N highest-pT clusters (pT GeV, seed row, column, validity) and their count."""

    def __init__(self, derived: DerivedParams, **kwargs) -> None:
        super().__init__(dtype=DTYPE, autocast=False, trainable=False, **kwargs)
        mask = derived.window_mask
        self.r = mask.shape[0] // 2
        self.n_clusters = derived.n_clusters
        self.seed_threshold = float(np.ldexp(seed_threshold_raw(derived), -derived.formats["et_pred"].frac_bits))
        offsets = window_offsets(mask)
        self.offsets = [tuple(int(v) for v in row) for row in offsets]
        # every window cell (centre included) for the recomputation under the selected windows
        cells = np.concatenate([[(0, 0, -1)], offsets])
        self.cell_eta = tf.constant(cells[:, 0].astype(np.int32))
        self.cell_phi = tf.constant(cells[:, 1].astype(np.int32))
        self.cell_after = tf.constant(cells[:, 2] == 1)
        self.cell_before = tf.constant(cells[:, 2] == 0)
        # window sums: at most (cells of the window) x the largest E_pred, in et_pred LSBs
        self.sum_type = tf.as_dtype(exact_type(int(mask.sum()) * derived.formats["et_pred"].raw_max))
        self.bands = tf.constant(row_bands(mask, derived.phi_bins), self.sum_type)

    def _padded(self, e: tf.Tensor) -> tf.Tensor:
        """(B, H + 2r, W + 2r): phi wrapped, eta zero-padded (missing rows never win: E_pred >= 0)."""
        r = self.r
        e = tf.concat([e[:, :, -r:], e, e[:, :, :r]], axis=2)
        return tf.pad(e, [[0, 0], [r, r], [0, 0]])

    def window_sums(self, e: tf.Tensor) -> tf.Tensor:
        """(B, H, W) exact sum of E_pred over each pixel's window (phi cyclic, no rows beyond eta)."""
        b, h, w = tf.shape(e)[0], e.shape[1], e.shape[2]
        rows = tf.linalg.matmul(tf.reshape(tf.cast(e, self.sum_type), [-1, w]), self.bands)
        rows = tf.pad(tf.reshape(rows, [b, h, 2 * self.r + 1, w]), [[0, 0], [self.r, self.r], [0, 0], [0, 0]])
        return tf.add_n([rows[:, d:d + h, d, :] for d in range(2 * self.r + 1)[::-1]])

    def seed_surrogate(self, e_seed: tf.Tensor, max_before: tf.Tensor, max_after: tf.Tensor) -> tf.Tensor:
        """The seed indicator's smooth stand-in: sigmoids of the margins over the neighbours and the threshold."""
        s = HYPER.seed_softness_gev
        return (tf.sigmoid((e_seed - max_before) / s) * tf.sigmoid((e_seed - max_after) / s)
                * tf.sigmoid((e_seed - self.seed_threshold) / s))

    def selected_pt(self, e_cells: tf.Tensor) -> tf.Tensor:
        """E_pred on every window cell of each selected seed (..., cells; centre first, 0 beyond eta) -> pT with
        the seed's surrogate gradient: the same value and gradient as the full clusterer gives a selected cluster."""
        below = tf.constant(-np.inf, e_cells.dtype)
        max_before = tf.reduce_max(tf.where(self.cell_before, e_cells, below), axis=-1)
        max_after = tf.reduce_max(tf.where(self.cell_after, e_cells, below), axis=-1)
        seed = straight_through(tf.ones_like(e_cells[..., 0]), self.seed_surrogate(e_cells[..., 0], max_before, max_after))
        return tf.reduce_sum(e_cells, axis=-1) * seed

    def call(self, e: tf.Tensor, soft: bool = False) -> dict[str, tf.Tensor]:
        """soft: the seed indicator carries the surrogate gradient (only when a block upstream is trained)."""
        r, h, w = self.r, e.shape[1], e.shape[2]
        padded = self._padded(e)

        def neighbour_max(after: bool) -> tf.Tensor:
            return tf.reduce_max(tf.stack([padded[:, r + de:r + de + h, r + dp:r + dp + w]
                                           for de, dp, is_after in self.offsets if bool(is_after) == after]), axis=0)

        max_before, max_after = neighbour_max(False), neighbour_max(True)
        sums = tf.cast(self.window_sums(e), e.dtype)
        hard = (e > self.seed_threshold) & (e > max_before) & (e >= max_after)
        seed = tf.cast(hard, e.dtype)
        if soft:
            seed = straight_through(seed, self.seed_surrogate(e, max_before, max_after))
        flat = tf.reshape(sums * seed, [tf.shape(e)[0], -1])
        pt, index = tf.math.top_k(flat, k=self.n_clusters, sorted=True)  # equal values: lower index first
        valid = tf.gather(tf.reshape(hard, [tf.shape(e)[0], -1]), index, batch_dims=1)
        zero = tf.zeros_like(index)
        return {
            "cluster_pt": tf.where(valid, pt, 0.0),
            "cluster_ieta": tf.where(valid, index // w, zero),
            "cluster_iphi": tf.where(valid, index % w, zero),
            "valid": valid,
            "n_clusters": tf.reduce_sum(tf.cast(valid, tf.int32), axis=1),
            "seeds": hard,
        }
