"""The fast training step stays the firmware's arithmetic: number types chosen by the shared exactness
bound, the XLA-compiled forward against the emulator, the sparse backward against the dense one, and the
learning-rate schedule in steps."""

from __future__ import annotations

import numpy as np
import pytest

from codesign.build.events import synthetic_events
from codesign.derived import derive
from codesign.paths import DEFAULT_SPEC
from codesign.spec import load_spec
from codesign.train.bundle_of_model import cnn_params, model_bundle
from codesign.train.cnn import CnnTypes, dense_accumulator
from codesign.train.config import PRESETS, TrainConfig, learning_rate, summed_learning_rate
from codesign.train.evaluate import Agreement, model_raw
from codesign.train.model import GROUPS, build_model
from codesign.train.tf_setup import DTYPE, tf
from emulation import exact
from emulation.bundle import Provenance
from emulation.chain import run_chain
from emulation.cnn import CnnBounds
from emulation.fixed import to_float


@pytest.fixture(scope="module")
def derived():
    return derive(load_spec(DEFAULT_SPEC))


@pytest.fixture(scope="module")
def model(derived):
    return build_model(load_spec(DEFAULT_SPEC), derived, seed=5)


def _bundle(model, derived, thresholds=(20000, 3000)):
    prov = Provenance(spec_name=derived.spec_name, spec_hash=derived.spec_hash, codesign_version="test", seed=5,
                      source="export")
    return model_bundle(model, derived, np.array(thresholds), prov)


# --------------------------------------------------------------------------- number types


def test_exact_type_thresholds():
    assert exact.exact_type(2**24 - 1) is np.float32 and exact.exact_type(2**24) is np.float64
    assert exact.exact_type(2**53 - 1) is np.float64 and exact.exact_type(2**53) is np.int64


def test_dense_accumulator_type_follows_the_bound(model, derived):
    """Dense-1 weights whose partial sums pass 2^24 with an odd total: only an exact type can hold it.

    The shared bound must then pick float64, which equals the int64 reference; float32 cannot (an odd
    integer above 2^24 has no float32), so a float32 path let past its bound fails this test.
    """
    f = derived.formats
    layer = model.denoiser.dense1
    saved = layer.kernel.numpy()
    try:
        w_raw = np.zeros(saved.shape, np.int64)
        w_raw[:-1, 0] = 511  # every depthwise feature
        w_raw[-1, 0] = 1  # log|eta|
        layer.kernel.assign(to_float(w_raw, f["dense_w"]))
        shift = max(f["conv_act"].frac_bits, f["log_eta"].frac_bits) - f["conv_act"].frac_bits
        row = int(np.flatnonzero(derived.log_abs_eta_raw % 2)[0])  # an odd log|eta|
        x_raw = np.array([[f["conv_act"].raw_max] * (saved.shape[0] - 1) + [int(derived.log_abs_eta_raw[row])]])
        x = np.concatenate([to_float(x_raw[:, :-1], f["conv_act"]), to_float(x_raw[:, -1:], f["log_eta"])], axis=1)
        b_raw = layer.bias_quantizer_internal(layer.bias).numpy() * 2.0 ** f["dense_b"].frac_bits
        acc_frac = f["log_eta"].frac_bits + f["dense_w"].frac_bits
        want = (np.concatenate([x_raw[:, :-1] << shift, x_raw[:, -1:]], axis=1) @ w_raw
                + (b_raw.astype(np.int64) << (acc_frac - f["dense_b"].frac_bits)))
        assert abs(want[0, 0]) >= 2**24 and want[0, 0] % 2 == 1
        types = CnnTypes.of(f, cnn_params(model, derived))
        assert CnnBounds.of(f, cnn_params(model, derived)).dense >= 2**24 and types.dense == tf.float64
        quantised = (layer.kernel_quantizer_internal(layer.kernel), layer.bias_quantizer_internal(layer.bias))
        got = {t: np.ldexp(dense_accumulator(tf.constant(x, t), *quantised, t).numpy().astype(np.float64), acc_frac)
               for t in (types.dense, tf.float32)}
        assert np.array_equal(got[types.dense], want)
        assert not np.array_equal(got[tf.float32], want)
    finally:
        layer.kernel.assign(saved)
    assert CnnTypes.of(f, cnn_params(model, derived)).dense == tf.float32  # the seeded weights: well below 2^24


def test_worst_case_types_come_from_the_formats(model, derived):
    worst = model.denoiser.worst_types
    assert worst == CnnTypes(tf.float64, tf.float64, tf.float64)  # 29-bit dense-1, 32-bit depthwise accumulators


# --------------------------------------------------------------------------- compiled forward = emulator


def test_compiled_forward_equals_emulator(model, derived):
    """The XLA forward of training's evaluation steps (CNN in event groups) on saturating, empty, pile-up-like
    events and on images with many equal neighbours: every tensor bit-identical to the emulator."""
    et_in = derived.formats["et_in"]
    raw = synthetic_events(20, 9, (2, derived.eta_bins, derived.phi_bins), et_in)
    ties = np.random.default_rng(4).integers(0, 3, size=(19, 2, derived.eta_bins, derived.phi_bins)) * 256
    raw = np.concatenate([raw, ties])  # 39 events: not a whole number of CNN groups
    bundle = _bundle(model, derived)
    forward = model.evaluation_forward()
    out = model_raw({k: v.numpy() for k, v in forward(to_float(raw, et_in).astype(np.float32)).items()}, bundle)
    agreement = Agreement()
    agreement.add(out, run_chain(bundle, raw, keep=True))
    report = agreement.report()
    assert all(r["fraction_identical"] == 1.0 for r in report.values()), report


def test_compiled_quantiser_on_every_raw_input(model, derived):
    et_in = derived.formats["et_in"]
    raw = np.arange(et_in.raw_max + 1, dtype=np.int64).reshape(1, 256, 256)
    codes = tf.function(lambda r: model.quantisers[1](r)[1], jit_compile=True)(tf.constant(raw, tf.int32))
    bundle = _bundle(model, derived)
    want = np.searchsorted(bundle.quantiser.thresholds[1], raw, side="right")
    assert np.array_equal(codes.numpy(), want)


# --------------------------------------------------------------------------- sparse backward = dense backward


def test_selected_windows_give_the_dense_gradient(model, derived):
    """The end-to-end step recomputes the CNN under the selected clusters' windows only: same values, and
    the same gradient for every quantiser and CNN parameter as the chain run densely with surrogates."""
    rng = np.random.default_rng(6)
    images = rng.exponential(0.6, size=(6, 2, derived.eta_bins, derived.phi_bins)).astype(np.float32)
    images[:, :, 10:13, 20:23] += 40.0
    images[:, :, 0, 5] += 30.0  # a cluster at the edge row: windows reaching beyond eta
    images = tf.constant(images)
    types = model.cnn_types()
    weight = tf.constant(rng.normal(size=(6, derived.n_clusters)), DTYPE)
    variables = model.group("quantiser") + model.group("cnn")

    with tf.GradientTape() as tape:
        dense = model.forward(images, types, frozenset(GROUPS))
        dense_loss = tf.reduce_sum(tf.cast(dense["cluster_pt"], DTYPE) * weight)
    dense_grads = tape.gradient(dense_loss, variables)

    hard = model.forward(images, types)
    with tf.GradientTape() as tape:
        pt = model.selected_cluster_pt(images, hard, types)
        sparse_loss = tf.reduce_sum(tf.cast(pt, DTYPE) * weight)
    sparse_grads = tape.gradient(sparse_loss, variables)

    assert np.array_equal(pt.numpy(), hard["cluster_pt"].numpy())
    assert np.array_equal(dense["cluster_pt"].numpy(), hard["cluster_pt"].numpy())
    for v, g_dense, g_sparse in zip(variables, dense_grads, sparse_grads):
        assert g_dense is not None and g_sparse is not None, v.name
        scale = float(np.abs(g_dense.numpy()).max()) or 1.0
        np.testing.assert_allclose(g_sparse.numpy(), g_dense.numpy(), rtol=1e-4, atol=1e-5 * scale,
                                   err_msg=v.name)
    assert any(float(np.abs(g.numpy()).max()) > 0 for g in sparse_grads)


def test_seg_gradient_leak_changes_only_the_backward(model, derived):
    """--seg-gradient-leak: the same forward bit for bit, and a gradient from pixels outside the hard
    sigmoid's band, which the paper's hard sigmoid (leak 0) leaves at exactly zero."""
    rng = np.random.default_rng(8)
    images = rng.exponential(0.6, size=(2, derived.n_layers, derived.eta_bins, derived.phi_bins)).astype(np.float32)
    images[:, :, 10:13, 20:23] += 200.0  # large activations: the last layer leaves the band [-1, 1]
    et = tf.transpose(tf.constant(images), [0, 2, 3, 1])
    types = model.cnn_types()
    variables = model.group("cnn")
    out = {}
    try:
        for leak in (0.0, 0.25):
            model.denoiser.seg_gradient_leak = leak
            with tf.GradientTape() as tape:
                e_pred, w = model.denoiser(et, types)
                loss = tf.reduce_sum(tf.cast(e_pred, DTYPE))
            out[leak] = (e_pred.numpy(), w.numpy(), [g.numpy() for g in tape.gradient(loss, variables)])
    finally:
        model.denoiser.seg_gradient_leak = 0.0
    assert np.array_equal(out[0.0][0], out[0.25][0]) and np.array_equal(out[0.0][1], out[0.25][1])
    w = out[0.0][1]
    assert ((w == 0) | (w == 1)).any(), "no pixel outside the band: the test would not see the leak"
    assert any(not np.array_equal(a, b) for a, b in zip(out[0.0][2], out[0.25][2]))


def test_chunked_cnn_gradient_equals_the_whole_image_one(model, derived):
    """The CNN stage's loss in pixel groups (padding included: 3 events x 3,200 pixels are no multiple of
    1,000) gives the whole-image sum of squares and gradient; with a wrong target it does not."""
    rng = np.random.default_rng(9)
    images = rng.exponential(0.6, size=(3, derived.n_layers, derived.eta_bins, derived.phi_bins)).astype(np.float32)
    images[:, :, 10:13, 20:23] += 40.0
    et = tf.transpose(tf.constant(images), [0, 2, 3, 1])
    target = tf.constant(0.7 * images.sum(axis=1))
    types = model.cnn_types()
    variables = model.denoiser.trainable_variables
    with tf.GradientTape() as tape:
        e_pred, _ = model.denoiser(et, types)
        want = tf.reduce_sum(tf.square(tf.cast(e_pred, DTYPE) - tf.cast(target, DTYPE)))
    want_grads = tape.gradient(want, variables)
    got, grads = tf.function(lambda e, t: model.denoiser.squared_error(e, t, types, chunk=1000))(et, target)
    assert float(got) == pytest.approx(float(want), rel=1e-12)
    for g, w, v in zip(grads, want_grads, variables):
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-4, atol=1e-6 * float(np.abs(w.numpy()).max()),
                                   err_msg=v.name)
    wrong, _ = model.denoiser.squared_error(et, target + 1.0, types, chunk=1000)
    assert float(wrong) != pytest.approx(float(want), rel=1e-6)


@pytest.mark.parametrize("shares", [1, 2, 3])
def test_shares_equal_one_computation(model, derived, shares):
    """Event shares run as separate XLA computations: concatenated forwards are bit-identical to one
    forward over the batch, summed squared errors equal the whole batch's."""
    from codesign.train.shares import run_shares

    rng = np.random.default_rng(10)
    images = rng.exponential(0.6, size=(5, derived.n_layers, derived.eta_bins, derived.phi_bins)).astype(np.float32)
    x = tf.constant(images)
    types = model.cnn_types()
    forward = tf.function(lambda im: model.forward(im, types, chunked=True), jit_compile=True)
    whole = forward(x)
    split = tf.function(lambda im: run_shares(forward, [im], shares, "concat"))(x)
    for key in ("et_dec", "et_pred", "cluster_pt", "pt_calib", "pt1", "pt4"):
        assert np.array_equal(whole[key].numpy(), split[key].numpy()), key
    et, target = whole["et_dec"], tf.reduce_sum(x, axis=1)
    squares = tf.function(lambda e, t: model.denoiser.squared_error(e, t, types)[0], jit_compile=True)
    total = tf.function(lambda e, t: run_shares(squares, [e, t], shares, "sum"))(et, target)
    assert float(total) == pytest.approx(float(squares(et, target)), rel=1e-12)
    with pytest.raises(ValueError, match="combine"):
        run_shares(squares, [et, target], shares, "mean")


# --------------------------------------------------------------------------- schedules in steps


def test_schedule_in_steps():
    paper = PRESETS["paper"]
    assert (paper.steps, paper.halving_steps) == (2_812_500, 703_125)  # 1000 epochs of 360k events, halved every 250
    cfg = TrainConfig(spec="s", data="d", mode="e2e", preset="small")
    assert cfg.schedule(72_000) == PRESETS["small"]
    assert TrainConfig(spec="s", data="d", mode="e2e", steps=100).schedule(10**6).halving_steps == 25
    assert TrainConfig(spec="s", data="d", mode="e2e", epochs=3, batch_size=10).schedule(95).steps == 30
    assert TrainConfig(spec="s", data="d", mode="e2e", steps=100, lr_halving_steps=7).schedule(1).halving_steps == 7
    for steps, halving in ((1, 1), (10, 3), (600, 150), (1000, 150)):
        want = sum(learning_rate(s, halving) for s in range(steps))
        assert summed_learning_rate(steps, halving) == pytest.approx(want, rel=1e-12)
    assert learning_rate(149, 150) == 1e-3 and learning_rate(150, 150) == 5e-4
