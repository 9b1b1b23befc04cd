"""Trigger metrics on integer trigger quantities: thresholds at a false-positive rate, TPR, ROC, AUC.

The background rate is generator-weighted (QCD is bias-weighted: docs/data.md). A trigger passes
when value >= threshold, as in the firmware.
"""

from __future__ import annotations

import numpy as np


def threshold_at_fpr(bkg: np.ndarray, bkg_weight: np.ndarray, fpr: float) -> int:
    """Smallest integer threshold T whose weighted background rate P(value >= T) is at most `fpr`."""
    values = np.asarray(bkg, dtype=np.int64)
    w = np.asarray(bkg_weight, dtype=np.float64)
    order = np.argsort(values, kind="stable")
    values, w = values[order], w[order]
    total = w.sum()
    if total <= 0:
        raise ValueError("background weights sum to zero")
    candidates = np.unique(np.append(values + 1, 0))
    # weighted rate above each candidate: the weight of values >= T
    rate = (total - np.concatenate([[0.0], np.cumsum(w)])[np.searchsorted(values, candidates, side="left")]) / total
    return int(candidates[np.argmax(rate <= fpr)])


def passing_rate(values: np.ndarray, threshold: int, weight: np.ndarray | None = None) -> float:
    """(Weighted) fraction of events with value >= threshold."""
    passed = np.asarray(values) >= threshold
    if weight is None:
        return float(passed.mean()) if passed.size else float("nan")
    return float(np.sum(weight * passed) / np.sum(weight))


def roc_curve(sig: np.ndarray, bkg: np.ndarray, bkg_weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(FPR, TPR) for every threshold, from the loosest to the tightest (both decreasing)."""
    thresholds = np.unique(np.concatenate([sig, bkg]))
    w = np.asarray(bkg_weight, dtype=np.float64)
    order = np.argsort(bkg, kind="stable")
    b, cw = np.asarray(bkg)[order], np.concatenate([[0.0], np.cumsum(w[order])])
    fpr = (cw[-1] - cw[np.searchsorted(b, thresholds, side="left")]) / cw[-1]
    s = np.sort(sig)
    tpr = (len(s) - np.searchsorted(s, thresholds, side="left")) / max(len(s), 1)
    return np.concatenate([[1.0], fpr, [0.0]]), np.concatenate([[1.0], tpr, [0.0]])


def roc_auc(sig: np.ndarray, bkg: np.ndarray, bkg_weight: np.ndarray) -> float:
    """P(signal value > background value) + P(equal) / 2, background weighted."""
    w = np.asarray(bkg_weight, dtype=np.float64)
    order = np.argsort(bkg, kind="stable")
    b, cw = np.asarray(bkg)[order], np.concatenate([[0.0], np.cumsum(w[order])])
    below = cw[np.searchsorted(b, sig, side="left")]
    equal = cw[np.searchsorted(b, sig, side="right")] - below
    return float(np.mean(below + equal / 2) / cw[-1])


def trigger_metrics(values: dict[str, np.ndarray], label: np.ndarray, process: np.ndarray, weight: np.ndarray,
                    processes: list[str], signals: list[str], fpr: float,
                    thresholds: dict[str, int] | None = None) -> dict[str, dict]:
    """Per trigger (pt1, pt4): the threshold at `fpr` on this background and, per signal, TPR there and AUC.

    With `thresholds` (the bundle's), also the background rate and each signal's TPR at those.
    """
    bkg = label == 0
    out: dict[str, dict] = {}
    for name, v in values.items():
        t = threshold_at_fpr(v[bkg], weight[bkg], fpr)
        entry: dict = {"threshold_at_fpr": t, "fpr_at_threshold": passing_rate(v[bkg], t, weight[bkg]), "signals": {}}
        if thresholds is not None:
            entry["bundle_threshold"] = int(thresholds[name])
            entry["fpr_at_bundle_threshold"] = passing_rate(v[bkg], thresholds[name], weight[bkg])
        for s in signals:
            sv = v[process == processes.index(s)]
            sig = {"tpr_at_fpr": passing_rate(sv, t), "auc": roc_auc(sv, v[bkg], weight[bkg]), "events": int(sv.size)}
            if thresholds is not None:
                sig["tpr_at_bundle_threshold"] = passing_rate(sv, thresholds[name])
            entry["signals"][s] = sig
        out[name] = entry
    return out
