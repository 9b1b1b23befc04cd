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

from emulation.bundle import DEPTH_MULTIPLIER, HIDDEN, FirmwareBundle
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


def _sum_bound(x_max: np.ndarray, w: np.ndarray, b: np.ndarray) -> int:
    """Largest |partial sum| any neuron of x @ w + b can reach, for inputs bounded by x_max."""
    terms = np.abs(w.astype(np.int64)) * x_max.astype(np.int64)[:, None]
    return int((terms.sum(axis=0) + np.abs(b.astype(np.int64))).max())


def _align(values: np.ndarray, from_frac: int, to_frac: int) -> np.ndarray:
    """Integers moved to a finer LSB (exact left shift)."""
    return np.asarray(values, dtype=np.int64) << (to_frac - from_frac)


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
        x_frac = max(f["conv_act"].frac_bits, f["log_eta"].frac_bits)
        acc1 = x_frac + f["dense_w"].frac_bits
        acc = f["dense_act"].frac_bits + f["dense_w"].frac_bits
        feat_shift = x_frac - f["conv_act"].frac_bits
        log_eta = _align(c.log_eta, f["log_eta"].frac_bits, x_frac)
        b1 = _align(c.dense1_b, f["dense_b"].frac_bits, acc1)
        b2 = _align(c.dense2_b, f["dense_b"].frac_bits, acc)
        b3 = _align(c.dense3_b, f["dense_b"].frac_bits, acc)
        x1_max = np.array([f["conv_act"].raw_max << feat_shift] * (c.dense1_w.shape[0] - 1)
                          + [int(np.abs(log_eta).max())])
        act_max = np.full(c.dense2_w.shape[0], f["dense_act"].raw_max)
        bound = max(_sum_bound(x1_max, c.dense1_w, b1), _sum_bound(act_max, c.dense2_w, b2),
                    _sum_bound(act_max, c.dense3_w, b3))
        # floats add and multiply integers exactly while every partial sum stays below 2**24
        # (float32) or 2**53 (float64); the bound covers every partial sum of every neuron,
        # whatever the summation order the BLAS library chooses
        dt = np.float32 if bound < 2**24 else np.float64 if bound < 2**53 else np.int64
        return cls(
            kernel=c.dw_kernel.astype(np.int64),
            conv_bias=_align(c.dw_bias, f["conv_b"].frac_bits, conv_frac),
            conv=_Stage.of(conv_frac, f["conv_act"]),
            feat_shift=feat_shift,
            log_eta=log_eta.astype(dt),
            w1=np.ascontiguousarray(c.dense1_w, dtype=dt),
            b1=b1.astype(dt),
            d1=_Stage.of(acc1, f["dense_act"]),
            w2=np.ascontiguousarray(c.dense2_w, dtype=dt),
            b2=b2.astype(dt),
            d2=_Stage.of(acc, f["dense_act"]),
            w3=np.ascontiguousarray(c.dense3_w, dtype=dt),
            b3=b3.astype(dt),
            hs_frac=acc,
            seg=_Stage.of(acc + 1, f["seg_w"]),
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
