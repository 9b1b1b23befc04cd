"""The whole trigger chain as one Keras model: quantisers -> CNN -> clusterer -> calibration -> trigger.

Its forward is the firmware's (bit for bit on the exported bundle); its gradients are the
blocks' surrogates. Sizes and formats all come from the spec's derived parameters.
"""

from __future__ import annotations

from codesign.derived import DerivedParams
from codesign.spec import Spec
from codesign.train.calibration import MonotoneCalibration
from codesign.train.clusterer import ConeClusterer
from codesign.train.cnn import Denoiser
from codesign.train.quantiser import LearnableQuantiser
from codesign.train.splines import TriggerSpline
from codesign.train.tf_setup import DTYPE, tf

# Variable groups trained by each stage (the splines only matter to the end-to-end loss).
GROUPS = ("quantiser", "cnn", "calibration", "trigger")


class TriggerChain(tf.keras.Model):
    """Images (B, L, H, W) in GeV -> every tensor of the chain (see `call`)."""

    def __init__(self, spec: Spec, derived: DerivedParams, seed: int) -> None:
        super().__init__(name="trigger_chain", dtype=DTYPE)
        f = derived.formats
        self.derived = derived
        self.quantisers = [LearnableQuantiser(derived.levels, f["et_in"], f["et_dec"], name=f"quantiser_{layer}")
                           for layer in spec.detector.layers]
        self.denoiser = Denoiser(derived, seed, name="denoiser")
        self.clusterer = ConeClusterer(derived, name="clusterer")
        self.calibration = MonotoneCalibration(derived, spec.detector.eta_max, seed + 10, name="calibration")
        self.spline_pt1 = TriggerSpline(name="spline_pt1")
        self.spline_pt4 = TriggerSpline(name="spline_pt4")
        shape = (1, derived.n_layers, derived.eta_bins, derived.phi_bins)
        self(tf.zeros(shape, tf.float32))  # create every weight now, in a fixed order

    def group(self, name: str) -> list[tf.Variable]:
        """Trainable variables of one block group (GROUPS)."""
        layers = {"quantiser": self.quantisers, "cnn": [self.denoiser], "calibration": [self.calibration],
                  "trigger": [self.spline_pt1, self.spline_pt4]}[name]
        return [v for layer in layers for v in layer.trainable_variables]

    def quantise(self, images: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """(decoded E_T (B, L, H, W) GeV, codes (B, L, H, W))."""
        outs = [q(images[:, i]) for i, q in enumerate(self.quantisers)]
        return tf.stack([o[0] for o in outs], axis=1), tf.stack([o[1] for o in outs], axis=1)

    def regularisers(self) -> tf.Tensor:
        return tf.add_n([q.regulariser() for q in self.quantisers])

    def curvature_penalties(self) -> tf.Tensor:
        return self.spline_pt1.curvature_penalty() + self.spline_pt4.curvature_penalty()

    def call(self, images: tf.Tensor) -> dict[str, tf.Tensor]:
        """Keys: et_in_gev, et_dec, codes, seg_w, et_pred, cluster_pt/ieta/iphi, valid, n_clusters, seeds,
        pt_calib (B, N), pt1, pt4 (B,) and the spline logits logit_pt1, logit_pt4."""
        et_dec, codes = self.quantise(images)
        e_pred, seg_w = self.denoiser(et_dec)
        out = dict(self.clusterer(e_pred))
        pt_calib = self.calibration(out["cluster_pt"], out["cluster_ieta"], out["valid"])
        ranked = tf.math.top_k(pt_calib, k=4, sorted=True).values
        out.update(et_dec=et_dec, codes=codes, seg_w=seg_w, et_pred=e_pred, pt_calib=pt_calib,
                   pt1=ranked[:, 0], pt4=ranked[:, 3])
        out["logit_pt1"] = self.spline_pt1(out["pt1"])
        out["logit_pt4"] = self.spline_pt4(out["pt4"])
        return out


def build_model(spec: Spec, derived: DerivedParams, seed: int) -> TriggerChain:
    """The model with its seeded initial parameters (identical for both training modes)."""
    tf.keras.utils.set_random_seed(seed)
    return TriggerChain(spec, derived, seed)

