"""Loss functions (paper Table 4, Eqs. 8, 11, 14-16): per-pixel MSEs, the calibration distance D_C, BCE.

Event weights: signal events count 1 each and QCD events their generator weight (the bias that
makes the QCD sample useful, see docs/data.md), each class then normalised to half of the batch. Normalisers are sums over the whole batch,
also when data-parallel replicas each hold a share of it (`distribute.global_sum`).
"""

from __future__ import annotations

import math

from codesign.train.config import HYPER
from codesign.train.distribute import global_sum
from codesign.train.tf_setup import DTYPE, tf


def event_weights(label: tf.Tensor, weight: tf.Tensor) -> tf.Tensor:
    """Class-balanced per-event weights summing to 1 over the batch (to 1/2 per class present in it)."""
    sig = tf.cast(label > 0, DTYPE)
    w = tf.cast(weight, DTYPE)
    per_class = sig / tf.maximum(global_sum(tf.reduce_sum(sig)), 1.0) + (1 - sig) * w / tf.maximum(
        global_sum(tf.reduce_sum((1 - sig) * w)), 1e-30)
    return per_class / global_sum(tf.reduce_sum(per_class))


def weighted_bce(logit: tf.Tensor, label: tf.Tensor, omega: tf.Tensor) -> tf.Tensor:
    """Binary cross-entropy of the posterior sigmoid(logit), weighted by omega (sum 1)."""
    y = tf.cast(label > 0, DTYPE)
    return tf.reduce_sum(omega * tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=logit))


def pixel_count(pred: tf.Tensor, present: tf.Tensor) -> tf.Tensor:
    """Pixels of the batch's real events (padding events, present = 0, are empty and not counted)."""
    per_event = tf.cast(tf.size(pred) // tf.maximum(tf.shape(pred)[0], 1), DTYPE)
    return global_sum(tf.reduce_sum(tf.cast(present, DTYPE)) * per_event)


def pixel_mse(pred: tf.Tensor, target: tf.Tensor, present: tf.Tensor) -> tf.Tensor:
    """Mean over every pixel of the batch's real events of (pred - target)^2 (padding events add 0)."""
    squares = tf.reduce_sum(tf.square(tf.cast(pred, DTYPE) - tf.cast(target, DTYPE)))
    return tf.math.divide_no_nan(squares, pixel_count(pred, present))


def matched_pairs(reco_eta: tf.Tensor, reco_phi: tf.Tensor, reco_valid: tf.Tensor, jets: tf.Tensor,
                  n_jets: tf.Tensor, eta_max: float) -> tf.Tensor:
    """M_tr (B, T, R) of Eqs. 15-16: truth and reconstructed clusters within Delta R < R_max, uniquely paired.

    Truth clusters count when stored (index < n_jets), above the truth pT cut and inside |eta| < eta_max.
    """
    jets = tf.cast(jets, DTYPE)
    t_pt, t_eta, t_phi = jets[..., 0], jets[..., 1], jets[..., 2]
    t_valid = ((tf.range(tf.shape(jets)[1])[None, :] < tf.cast(n_jets, tf.int32)[:, None])
               & (t_pt > HYPER.truth_pt_min_gev) & (tf.abs(t_eta) < eta_max))
    d_eta = t_eta[:, :, None] - reco_eta[:, None, :]
    d_phi = tf.math.floormod(t_phi[:, :, None] - reco_phi[:, None, :] + math.pi, 2 * math.pi) - math.pi
    m0 = ((d_eta**2 + d_phi**2 < HYPER.match_dr**2) & t_valid[:, :, None] & reco_valid[:, None, :])
    m0 = tf.cast(m0, DTYPE)
    unique_t = tf.cast(tf.reduce_sum(m0, axis=2, keepdims=True) == 1, DTYPE)
    unique_r = tf.cast(tf.reduce_sum(m0, axis=1, keepdims=True) == 1, DTYPE)
    return m0 * unique_t * unique_r


def calibration_distance(pt_calib: tf.Tensor, match: tf.Tensor, jets: tf.Tensor, omega: tf.Tensor) -> tf.Tensor:
    """D_C (Eq. 14): omega-weighted mean of (truth pT - calibrated pT)^2 over matched pairs (GeV^2)."""
    d = tf.cast(jets[..., 0], DTYPE)[:, :, None] - pt_calib[:, None, :]
    num = tf.reduce_sum(omega * tf.reduce_sum(match * d**2, axis=[1, 2]))
    den = global_sum(tf.reduce_sum(omega * tf.reduce_sum(match, axis=[1, 2])))
    return tf.math.divide_no_nan(num, den)
