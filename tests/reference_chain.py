"""An independent, plain-numpy reading of emulation/SEMANTICS.md, used only to check the emulator.

Written from the document, not from the emulator: full 3x3 kernels instead of tap groups,
int64 matrix products instead of numba loops, floor division instead of shifts, numpy
comparisons per window offset for seeds, Python sorting with explicit keys.
"""

from __future__ import annotations

import numpy as np

from emulation.bundle import FirmwareBundle


def _round_half_up(acc: np.ndarray, shift: int) -> np.ndarray:
    acc = np.asarray(acc, dtype=np.int64)
    if shift <= 0:
        return acc * 2 ** (-shift)
    return (acc + 2 ** (shift - 1)) // 2 ** shift


def _quantise(acc: np.ndarray, acc_frac: int, fmt) -> np.ndarray:
    return np.clip(_round_half_up(acc, acc_frac - fmt.frac_bits), fmt.raw_min, fmt.raw_max)


def full_kernel(taps: np.ndarray) -> np.ndarray:
    """3x3 kernel (rows d_eta = -1, 0, 1; columns d_phi = -1, 0, 1) from the 4 symmetric taps."""
    c, e, p, k = taps
    return np.array([[k, e, k], [p, c, p], [k, e, k]], dtype=np.int64)


def reference_chain(bundle: FirmwareBundle, et_raw: np.ndarray) -> dict[str, np.ndarray]:
    f = bundle.formats
    et = np.asarray(et_raw, dtype=np.int64)
    n, n_layers, h, w = et.shape
    out: dict[str, np.ndarray] = {}

    thr = bundle.quantiser.thresholds
    codes = np.stack([(et[:, l, :, :, None] >= thr[l][None, None, None, :]).sum(-1) for l in range(n_layers)], 1)
    dec = np.stack([bundle.quantiser.levels[l][codes[:, l]] for l in range(n_layers)], 1)
    out["codes"], out["et_dec"] = codes, dec

    conv_frac = f["et_dec"].frac_bits + f["conv_w"].frac_bits
    padded = np.zeros((n, n_layers, h + 2, w + 2), dtype=np.int64)
    padded[:, :, 1:-1, 1:-1] = dec
    padded[:, :, 1:-1, 0] = dec[:, :, :, -1]
    padded[:, :, 1:-1, -1] = dec[:, :, :, 0]
    feats = []
    for l in range(n_layers):
        for m in range(4):
            kern = full_kernel(bundle.cnn.dw_kernel[l, m])
            acc = np.zeros((n, h, w), dtype=np.int64)
            for a in range(3):
                for b in range(3):
                    acc += kern[a, b] * padded[:, l, a:a + h, b:b + w]
            acc += int(bundle.cnn.dw_bias[l, m]) * 2 ** (conv_frac - f["conv_b"].frac_bits)
            feats.append(_quantise(np.maximum(acc, 0), conv_frac, f["conv_act"]))
    conv = np.stack(feats, -1)
    out["conv_act"] = conv

    x_frac = max(f["conv_act"].frac_bits, f["log_eta"].frac_bits)
    log_eta = np.broadcast_to(bundle.cnn.log_eta[None, :, None, None], (n, h, w, 1))
    x = np.concatenate([conv * 2 ** (x_frac - f["conv_act"].frac_bits),
                        log_eta * 2 ** (x_frac - f["log_eta"].frac_bits)], -1)

    def dense(x, x_frac, wts, bias):
        acc_frac = x_frac + f["dense_w"].frac_bits
        acc = np.matmul(x, wts.astype(np.int64)) + bias.astype(np.int64) * 2 ** (acc_frac - f["dense_b"].frac_bits)
        return acc, acc_frac

    acc, frac = dense(x, x_frac, bundle.cnn.dense1_w, bundle.cnn.dense1_b)
    a1 = _quantise(np.maximum(acc, 0), frac, f["dense_act"])
    acc, frac = dense(a1, f["dense_act"].frac_bits, bundle.cnn.dense2_w, bundle.cnn.dense2_b)
    a2 = _quantise(np.maximum(acc, 0), frac, f["dense_act"])
    acc3, frac = dense(a2, f["dense_act"].frac_bits, bundle.cnn.dense3_w, bundle.cnn.dense3_b)
    out["dense1_act"], out["dense2_act"], out["dense3_acc"] = a1, a2, acc3
    # w = clip(v / 2 + 1/2, 0, 1) with v = acc3 * 2**-frac, then rounded half up to seg_w
    half_plus = np.clip(acc3 + 2 ** frac, 0, 2 ** (frac + 1))  # (v/2 + 1/2) * 2**(frac+1)
    seg = _quantise(half_plus, frac + 1, f["seg_w"])
    out["seg_w"] = seg
    prod = (seg * dec.transpose(0, 2, 3, 1)).sum(-1)
    pred = _quantise(prod, f["seg_w"].frac_bits + f["et_dec"].frac_bits, f["et_pred"])
    out["et_pred"] = pred

    # clusterer
    mask = bundle.clusterer.window_mask
    r = mask.shape[0] // 2
    thr_seed = int(bundle.clusterer.seed_threshold)
    n_out = int(bundle.clusterer.n_clusters)
    seeds = pred > thr_seed
    sums = pred.copy()
    for de in range(-r, r + 1):
        for dp in range(-r, r + 1):
            if not mask[de + r, dp + r] or (de, dp) == (0, 0):
                continue
            shifted = np.full_like(pred, -1)  # value of the neighbour at (i + de, j + dp); -1 = outside
            src = np.roll(pred, -dp, axis=2)
            if de >= 0:
                shifted[:, :h - de] = src[:, de:]
            else:
                shifted[:, -de:] = src[:, :h + de]
            after = de > 0 or (de == 0 and dp > 0)
            seeds &= (pred >= shifted) if after else (pred > shifted)
            sums += np.maximum(shifted, 0)
    out["seeds"] = seeds
    pts = np.zeros((n, n_out), np.int64)
    ie = np.zeros((n, n_out), np.int64)
    ip = np.zeros((n, n_out), np.int64)
    cnt = np.zeros(n, np.int64)
    for ev in range(n):
        cand = sorted(((int(sums[ev, i, j]), i * w + j) for i, j in zip(*np.nonzero(seeds[ev]))),
                      key=lambda t: (-t[0], t[1]))[:n_out]
        cnt[ev] = len(cand)
        for s, (pt, idx) in enumerate(cand):
            pts[ev, s], ie[ev, s], ip[ev, s] = pt, idx // w, idx % w
    out.update(cluster_pt=pts, cluster_ieta=ie, cluster_iphi=ip, n_clusters=cnt)

    # calibration with Python's int.bit_length for the log-spaced address
    mbits = int(bundle.calibration.mantissa_bits)

    def address(pt: int) -> int:
        if pt < 2 ** mbits:
            return pt
        e = pt.bit_length() - 1
        return (e - mbits + 1) * 2 ** mbits + ((pt >> (e - mbits)) % 2 ** mbits)

    cal = np.zeros((n, n_out), np.int64)
    for ev in range(n):
        for s in range(cnt[ev]):
            cal[ev, s] = bundle.calibration.lut[bundle.calibration.eta_bin_of_row[ie[ev, s]], address(int(pts[ev, s]))]
    out["pt_calib"] = cal
    ranked = np.array([sorted(row, reverse=True) for row in cal.tolist()], dtype=np.int64).reshape(n, n_out)
    out["sorted_pt"] = ranked
    out["pt1"], out["pt4"] = ranked[:, 0], ranked[:, 3]
    t1, t4 = (int(t) for t in bundle.trigger.thresholds)
    out["pass_pt1"], out["pass_pt4"] = ranked[:, 0] >= t1, ranked[:, 3] >= t4
    return out
