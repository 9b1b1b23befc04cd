"""V3: hls4ml's conversion of the CNN (per-pixel form) against the emulator."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from codesign.build.events import synthetic_events
from codesign.bundles import random_bundle
from codesign.derived import derive
from codesign.hls.crosscheck import COMPARED, crosscheck, patch_kernel, patches
from codesign.paths import DEFAULT_SPEC
from codesign.spec import load_spec
from reference_chain import full_kernel
from helpers import require_compiler


@pytest.fixture(scope="module", autouse=True)
def compiler():
    require_compiler("hls4ml's C simulation")


@pytest.fixture(scope="module")
def derived():
    return derive(load_spec(DEFAULT_SPEC))


def test_patch_form_equals_the_symmetric_depthwise_kernel(derived):
    """The Dense(18 -> 8) on 3x3x2 patches computes the depthwise conv exactly (before hls4ml is involved)."""
    bundle = random_bundle(derived, 3)
    img = np.random.default_rng(0).integers(0, 3000, size=(1, 2, 50, 64))
    x, w = patches(img), patch_kernel(bundle.cnn.dw_kernel)
    acc = x @ w  # (pixels, 8) at the conv accumulator LSB (bias left out)
    for layer in range(2):
        padded = np.pad(img[0, layer], ((1, 1), (0, 0)))
        padded = np.concatenate([padded[:, -1:], padded, padded[:, :1]], axis=1)
        for m in range(4):
            k = full_kernel(bundle.cnn.dw_kernel[layer, m])
            want = sum(k[a, b] * padded[a:a + 50, b:b + 64] for a in range(3) for b in range(3))
            assert np.array_equal(acc[:, layer * 4 + m].reshape(50, 64), want)
    assert (w[:9, 4:] == 0).all() and (w[9:, :4] == 0).all()  # zero across layers


def test_matched_precisions_agree_bit_for_bit(derived, tmp_path):
    bundle = random_bundle(derived, 0)
    et = synthetic_events(2, 1, (2, 50, 64), bundle.formats["et_in"])  # an all-maximum event, an empty one
    et[1] = synthetic_events(3, 2, (2, 50, 64), bundle.formats["et_in"])[2]  # and a noisy one
    result = crosscheck(bundle, et, tmp_path / "hls4ml", mode="matched", max_pixels=1500, seed=0)
    assert result.pixels == 1500
    for name in COMPARED:
        a = result.agreement[name]
        assert (a.identical, a.max_lsb) == (1.0, 0), (name, a)


@pytest.mark.slow
def test_matched_full_events_random_and_saturating(derived, tmp_path):
    bundle = random_bundle(derived, 1)
    f = bundle.formats
    saturating = dataclasses.replace(bundle, cnn=dataclasses.replace(
        bundle.cnn, dw_kernel=np.full_like(bundle.cnn.dw_kernel, f["conv_w"].raw_max),
        dense1_w=np.full_like(bundle.cnn.dense1_w, f["dense_w"].raw_max),
        dense3_b=np.full_like(bundle.cnn.dense3_b, f["dense_b"].raw_max)))
    et = synthetic_events(10, 5, (2, 50, 64), f["et_in"])
    for name, b in (("random", bundle), ("saturating", saturating)):
        result = crosscheck(b, et, tmp_path / name, mode="matched")
        assert result.pixels == 10 * 3200
        assert all((a.identical, a.max_lsb) == (1.0, 0) for a in result.agreement.values()), result


@pytest.mark.slow
def test_hls4ml_defaults_differ(derived, tmp_path):
    """Unconfigured, hls4ml computes something else (ap_fixed<16,6> truncating activations, wrapping
    inputs above 32 GeV, a QKeras sigmoid that cannot reach 1.0): the check can tell."""
    bundle = random_bundle(derived, 0)
    et = synthetic_events(3, 0, (2, 50, 64), bundle.formats["et_in"])
    result = crosscheck(bundle, et, tmp_path / "defaults", mode="defaults", max_pixels=3000)
    assert result.agreement["seg_w"].identical < 0.9 and result.agreement["conv_act"].max_lsb > 0
