"""CNN pile-up denoiser, bit-accurate: depthwise 3x3 -> ReLU -> [features, log|eta|] -> 32 -> 32 -> 2 -> w.

Integer rules (SEMANTICS.md): sums and products are exact; each layer's exact accumulator is
ReLU'd and then requantised with `emulation.fixed.convert` (AP_RND, AP_SAT) to its activation
format. One numba kernel runs one eta row of one event per task (tasks in parallel, prange);
the dense layers run in float32 when a per-bundle bound proves every partial sum exact (< 2**24).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

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
    w1: np.ndarray  # (32, n_in) transposed weights
    b1: np.ndarray
    d1: _Stage
    w2: np.ndarray  # (32, 32) transposed
    b2: np.ndarray
    d2: _Stage
    w3: np.ndarray  # (L, 32) transposed
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
        # float32 adds and multiplies integers exactly while every partial sum stays below 2**24;
        # the bound covers every partial sum of every neuron, whatever the summation order
        dt = np.float32 if bound < 2**24 else np.int64
        return cls(
            kernel=c.dw_kernel.astype(np.int64),
            conv_bias=_align(c.dw_bias, f["conv_b"].frac_bits, conv_frac),
            conv=_Stage.of(conv_frac, f["conv_act"]),
            feat_shift=feat_shift,
            log_eta=log_eta.astype(dt),
            w1=np.ascontiguousarray(c.dense1_w.T, dtype=dt),
            b1=b1.astype(dt),
            d1=_Stage.of(acc1, f["dense_act"]),
            w2=np.ascontiguousarray(c.dense2_w.T, dtype=dt),
            b2=b2.astype(dt),
            d2=_Stage.of(acc, f["dense_act"]),
            w3=np.ascontiguousarray(c.dense3_w.T, dtype=dt),
            b3=b3.astype(dt),
            hs_frac=acc,
            seg=_Stage.of(acc + 1, f["seg_w"]),
            pred=_Stage.of(f["seg_w"].frac_bits + f["et_dec"].frac_bits, f["et_pred"]),
        )


@numba.njit(inline="always")
def _dense_row(x, n_in, w, b, out, relu, requant, shift, lo, hi, width):
    """out[h, p] = sum_n x[n, p] * w[h, n] + b[h] for a row of pixels p; optionally ReLU'd and requantised."""
    n_pix = x.shape[1]
    acc = np.empty(n_pix, dtype=x.dtype)
    for h in range(w.shape[0]):
        for p in range(n_pix):
            acc[p] = b[h]
        for n in range(n_in):
            wn = w[h, n]
            for p in range(n_pix):
                acc[p] += x[n, p] * wn
        for p in range(n_pix):
            a = acc[p]
            if relu and a < 0:
                a = 0
            out[h, p] = convert(np.int64(a), shift, True, True, lo, hi, width) if requant else a


@numba.njit(parallel=True, cache=True)
def _cnn_kernel(x, k, cb, conv, feat_shift, log_eta, w1, b1, d1, w2, b2, d2, w3, b3, hs_frac, seg_st, pred,
                keep, conv_out, h1_out, h2_out, acc3_out, seg_out, pred_out):
    n_ev, n_layers, n_eta, n_phi = x.shape
    n_conv = n_layers * 4
    hidden = w2.shape[0]
    for task in numba.prange(n_ev * n_eta):  # one eta row of one event per task
        ev = task // n_eta
        i = task % n_eta
        feats = np.empty((n_conv + 1, n_phi), dtype=w1.dtype)
        h1 = np.empty((hidden, n_phi), dtype=w1.dtype)
        h2 = np.empty((hidden, n_phi), dtype=w1.dtype)
        acc3 = np.empty((w3.shape[0], n_phi), dtype=w1.dtype)
        taps = np.empty(4, dtype=np.int64)
        for j in range(n_phi):
            feats[n_conv, j] = log_eta[i]
            jl = (j - 1) % n_phi
            jr = (j + 1) % n_phi
            for layer in range(n_layers):
                img = x[ev, layer]
                up_c = img[i - 1, j] if i > 0 else 0
                dn_c = img[i + 1, j] if i < n_eta - 1 else 0
                up_s = (img[i - 1, jl] + img[i - 1, jr]) if i > 0 else 0
                dn_s = (img[i + 1, jl] + img[i + 1, jr]) if i < n_eta - 1 else 0
                taps[0] = img[i, j]
                taps[1] = up_c + dn_c
                taps[2] = img[i, jl] + img[i, jr]
                taps[3] = up_s + dn_s
                for m in range(4):
                    acc = cb[layer, m]
                    for t in range(4):
                        acc += k[layer, m, t] * taps[t]
                    if acc < 0:
                        acc = 0
                    a = convert(acc, conv[0], True, True, conv[1], conv[2], conv[3])
                    feats[layer * 4 + m, j] = a << feat_shift
                    if keep:
                        conv_out[ev, i, j, layer * 4 + m] = a
        _dense_row(feats, n_conv + 1, w1, b1, h1, True, True, d1[0], d1[1], d1[2], d1[3])
        _dense_row(h1, hidden, w2, b2, h2, True, True, d2[0], d2[1], d2[2], d2[3])
        _dense_row(h2, hidden, w3, b3, acc3, False, False, 0, 0, 0, 0)  # raw accumulator
        for j in range(n_phi):
            e_pred = 0
            for o in range(w3.shape[0]):
                # hard sigmoid clip(v/2 + 1/2, 0, 1) in units of 2**-(hs_frac + 1)
                hs = np.int64(acc3[o, j]) + (1 << hs_frac)
                if hs < 0:
                    hs = 0
                elif hs > (1 << (hs_frac + 1)):
                    hs = 1 << (hs_frac + 1)
                wgt = convert(hs, seg_st[0], True, True, seg_st[1], seg_st[2], seg_st[3])
                seg_out[ev, i, j, o] = wgt
                e_pred += wgt * x[ev, o, i, j]
                if keep:
                    acc3_out[ev, i, j, o] = np.int64(acc3[o, j])
            pred_out[ev, i, j] = convert(e_pred, pred[0], True, True, pred[1], pred[2], pred[3])
            if keep:
                for n in range(hidden):
                    h1_out[ev, i, j, n] = np.int64(h1[n, j])
                    h2_out[ev, i, j, n] = np.int64(h2[n, j])


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
    _cnn_kernel(x, p.kernel, p.conv_bias, p.conv.args(), p.feat_shift, p.log_eta, p.w1, p.b1, p.d1.args(),
                p.w2, p.b2, p.d2.args(), p.w3, p.b3, p.hs_frac, p.seg.args(), p.pred.args(),
                keep, conv_out, h1, h2, acc3, seg, pred)
    out = {"et_pred": pred, "seg_w": seg}
    if keep:
        out.update(conv_act=conv_out, dense1_act=h1, dense2_act=h2, dense3_acc=acc3)
    return out
