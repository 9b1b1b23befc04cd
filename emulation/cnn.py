"""CNN pile-up denoiser, bit-accurate: depthwise 3x3 -> ReLU -> [features, log|eta|] -> 32 -> 32 -> 2 -> w.

Integer rules (SEMANTICS.md): sums and products are exact; each layer's exact accumulator is
ReLU'd and then requantised with `emulation.fixed.convert` (AP_RND, AP_SAT) to its activation
format. One numba kernel runs one event per task (events in parallel, prange); an event's
pixels are the rows of the three dense matrix products, which run as single-threaded BLAS
in float32 (or float64) when a per-bundle bound proves every partial sum exact (< 2**24, or
< 2**53), and as int64 loops otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
from numba.core import types
from numba.extending import overload
from threadpoolctl import ThreadpoolController

from emulation.bundle import DEPTH_MULTIPLIER, HIDDEN, CnnParams, FirmwareBundle
from emulation.exact import exact_type, sum_bound
from emulation.fixed import FixedFormat, convert


@dataclass(frozen=True)
class _Stage:
    """Requantisation of an accumulator into a format: shift and clamp bounds for `convert`."""

    shift: int
    lo: int
    hi: int
    width: int

    @classmethod
    def of(cls, acc_frac: int, fmt: FixedFormat) -> "_Stage":
        return cls(acc_frac - fmt.frac_bits, fmt.raw_min, fmt.raw_max, fmt.width)

    def args(self) -> tuple[int, int, int, int]:
        return self.shift, self.lo, self.hi, self.width


# Cells summed by each symmetric tap of the 3x3 kernel: centre, eta pair, phi pair, corners.
TAP_CELLS = (1, 2, 2, 4)


def _align(values: np.ndarray, from_frac: int, to_frac: int) -> np.ndarray:
    """Integers moved to a finer LSB (exact left shift)."""
    return np.asarray(values, dtype=np.int64) << (to_frac - from_frac)


@dataclass(frozen=True)
class _DenseLayer:
    """One dense layer as the kernel computes it: inputs bounded by x_max, bias at the accumulator's LSB."""

    x_max: np.ndarray  # (in,) largest |input| in the input LSB
    w: np.ndarray  # (in, out) raw weights
    b: np.ndarray  # (out,) bias aligned to the accumulator LSB
    acc_frac: int


def _dense_layers(f: dict[str, FixedFormat], c: CnnParams) -> tuple[int, np.ndarray, list[_DenseLayer]]:
    """(feature shift conv_act -> dense-1 input LSB, log|eta| at that LSB, the three dense layers)."""
    x_frac = max(f["conv_act"].frac_bits, f["log_eta"].frac_bits)
    acc1 = x_frac + f["dense_w"].frac_bits
    acc = f["dense_act"].frac_bits + f["dense_w"].frac_bits
    feat_shift = x_frac - f["conv_act"].frac_bits
    log_eta = _align(c.log_eta, f["log_eta"].frac_bits, x_frac)
    x1_max = np.array([f["conv_act"].raw_max << feat_shift] * (c.dense1_w.shape[0] - 1)
                      + [int(np.abs(log_eta).max())])
    act_max = np.full(c.dense2_w.shape[0], f["dense_act"].raw_max)
    b_frac = f["dense_b"].frac_bits
    layers = [_DenseLayer(x1_max, c.dense1_w, _align(c.dense1_b, b_frac, acc1), acc1),
              _DenseLayer(act_max, c.dense2_w, _align(c.dense2_b, b_frac, acc), acc),
              _DenseLayer(act_max, c.dense3_w, _align(c.dense3_b, b_frac, acc), acc)]
    return feat_shift, log_eta, layers


@dataclass(frozen=True)
class CnnBounds:
    """Largest |partial sum| of each CNN accumulator (in its LSB) for given weights: picks exact number types.

    The emulator and QAT training both choose their number types from these bounds with
    `emulation.exact.exact_type`, so a float32 path is only ever taken where it is exact.
    """

    depthwise: int  # 3x3 depthwise accumulator: sum over taps of |k| * largest tap sum, plus |bias|
    dense: int  # the largest of the three dense accumulators
    output: int  # sum over layers of seg_w * et_dec (E_pred before requantisation)

    @classmethod
    def of(cls, f: dict[str, FixedFormat], c: CnnParams) -> "CnnBounds":
        conv_frac = f["et_dec"].frac_bits + f["conv_w"].frac_bits
        tap_max = np.array(TAP_CELLS) * f["et_dec"].raw_max  # centre, eta pair, phi pair, corners
        k = np.abs(np.asarray(c.dw_kernel, dtype=np.int64))
        depthwise = (k * tap_max).sum(axis=-1) + np.abs(_align(c.dw_bias, f["conv_b"].frac_bits, conv_frac))
        _, _, layers = _dense_layers(f, c)
        n_layers = c.dw_kernel.shape[0]
        return cls(depthwise=int(depthwise.max()), dense=max(sum_bound(d.x_max, d.w, d.b) for d in layers),
                   output=n_layers * f["seg_w"].raw_max * f["et_dec"].raw_max)


@dataclass(frozen=True)
class CnnKernelParams:
    """The bundle's CNN constants, pre-aligned to each accumulator's LSB, plus the requantisation stages."""

    kernel: np.ndarray  # (L, 4, 4) taps
    conv_bias: np.ndarray  # (L, 4) at the conv accumulator LSB
    conv: _Stage
    feat_shift: int  # conv_act -> dense-1 input LSB
    log_eta: np.ndarray  # (H,) at the dense-1 input LSB
    w1: np.ndarray  # (n_in, 32), the bundle's (in, out) order: pixels @ w
    b1: np.ndarray
    d1: _Stage
    w2: np.ndarray  # (32, 32)
    b2: np.ndarray
    d2: _Stage
    w3: np.ndarray  # (32, L)
    b3: np.ndarray
    hs_frac: int  # dense-3 accumulator frac bits (hard sigmoid works at hs_frac + 1)
    seg: _Stage
    pred: _Stage

    @classmethod
    def of(cls, bundle: FirmwareBundle) -> "CnnKernelParams":
        """Pre-align the bundle's constants; the dense layers get the fastest exact number type."""
        f, c = bundle.formats, bundle.cnn
        conv_frac = f["et_dec"].frac_bits + f["conv_w"].frac_bits
        feat_shift, log_eta, (l1, l2, l3) = _dense_layers(f, c)
        # the bound covers every partial sum of every neuron, whatever summation order BLAS chooses
        dt = exact_type(CnnBounds.of(f, c).dense)
        return cls(
            kernel=c.dw_kernel.astype(np.int64),
            conv_bias=_align(c.dw_bias, f["conv_b"].frac_bits, conv_frac),
            conv=_Stage.of(conv_frac, f["conv_act"]),
            feat_shift=feat_shift,
            log_eta=log_eta.astype(dt),
            w1=np.ascontiguousarray(l1.w, dtype=dt),
            b1=l1.b.astype(dt),
            d1=_Stage.of(l1.acc_frac, f["dense_act"]),
            w2=np.ascontiguousarray(l2.w, dtype=dt),
            b2=l2.b.astype(dt),
            d2=_Stage.of(l2.acc_frac, f["dense_act"]),
            w3=np.ascontiguousarray(l3.w, dtype=dt),
            b3=l3.b.astype(dt),
            hs_frac=l3.acc_frac,
            seg=_Stage.of(l3.acc_frac + 1, f["seg_w"]),
            pred=_Stage.of(f["seg_w"].frac_bits + f["et_dec"].frac_bits, f["et_pred"]),
        )


def _matmul(a, b):  # pragma: no cover - replaced by the overload below inside numba
    raise NotImplementedError


@overload(_matmul, jit_options={"cache": True})
def _matmul_impl(a, b):
    """a @ b on (pixels, in) x (in, out): BLAS (numba's np.dot) for the float path, loops for int64."""
    if isinstance(a.dtype, types.Float):
        return lambda a, b: np.dot(a, b)

    def loops(a, b):
        out = np.zeros((a.shape[0], b.shape[1]), dtype=a.dtype)
        for p in range(a.shape[0]):
            for n in range(a.shape[1]):
                x = a[p, n]
                for h in range(b.shape[1]):
                    out[p, h] += x * b[n, h]
        return out

    return loops


@numba.njit(inline="always")
def _relu_requant(acc, b, st):
    """In place: acc[p, h] <- convert(ReLU(acc[p, h] + b[h])) into the activation format."""
    for p in range(acc.shape[0]):
        for h in range(acc.shape[1]):
            a = np.int64(acc[p, h] + b[h])
            if a < 0:
                a = 0
            acc[p, h] = convert(a, st[0], True, True, st[1], st[2], st[3])


@numba.njit(parallel=True, cache=True)
def _cnn_kernel(x, k, cb, conv, feat_shift, log_eta, w1, b1, d1, w2, b2, d2, w3, b3, hs_frac, seg_st, pred,
                keep, conv_out, h1_out, h2_out, acc3_out, seg_out, pred_out):
    n_ev, n_layers, n_eta, n_phi = x.shape
    n_conv = n_layers * 4
    for ev in numba.prange(n_ev):  # one event per task; its pixels are the rows of three matrix products
        # the image padded as the firmware sees it: zero rows beyond eta, columns wrapped in phi
        xp = np.zeros((n_layers, n_eta + 2, n_phi + 2), dtype=np.int64)
        for layer in range(n_layers):
            for i in range(n_eta):
                for j in range(n_phi):
                    xp[layer, i + 1, j + 1] = x[ev, layer, i, j]
                xp[layer, i + 1, 0] = x[ev, layer, i, n_phi - 1]
                xp[layer, i + 1, n_phi + 1] = x[ev, layer, i, 0]
        feats = np.empty((n_conv + 1, n_eta * n_phi), dtype=w1.dtype)  # (features, pixels)
        taps = np.empty((4, n_phi), dtype=np.int64)
        for i in range(n_eta):
            p0 = i * n_phi
            for j in range(n_phi):
                feats[n_conv, p0 + j] = log_eta[i]
            for layer in range(n_layers):
                up, row, dn = xp[layer, i], xp[layer, i + 1], xp[layer, i + 2]
                for j in range(n_phi):  # symmetric taps: centre, eta pair, phi pair, corners
                    taps[0, j] = row[j + 1]
                    taps[1, j] = up[j + 1] + dn[j + 1]
                    taps[2, j] = row[j] + row[j + 2]
                    taps[3, j] = up[j] + up[j + 2] + dn[j] + dn[j + 2]
                for m in range(4):
                    c = layer * 4 + m
                    k0, k1, k2, k3 = k[layer, m, 0], k[layer, m, 1], k[layer, m, 2], k[layer, m, 3]
                    for j in range(n_phi):
                        acc = cb[layer, m] + k0 * taps[0, j] + k1 * taps[1, j] + k2 * taps[2, j] + k3 * taps[3, j]
                        if acc < 0:
                            acc = 0
                        a = convert(acc, conv[0], True, True, conv[1], conv[2], conv[3])
                        feats[c, p0 + j] = a << feat_shift
                        if keep:
                            conv_out[ev, i, j, c] = a
        feats = feats.T  # (pixels, features), Fortran order: BLAS takes it as it is
        h1 = _matmul(feats, w1)
        _relu_requant(h1, b1, d1)
        h2 = _matmul(h1, w2)
        _relu_requant(h2, b2, d2)
        acc3 = _matmul(h2, w3)  # raw accumulator (bias added below)
        for i in range(n_eta):
            for j in range(n_phi):
                p = i * n_phi + j
                e_pred = 0
                for o in range(acc3.shape[1]):
                    a3 = np.int64(acc3[p, o] + b3[o])
                    # hard sigmoid clip(v/2 + 1/2, 0, 1) in units of 2**-(hs_frac + 1)
                    hs = a3 + (1 << hs_frac)
                    if hs < 0:
                        hs = 0
                    elif hs > (1 << (hs_frac + 1)):
                        hs = 1 << (hs_frac + 1)
                    wgt = convert(hs, seg_st[0], True, True, seg_st[1], seg_st[2], seg_st[3])
                    seg_out[ev, i, j, o] = wgt
                    e_pred += wgt * x[ev, o, i, j]
                    if keep:
                        acc3_out[ev, i, j, o] = a3
                pred_out[ev, i, j] = convert(e_pred, pred[0], True, True, pred[1], pred[2], pred[3])
                if keep:
                    for n in range(h1.shape[1]):
                        h1_out[ev, i, j, n] = np.int64(h1[p, n])
                        h2_out[ev, i, j, n] = np.int64(h2[p, n])


_BLAS: list[ThreadpoolController] = []


def _one_blas_thread():
    """Context in which BLAS runs single-threaded: the kernel's parallelism is one event per numba thread."""
    if not _BLAS:
        _BLAS.append(ThreadpoolController())
    return _BLAS[0].limit(limits=1, user_api="blas")


def denoise(bundle: FirmwareBundle, et_dec: np.ndarray, keep: bool = False) -> dict[str, np.ndarray]:
    """The CNN block on decoded images (B, L, H, W) -> et_pred (B, H, W) and seg_w (B, H, W, L).

    keep=True also returns conv_act, dense1_act, dense2_act (activations) and dense3_acc.
    """
    p = CnnKernelParams.of(bundle)
    x = np.ascontiguousarray(et_dec, dtype=np.int64)
    b, n_layers, h, w = x.shape
    full = (b, h, w) if keep else (1, 1, 1)
    conv_out = np.zeros(full + (n_layers * DEPTH_MULTIPLIER,), np.int64)
    h1 = np.zeros(full + (HIDDEN,), np.int64)
    h2 = np.zeros(full + (HIDDEN,), np.int64)
    acc3 = np.zeros(full + (n_layers,), np.int64)
    seg = np.empty((b, h, w, n_layers), np.int64)
    pred = np.empty((b, h, w), np.int64)
    with _one_blas_thread():
        _cnn_kernel(x, p.kernel, p.conv_bias, p.conv.args(), p.feat_shift, p.log_eta, p.w1, p.b1, p.d1.args(),
                    p.w2, p.b2, p.d2.args(), p.w3, p.b3, p.hs_frac, p.seg.args(), p.pred.args(),
                    keep, conv_out, h1, h2, acc3, seg, pred)
    out = {"et_pred": pred, "seg_w": seg}
    if keep:
        out.update(conv_act=conv_out, dense1_act=h1, dense2_act=h2, dense3_acc=acc3)
    return out
