"""The whole trigger chain as one Keras model: quantisers -> CNN -> clusterer -> calibration -> trigger.

Its forward is the firmware's (bit for bit on the exported bundle); its gradients are the
blocks' surrogates, computed only for the blocks being trained. Sizes and formats all
come from the spec's derived parameters; the CNN's number types from the current weights.
"""

from __future__ import annotations

from typing import Callable

from codesign.derived import DerivedParams
from codesign.spec import Spec
from codesign.train.bundle_of_model import cnn_params
from codesign.train.calibration import MonotoneCalibration
from codesign.train.clusterer import ConeClusterer
from codesign.train.cnn import CnnTypes, CnnWeights, Denoiser, tap_sums
from codesign.train.fixed_tf import straight_through
from codesign.train.quantiser import LearnableQuantiser, digitise
from codesign.train.shares import run_shares
from codesign.train.splines import TriggerSpline
from codesign.train.tf_setup import DTYPE, SHARES, tf

# Variable groups trained by each stage (the splines only matter to the end-to-end loss).
GROUPS = ("quantiser", "cnn", "calibration", "trigger")


class TriggerChain(tf.keras.Model):
    """Images (B, L, H, W) in GeV -> every tensor of the chain (see `call`)."""

    def __init__(self, spec: Spec, derived: DerivedParams, seed: int) -> None:
        super().__init__(name="trigger_chain", dtype=DTYPE, autocast=False)
        f = derived.formats
        self.derived = derived
        self.quantisers = [LearnableQuantiser(derived.levels, f["et_in"], f["et_dec"], name=f"quantiser_{layer}")
                           for layer in spec.detector.layers]
        self.denoiser = Denoiser(derived, seed, name="denoiser")
        self.clusterer = ConeClusterer(derived, name="clusterer")
        self.calibration = MonotoneCalibration(derived, spec.detector.eta_max, seed + 10, name="calibration")
        self.spline_pt1 = TriggerSpline(name="spline_pt1")
        self.spline_pt4 = TriggerSpline(name="spline_pt4")
        self.digitise_format = f["et_in"]
        self._quantised_cnn_weights = tf.function(self.denoiser.quantised_weights)
        self(tf.zeros((1, derived.n_layers, derived.eta_bins, derived.phi_bins), tf.float32))  # marks it built

    def group(self, name: str) -> list[tf.Variable]:
        """Trainable variables of one block group (GROUPS)."""
        layers = {"quantiser": self.quantisers, "cnn": [self.denoiser], "calibration": [self.calibration],
                  "trigger": [self.spline_pt1, self.spline_pt4]}[name]
        return [v for layer in layers for v in layer.trainable_variables]

    def quantised_cnn_weights(self) -> CnnWeights:
        """The CNN's quantised weights, as its forward uses them (one compiled call: read every step)."""
        return self._quantised_cnn_weights()

    def cnn_types(self) -> CnnTypes:
        """The CNN's exact number types for the current weights (read eagerly; a step is compiled per result)."""
        return CnnTypes.of(self.derived.formats, cnn_params(self, self.derived))

    def raw_input(self, images: tf.Tensor) -> tf.Tensor:
        """Images (B, L, H, W) in GeV -> raw et_in (B, H, W, L) int32, channels last."""
        return tf.transpose(digitise(images, self.digitise_format), [0, 2, 3, 1])

    def quantise_raw(self, raw: tf.Tensor, soft: bool = False) -> tuple[tf.Tensor, tf.Tensor]:
        """Raw et_in (B, H, W, L) -> (decoded E_T GeV float32, codes), channels last."""
        outs = [q(raw[..., i], soft) for i, q in enumerate(self.quantisers)]
        return tf.stack([o[0] for o in outs], axis=-1), tf.stack([o[1] for o in outs], axis=-1)

    def quantise(self, images: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Images (B, L, H, W) GeV -> (decoded E_T (B, L, H, W) GeV, codes (B, L, H, W)): the firmware's encoder and decoder."""
        et_dec, codes = self.quantise_raw(self.raw_input(images))
        return tf.transpose(et_dec, [0, 3, 1, 2]), tf.transpose(codes, [0, 3, 1, 2])

    def regularisers(self) -> tf.Tensor:
        return tf.add_n([q.regulariser() for q in self.quantisers])

    def curvature_penalties(self) -> tf.Tensor:
        return self.spline_pt1.curvature_penalty() + self.spline_pt4.curvature_penalty()

    def trigger_outputs(self, clusters: dict[str, tf.Tensor], soft_calibration: bool = False
                        ) -> dict[str, tf.Tensor]:
        """Clusters -> calibrated pT, pT1, pT4 and the spline logits (added to a copy of `clusters`)."""
        out = dict(clusters)
        pt_calib = self.calibration(out["cluster_pt"], out["cluster_ieta"], out["valid"], soft_calibration)
        ranked = tf.math.top_k(pt_calib, k=4, sorted=True).values
        out.update(pt_calib=pt_calib, pt1=ranked[:, 0], pt4=ranked[:, 3])
        out["logit_pt1"] = self.spline_pt1(out["pt1"])
        out["logit_pt4"] = self.spline_pt4(out["pt4"])
        return out

    def forward(self, images: tf.Tensor, types: CnnTypes, trained: frozenset[str] = frozenset(),
                chunked: bool = False) -> dict[str, tf.Tensor]:
        """The whole chain on images (B, L, H, W) GeV with the CNN in `types`.

        Surrogate gradients only where a trained group (GROUPS) lies at or upstream of a block;
        chunked: the CNN runs a few events at a time (forward only, faster). Tensors are channels
        last: et_dec, codes, seg_w (B, H, W, L).
        """
        soft_q = "quantiser" in trained
        soft_seeds = soft_q or "cnn" in trained
        et_dec, codes = self.quantise_raw(self.raw_input(images), soft_q)
        e_pred, seg_w = self.denoiser.chunked(et_dec, types) if chunked else self.denoiser(et_dec, types)
        out = self.trigger_outputs(self.clusterer(e_pred, soft_seeds), soft_seeds or "calibration" in trained)
        out.update(et_dec=et_dec, codes=codes, seg_w=seg_w, et_pred=e_pred)
        return out

    def selected_cluster_pt(self, images: tf.Tensor, hard: dict[str, tf.Tensor], types: CnnTypes) -> tf.Tensor:
        """The hard forward's cluster pT (B, N), carrying the gradient of every block upstream of it.

        The loss sees the chain only through the selected clusters, so the CNN is recomputed (on
        the quantisers' surrogate) on the pixels under their windows alone: the tap sums of the
        whole image are gathered at those pixels. The recomputed values equal the hard ones;
        straight-through keeps the forward exactly the hard forward's.
        """
        c = self.clusterer
        et_dec, _ = self.quantise_raw(self.raw_input(images), soft=True)
        b, h, w, n_layers = tf.shape(et_dec)[0], et_dec.shape[1], et_dec.shape[2], et_dec.shape[3]
        rows = hard["cluster_ieta"][:, :, None] + c.cell_eta  # (B, N, K) window cells, centre first
        cols = tf.math.floormod(hard["cluster_iphi"][:, :, None] + c.cell_phi, w)
        inside = tf.cast((rows >= 0) & (rows < h), tf.float32)  # no rows beyond eta: they add nothing
        taps = tf.reshape(tap_sums(et_dec), [b, h * w, n_layers, 4])
        pixel = tf.reshape(tf.clip_by_value(rows, 0, h - 1) * w + cols, [b, -1])
        taps = tf.reshape(tf.gather(taps, pixel, batch_dims=1), [-1, n_layers, 4])
        log_eta = tf.reshape(tf.gather(self.denoiser.log_eta, tf.clip_by_value(rows, 0, h - 1)), [-1])
        e, _ = self.denoiser.pixels(taps, log_eta, taps[..., 0], types)
        e = tf.reshape(e, tf.shape(rows)) * inside
        pt = straight_through(hard["cluster_pt"], c.selected_pt(e))
        return tf.where(hard["valid"], pt, 0.0)

    def call(self, images: tf.Tensor) -> dict[str, tf.Tensor]:
        """Keys: et_dec, codes, seg_w (B, L, H, W: channels first as the data), et_pred, seeds (B, H, W),
        cluster_pt/ieta/iphi, valid, pt_calib (B, N), n_clusters, pt1, pt4 (B,), logit_pt1, logit_pt4.

        Eagerly the CNN runs in the exact types of the current weights; traced, in the spec's worst-case types.
        """
        types = self.cnn_types() if tf.executing_eagerly() else self.denoiser.worst_types
        return channels_first(self.forward(images, types))

    def evaluation_forward(self) -> Callable[[tf.Tensor], dict[str, tf.Tensor]]:
        """`call` as training's evaluation steps run it: compiled with XLA over concurrent event shares, CNN in
        groups of events, in the current weights' exact types (read now: build it again after the weights change)."""
        types = self.cnn_types()
        d = self.derived
        forward = tf.function(lambda x: channels_first(self.forward(x, types, chunked=True)), jit_compile=True)
        return tf.function(lambda x: run_shares(forward, [x], SHARES, "concat"),
                           input_signature=[tf.TensorSpec((None, d.n_layers, d.eta_bins, d.phi_bins), tf.float32)])


def channels_first(out: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    """The forward's outputs with et_dec and codes as (B, L, H, W), the layout of the data and the emulator."""
    return {k: tf.transpose(v, [0, 3, 1, 2]) if k in ("et_dec", "codes") else v for k, v in out.items()}


def build_model(spec: Spec, derived: DerivedParams, seed: int) -> TriggerChain:
    """The model with its seeded initial parameters (identical for both training modes)."""
    tf.keras.utils.set_random_seed(seed)
    return TriggerChain(spec, derived, seed)
