"""V3: the CNN converted by hls4ml (an independent implementation) against the emulator.

hls4ml 1.3's io_parallel depthwise convolution asserts a depth multiplier of 1, so the CNN is
expressed in an equivalent form it supports: the per-pixel network on the 3x3x2 patch around the
pixel (cyclic phi, zero eta padding, gathered in numpy) plus log|eta|. The symmetric depthwise
kernel becomes a Dense(18 -> 8) whose weights are the kernel taps, zero across layers; then ReLU,
concatenation with log|eta|, Dense 32 ReLU, Dense 32 ReLU, Dense 2 and QKeras' hard sigmoid
(hls4ml's HardActivation, slope = shift = 1/2). Weights are the bundle's integers; every layer
gets the bundle's ap_fixed precision ("matched") or hls4ml's own defaults ("defaults", which
shows what an unconfigured conversion would compute). E_pred is formed from hls4ml's seg_w
with the SEMANTICS rule.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from codesign.derived import union_format
from codesign.hls.hls_types import OVERFLOW, REQUANTISED, ROUNDING
from emulation.bundle import DEPTH_MULTIPLIER, FirmwareBundle
from emulation.chain import run_chain
from emulation.fixed import FixedFormat, from_float, requantize, to_float

# Tap group of each 3x3 position (d_eta, d_phi) of the symmetric kernel (SEMANTICS.md section 4).
_TAP = {(0, 0): 0, (-1, 0): 1, (1, 0): 1, (0, -1): 2, (0, 1): 2}
COMPARED = ("conv_act", "dense1_act", "dense2_act", "seg_w", "et_pred")


@dataclass(frozen=True)
class Agreement:
    """Agreement of one tensor: fraction of identical raw values and the largest difference in LSB."""

    values: int
    identical: float
    max_lsb: int


@dataclass(frozen=True)
class CrossCheck:
    """Result of one hls4ml cross-check."""

    mode: str
    pixels: int
    agreement: dict[str, Agreement]
    hls4ml_s: float  # conversion, compilation and C simulation (wall clock, not reproducible)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def patches(et_dec: np.ndarray) -> np.ndarray:
    """(pixels, L*9) 3x3 neighbourhoods of every pixel of (B, L, H, W) images, layer-major, row-major."""
    b, n_layers, h, w = et_dec.shape
    padded = np.zeros((b, n_layers, h + 2, w + 2), dtype=np.int64)
    padded[:, :, 1:-1, 1:-1] = et_dec
    padded[:, :, 1:-1, 0] = et_dec[:, :, :, -1]  # phi is cyclic
    padded[:, :, 1:-1, -1] = et_dec[:, :, :, 0]
    cols = [padded[:, :, 1 + de:h + 1 + de, 1 + dp:w + 1 + dp] for de in (-1, 0, 1) for dp in (-1, 0, 1)]
    stacked = np.stack(cols, axis=2)  # (B, L, 9, H, W)
    return stacked.transpose(0, 3, 4, 1, 2).reshape(b * h * w, n_layers * 9)


def patch_kernel(dw_kernel: np.ndarray) -> np.ndarray:
    """Raw Dense weights (L*9, L*DM) equivalent to the symmetric depthwise kernel; zero across layers."""
    n_layers = dw_kernel.shape[0]
    w = np.zeros((n_layers * 9, n_layers * DEPTH_MULTIPLIER), dtype=np.int64)
    for l in range(n_layers):
        for pos, (de, dp) in enumerate((de, dp) for de in (-1, 0, 1) for dp in (-1, 0, 1)):
            tap = _TAP.get((de, dp), 3)
            w[l * 9 + pos, l * DEPTH_MULTIPLIER:(l + 1) * DEPTH_MULTIPLIER] = dw_kernel[l, :, tap]
    return w


def _hls_precision(fmt: FixedFormat, requantised: bool = False) -> str:
    base = f"{'' if fmt.signed else 'u'}fixed<{fmt.width},{fmt.int_bits}"
    return base + (f",{ROUNDING.value[3:]},{OVERFLOW.value[3:]}>" if requantised else ">")


def layer_precisions(bundle: FirmwareBundle) -> dict[str, dict[str, str]]:
    """hls4ml per-layer precisions equal to the bundle's formats (ReLU/sigmoid outputs with AP_RND + AP_SAT)."""
    f = bundle.formats
    p = {k: _hls_precision(v, k in REQUANTISED) for k, v in f.items()}
    dense = lambda acc: {"weight": p["dense_w"], "bias": p["dense_b"], "accum": p[acc], "result": p[acc]}  # noqa: E731
    return {
        "patch": {"result": p["et_dec"]},
        "log_eta": {"result": p["log_eta"]},
        "conv": {"weight": p["conv_w"], "bias": p["conv_b"], "accum": p["conv_acc"], "result": p["conv_acc"]},
        "conv_relu": {"result": p["conv_act"]},
        "features": {"result": _hls_precision(union_format(f["conv_act"], f["log_eta"]))},
        "dense1": dense("dense1_acc"),
        "dense1_relu": {"result": p["dense_act"]},
        "dense2": dense("dense_acc"),
        "dense2_relu": {"result": p["dense_act"]},
        "dense3": dense("dense_acc"),
        "dense3_linear": {"result": p["dense_acc"]},
        "seg_w": {"result": p["seg_w"], "slope": "ufixed<2,0>", "shift": "ufixed<2,0>"},
    }


def keras_model(bundle: FirmwareBundle):
    """The per-pixel CNN as a Keras 2 model with the bundle's weights (exact: raw * 2**-F in float32)."""
    import keras  # Keras 2.15, the one QKeras and hls4ml 1.3 use
    from qkeras import QActivation

    f, c = bundle.formats, bundle.cnn
    n_layers = bundle.geometry.n_layers
    patch = keras.Input((n_layers * 9,), name="patch")
    log_eta = keras.Input((1,), name="log_eta")
    x = keras.layers.Dense(n_layers * DEPTH_MULTIPLIER, activation="relu", name="conv")(patch)
    x = keras.layers.Concatenate(name="features")([x, log_eta])
    x = keras.layers.Dense(c.dense1_w.shape[1], activation="relu", name="dense1")(x)
    x = keras.layers.Dense(c.dense2_w.shape[1], activation="relu", name="dense2")(x)
    x = keras.layers.Dense(c.dense3_w.shape[1], name="dense3")(x)
    x = QActivation(f"quantized_sigmoid({f['seg_w'].width})", name="seg_w")(x)
    model = keras.Model([patch, log_eta], x)
    weights = {"conv": (patch_kernel(c.dw_kernel), f["conv_w"], c.dw_bias.reshape(-1), f["conv_b"]),
               "dense1": (c.dense1_w, f["dense_w"], c.dense1_b, f["dense_b"]),
               "dense2": (c.dense2_w, f["dense_w"], c.dense2_b, f["dense_b"]),
               "dense3": (c.dense3_w, f["dense_w"], c.dense3_b, f["dense_b"])}
    for name, (w, wf, b, bf) in weights.items():
        model.get_layer(name).set_weights([to_float(w, wf).astype(np.float32), to_float(b, bf).astype(np.float32)])
    return model


def convert(bundle: FirmwareBundle, out_dir: Path, mode: str = "matched", part: str = "xcvu13p-flga2577-2-e"):
    """hls4ml io_parallel conversion of the per-pixel CNN, ReLU outputs traced (`trace` compiles it)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import hls4ml

    model = keras_model(bundle)
    config = hls4ml.utils.config_from_keras_model(model, granularity="name", backend="Vivado")
    if mode == "matched":
        for layer, precisions in layer_precisions(bundle).items():
            config["LayerName"][layer]["Precision"].update(precisions)
    elif mode != "defaults":
        raise ValueError(f"mode {mode!r}: expected 'matched' or 'defaults'")
    for layer in ("conv_relu", "dense1_relu", "dense2_relu"):
        config["LayerName"][layer]["Trace"] = True
    return hls4ml.converters.convert_from_keras_model(model, hls_config=config, output_dir=str(out_dir),
                                                      backend="Vivado", io_type="io_parallel", part=part)


def _agreement(want: np.ndarray, got: np.ndarray) -> Agreement:
    diff = np.abs(want.astype(np.int64) - got.astype(np.int64))
    return Agreement(values=int(want.size), identical=float((diff == 0).mean()), max_lsb=int(diff.max()))


def crosscheck(bundle: FirmwareBundle, et_in: np.ndarray, out_dir: Path, mode: str = "matched",
               max_pixels: int | None = None, seed: int = 0) -> CrossCheck:
    """Compare hls4ml's C simulation of the CNN with the emulator on every pixel of the events
    (or `max_pixels` of them, drawn with `seed`)."""
    f = bundle.formats
    ref = run_chain(bundle, et_in, keep=True)
    et_dec = np.asarray(ref["et_dec"])
    x = patches(et_dec)
    rows = np.broadcast_to(np.arange(et_dec.shape[2])[None, :, None], et_dec.shape[:1] + et_dec.shape[2:]).reshape(-1)
    centre = et_dec.transpose(0, 2, 3, 1).reshape(-1, et_dec.shape[1])
    want = {k: np.asarray(ref[k]).reshape(len(x), -1) for k in COMPARED}  # per pixel, in raster order
    if max_pixels is not None and max_pixels < len(x):
        pick = np.sort(np.random.default_rng(seed).choice(len(x), max_pixels, replace=False))
        x, rows, centre = x[pick], rows[pick], centre[pick]
        want = {k: v[pick] for k, v in want.items()}

    t0 = time.perf_counter()
    hls_model = convert(bundle, Path(out_dir), mode)
    inputs = [np.ascontiguousarray(to_float(x, f["et_dec"]), dtype=np.float32),
              np.ascontiguousarray(to_float(bundle.cnn.log_eta[rows], f["log_eta"]).reshape(-1, 1), dtype=np.float32)]
    seg, trace = hls_model.trace(inputs)
    hls4ml_s = time.perf_counter() - t0
    got = {"conv_act": from_float(trace["conv_relu"], f["conv_act"]),
           "dense1_act": from_float(trace["dense1_relu"], f["dense_act"]),
           "dense2_act": from_float(trace["dense2_relu"], f["dense_act"]),
           "seg_w": from_float(np.asarray(seg).reshape(len(x), -1), f["seg_w"])}
    # E_pred from hls4ml's weights, by the SEMANTICS rule (exact sum, then AP_RND + AP_SAT)
    pred_frac = f["seg_w"].frac_bits + f["et_dec"].frac_bits
    got["et_pred"] = requantize((got["seg_w"] * centre).sum(axis=1), pred_frac, f["et_pred"], ROUNDING,
                                OVERFLOW).reshape(-1, 1)
    agreement = {k: _agreement(want[k], got[k]) for k in COMPARED}
    return CrossCheck(mode=mode, pixels=int(len(x)), agreement=agreement, hls4ml_s=round(hls4ml_s, 1))
