"""Monotone calibration H(pT, |eta|) (paper section 3.7) and the LUT the firmware uses in its place.

H is a partially monotone network: log-normalised inputs; two hidden layers of 64 increasing
activations (half softplus, half its concave mirror -softplus(-x), as in constrained monotonic
networks) with non-negative weights on every path from pT; output exp(z1) * sigmoid(z2), with
z1 = kappa * log(1 + pT) + ... and kappa >= 0. So H is non-decreasing in pT by construction.

Forward: the LUT value of the cluster (H at the pT its log-spaced address stands for, in the
cluster's |eta| bin, rounded to pt_calib), exactly as the firmware; backward: the gradient of H
at the cluster's own pT.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from codesign.derived import DerivedParams
from codesign.train.config import HYPER
from codesign.train.fixed_tf import round_to, straight_through
from codesign.train.quantiser import inverse_softplus
from codesign.train.tf_setup import DTYPE, tf
from emulation.semantics import calib_address, calib_address_count

_LOG_PT_CENTRE, _LOG_PT_SCALE = 3.5, 1.5  # log(1 + pT/GeV) is normalised as (x - 3.5) / 1.5


@dataclass(frozen=True)
class AddressGrid:
    """The calibration LUT's pT axis: first raw cluster pT of every address and the pT it stands for."""

    first_raw: np.ndarray  # (A,) smallest raw cluster pT with this address
    centre_raw: np.ndarray  # (A,) middle of the address's raw pT range (float)

    @classmethod
    def of(cls, pt_width: int, mantissa_bits: int) -> "AddressGrid":
        """Found by bisection on `emulation.semantics.calib_address` (non-decreasing in pT)."""
        n = calib_address_count(pt_width, mantissa_bits)
        want = np.arange(n)
        lo, hi = np.zeros(n, np.int64), np.full(n, 1 << pt_width, np.int64)
        while (lo < hi).any():
            mid = (lo + hi) // 2
            below = calib_address(np.minimum(mid, (1 << pt_width) - 1), mantissa_bits) < want
            lo, hi = np.where(below & (lo < hi), mid + 1, lo), np.where(~below & (lo < hi), mid, hi)
        last = np.append(lo[1:], 1 << pt_width)
        return cls(first_raw=lo, centre_raw=(lo + last - 1) / 2.0)


def _increasing_mix(x: tf.Tensor) -> tf.Tensor:
    """Half the units convex (softplus), half concave (-softplus(-x)): both increasing."""
    half = x.shape[-1] // 2
    return tf.concat([tf.math.softplus(x[..., :half]), -tf.math.softplus(-x[..., half:])], axis=-1)


class MonotoneCalibration(tf.keras.layers.Layer):
    """Calibrated cluster pT: LUT forward, smooth-H gradient; padding slots give 0."""

    def __init__(self, derived: DerivedParams, eta_max: float, seed: int, **kwargs) -> None:
        super().__init__(dtype=DTYPE, autocast=False, **kwargs)
        f = derived.formats
        self.pt_lsb_frac = f["cluster_pt"].frac_bits
        self.pt_calib = f["pt_calib"]
        self.log_pt_cap = float(np.log(2 * self.pt_calib.max_value))  # above the LUT's largest value
        grid = AddressGrid.of(f["cluster_pt"].width, derived.mantissa_bits)
        self.first_raw = tf.constant(grid.first_raw.astype(np.float64), DTYPE)
        self.grid_pt = tf.constant(np.ldexp(grid.centre_raw, -self.pt_lsb_frac), DTYPE)
        self.eta_bin_of_row = tf.constant(derived.eta_bin_of_row.astype(np.int32))
        width = eta_max / derived.abs_eta_bins
        self.bin_abs_eta = tf.constant((np.arange(derived.abs_eta_bins) + 0.5) * width, DTYPE)
        h = HYPER.calib_hidden
        init = tf.keras.initializers

        def weight(name: str, shape: tuple[int, ...], initializer) -> tf.Variable:
            return self.add_weight(name=name, shape=shape, dtype=DTYPE, initializer=initializer)

        positive = init.RandomUniform(inverse_softplus(0.01), inverse_softplus(0.3), seed=seed)
        self.w1_pt = weight("w1_pt", (1, h), positive)  # softplus -> non-negative
        self.w1_eta = weight("w1_eta", (1, h), init.RandomNormal(0.0, 0.5, seed=seed + 1))
        self.b1 = weight("b1", (h,), init.RandomNormal(0.0, 0.5, seed=seed + 2))
        self.w2 = weight("w2", (h, h), init.RandomUniform(inverse_softplus(0.005), inverse_softplus(0.05),
                                                          seed=seed + 3))
        self.b2 = weight("b2", (h,), "zeros")
        self.w_out = weight("w_out", (h, 2), init.RandomUniform(inverse_softplus(0.001), inverse_softplus(0.02),
                                                                seed=seed + 4))
        self.b_out = weight("b_out", (2,), init.Constant([0.0, 3.0]))  # gate starts open (sigmoid(3) = 0.95)
        self.kappa = weight("kappa", (), init.Constant(inverse_softplus(1.0)))  # H ~ pT at the start

    def response(self, pt: tf.Tensor, abs_eta: tf.Tensor) -> tf.Tensor:
        """H(pT, |eta|) in GeV (smooth), elementwise over equal-shaped pT and |eta|."""
        log_pt = tf.math.log1p(pt)
        u = ((log_pt - _LOG_PT_CENTRE) / _LOG_PT_SCALE)[..., None]
        v = tf.math.log(abs_eta)[..., None]
        h1 = _increasing_mix(u * tf.math.softplus(self.w1_pt) + v * self.w1_eta + self.b1)
        h2 = _increasing_mix(tf.linalg.matmul(h1, tf.math.softplus(self.w2)) + self.b2)
        z = tf.linalg.matmul(h2, tf.math.softplus(self.w_out)) + self.b_out
        z1 = tf.minimum(tf.math.softplus(self.kappa) * log_pt + z[..., 0], self.log_pt_cap)  # saturates, stays finite
        return tf.exp(z1) * tf.sigmoid(z[..., 1])

    def lut(self) -> tf.Tensor:
        """(|eta| bins, addresses) calibrated pT in GeV on the pt_calib grid: H at each address's pT."""
        n_bins, n_addr = self.bin_abs_eta.shape[0], self.grid_pt.shape[0]
        pt = tf.broadcast_to(self.grid_pt[None, :], [n_bins, n_addr])
        eta = tf.broadcast_to(self.bin_abs_eta[:, None], [n_bins, n_addr])
        return round_to(self.response(pt, eta), self.pt_calib)

    def call(self, pt: tf.Tensor, ieta: tf.Tensor, valid: tf.Tensor, soft: bool = False) -> tf.Tensor:
        """pt (B, N) cluster pT GeV, ieta (B, N) seed rows, valid (B, N) -> calibrated pT (B, N) GeV (float32).

        soft: the value carries the gradient of H at the cluster's own pT (training the calibration
        or anything upstream of it).
        """
        pt = tf.cast(pt, DTYPE)
        eta_bin = tf.gather(self.eta_bin_of_row, ieta)
        raw = tf.reshape(pt * float(2 ** self.pt_lsb_frac), [1, -1])
        address = tf.reshape(tf.searchsorted(self.first_raw[None, :], raw, side="right"), tf.shape(pt)) - 1
        value = tf.gather_nd(tf.stop_gradient(self.lut()), tf.stack([eta_bin, address], axis=-1))
        if soft:
            value = straight_through(value, self.response(pt, tf.gather(self.bin_abs_eta, eta_bin)))
        return tf.cast(tf.where(valid, value, 0.0), tf.float32)
