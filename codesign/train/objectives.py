"""What each training stage minimises and which variables it moves (paper Table 4).

sequential: quantiser (per-pixel MSE to the input E_T + smoothness), then CNN (per-pixel MSE of
E_pred to the mu = 0 image, E_em + E_had), then calibration (D_C), each with upstream frozen.
e2e: BCE[f(pT1)] + BCE[g(pT4)] + alpha D_C + penalties, every block at once.
e2e_calibration (ablation): the e2e loss, moving only the calibration and the trigger splines.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from codesign.train.config import HYPER
from codesign.train.distribute import replica_count
from codesign.train.losses import (calibration_distance, event_weights, matched_pairs, pixel_count, pixel_mse,
                                   weighted_bce)
from codesign.train.cnn import CnnTypes
from codesign.train.model import GROUPS, TriggerChain
from codesign.train.shares import run_shares
from codesign.train.tf_setup import DTYPE, tf

STAGE_GROUPS = {"quantiser": ("quantiser",), "cnn": ("cnn",), "calibration": ("calibration",), "e2e": GROUPS,
                "e2e_calibration": ("calibration", "trigger")}
BATCH_KEYS = ("image", "image_mu0", "jets", "n_jets", "label", "weight")
CLUSTER_KEYS = ("cluster_pt", "cluster_ieta", "cluster_iphi", "valid")


class Batch(NamedTuple):
    """The tensors of a data batch that the losses read."""

    image: tf.Tensor  # (B, L, H, W) GeV with pile-up
    image_mu0: tf.Tensor  # (B, L, H, W) GeV without pile-up
    jets: tf.Tensor  # (B, J, 4) truth pt, eta, phi, m
    n_jets: tf.Tensor  # (B,)
    label: tf.Tensor  # (B,) 1 = signal
    weight: tf.Tensor  # (B,) generator weight
    present: tf.Tensor  # (B,) 1 for an event, 0 for padding

    @classmethod
    def of(cls, batch: dict[str, np.ndarray], size: int | None = None) -> "Batch":
        """The loader's batch, padded to `size` events with empty background events of weight 0.

        Padding adds nothing to any loss (no energy, no weight, no pixels counted), and every
        step then has one shape, so XLA compiles it once.
        """
        n = len(batch["label"])
        pad = max(0, (size or n) - n)
        arrays = [np.concatenate([batch[k], np.zeros((pad, *batch[k].shape[1:]), batch[k].dtype)]) if pad else batch[k]
                  for k in BATCH_KEYS]
        present = np.concatenate([np.ones(n, np.float32), np.zeros(pad, np.float32)])
        return cls(*(tf.convert_to_tensor(a) for a in arrays), tf.convert_to_tensor(present))

    @property
    def events(self) -> int:
        """Real (not padding) events."""
        return int(np.sum(self.present.numpy()))

    @staticmethod
    def signature(size: int, geometry: tuple[int, int, int], max_jets: int) -> "Batch":
        """TensorSpecs of a batch of `size` events (padded: one shape, one compilation)."""
        image = tf.TensorSpec((size, *geometry), tf.float32)
        return Batch(image, image, tf.TensorSpec((size, max_jets, 4), tf.float32), tf.TensorSpec((size,), tf.int32),
                     tf.TensorSpec((size,), tf.int8), tf.TensorSpec((size,), tf.float32),
                     tf.TensorSpec((size,), tf.float32))


class Objective:
    """Stage losses of one model; `eta`, `phi` give each seed row/column its coordinates.

    `frozen` computes what a stage does not train (outside any gradient tape, hard forward only);
    `loss` computes the rest, with surrogate gradients only where the stage needs them.
    `shares` >= 1: the heavy per-event parts run as XLA computations over that many concurrent
    event shares (`codesign.train.shares`); 0: plain TensorFlow graphs (data-parallel replicas).
    """

    def __init__(self, model: TriggerChain, eta_edges: np.ndarray, phi_edges: np.ndarray, eta_max: float,
                 shares: int = 0) -> None:
        self.model = model
        self.eta = tf.constant((eta_edges[:-1] + eta_edges[1:]) / 2, DTYPE)
        self.phi = tf.constant((phi_edges[:-1] + phi_edges[1:]) / 2, DTYPE)
        self.eta_max = eta_max
        self.shares = shares

    def per_event(self, fn, args: list[tf.Tensor], combine: str = "concat"):
        """fn over the events of `args`: compiled, in concurrent shares (or as it is, without shares)."""
        if not self.shares:
            return fn(*args)
        return run_shares(tf.function(fn, jit_compile=True), args, self.shares, combine)

    def variables(self, stage: str) -> list[tf.Variable]:
        return [v for g in STAGE_GROUPS[stage] for v in self.model.group(g)]

    def _calibration_distance(self, out: dict[str, tf.Tensor], b: Batch, omega: tf.Tensor) -> tf.Tensor:
        match = matched_pairs(tf.gather(self.eta, out["cluster_ieta"]), tf.gather(self.phi, out["cluster_iphi"]),
                              out["valid"], b.jets, b.n_jets, self.eta_max)
        return calibration_distance(tf.cast(out["pt_calib"], DTYPE), match, b.jets, omega)

    def frozen(self, stage: str, b: Batch, types: CnnTypes) -> dict[str, tf.Tensor]:
        """What the stage's trained part starts from, by the frozen or hard forward (no gradients, no surrogates)."""
        m = self.model
        if stage == "quantiser":
            return {}
        if stage == "cnn":
            return {"et_dec": self.per_event(lambda x: m.quantise_raw(m.raw_input(x))[0], [b.image])}
        return self.per_event(lambda x: m.forward(x, types, chunked=True), [b.image])

    def cnn_gradients(self, b: Batch, types: CnnTypes, frozen: dict[str, tf.Tensor]
                      ) -> tuple[dict[str, tf.Tensor], list[tf.Tensor]]:
        """The CNN stage's loss and the gradients of `variables("cnn")` (the denoiser's), from
        `Denoiser.squared_error` per event share, summed."""
        denoiser = self.model.denoiser
        target = tf.reduce_sum(b.image_mu0, axis=1)
        count = pixel_count(target, b.present)
        # empty padding events add nothing: their E_pred and target are 0
        squares, grads = self.per_event(lambda x, t: denoiser.squared_error(x, t, types), [frozen["et_dec"], target],
                                        combine="sum")
        mse = tf.math.divide_no_nan(squares, count)
        return {"loss": mse, "mse": mse}, [tf.math.divide_no_nan(g, count) for g in grads]

    @staticmethod
    def shares_inside(stage: str, soft: bool) -> bool:
        """Whether `loss` (or `cnn_gradients`) runs its heavy per-event parts in shares itself, so that
        the step must not compile it as one XLA computation around them."""
        return stage == "cnn" or (stage == "e2e" and soft)

    def loss(self, stage: str, b: Batch, types: CnnTypes, frozen: dict[str, tf.Tensor], soft: bool
             ) -> dict[str, tf.Tensor]:
        """{"loss": the stage's loss, plus its named parts}; soft: surrogate gradients (training steps only).

        Under data parallelism each replica returns its share: parameter-only penalties count
        1/replicas, so the parts summed over replicas are the whole batch's.
        """
        m = self.model
        share = 1.0 / replica_count()
        if stage == "quantiser":
            et_dec, _ = m.quantise_raw(m.raw_input(b.image), soft)
            parts = {"mse": pixel_mse(et_dec, tf.transpose(b.image, [0, 2, 3, 1]), b.present),
                     "smoothness": m.regularisers() * share}
        elif stage == "cnn":
            e_pred = self.per_event(lambda x: m.denoiser.chunked(x, types)[0], [frozen["et_dec"]])
            parts = {"mse": pixel_mse(e_pred, tf.reduce_sum(b.image_mu0, axis=1), b.present)}
        else:
            omega = event_weights(b.label, b.weight)
            clusters = {k: frozen[k] for k in CLUSTER_KEYS}
            if stage == "e2e" and soft:
                clusters["cluster_pt"] = self.per_event(
                    lambda x, *hard: m.selected_cluster_pt(x, dict(zip(CLUSTER_KEYS, hard)), types),
                    [b.image, *(frozen[k] for k in CLUSTER_KEYS)])
            out = m.trigger_outputs(clusters, soft)
            d_c = self._calibration_distance(out, b, omega)
            if stage == "calibration":
                parts = {"d_c": d_c}
            else:
                parts = {"bce_pt1": weighted_bce(out["logit_pt1"], b.label, omega),
                         "bce_pt4": weighted_bce(out["logit_pt4"], b.label, omega),
                         "alpha_d_c": HYPER.alpha * d_c, "smoothness": m.regularisers() * share,
                         "curvature": m.curvature_penalties() * share}
        return {"loss": tf.add_n(list(parts.values())), **parts}
