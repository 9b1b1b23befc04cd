"""Trigger metrics: thresholds at a false-positive rate, TPR, ROC, AUC, effective background events, bootstraps.

The background rate is generator-weighted (the baseline QCD is bias-weighted, the paper's is not:
docs/data.md). A trigger passes when value >= threshold, as in the firmware.
"""

from __future__ import annotations

import numpy as np


def threshold_at_fpr(bkg: np.ndarray, bkg_weight: np.ndarray, fpr: float) -> int | float:
    """Smallest threshold T whose weighted background rate P(value >= T) is at most `fpr`.

    Integer values (raw trigger quantities) give an integer T; real values (truth pT) give the
    smallest float above a background value, or the smallest value when every event may pass.
    """
    values = np.asarray(bkg)
    integer = np.issubdtype(values.dtype, np.integer)
    values = values.astype(np.int64 if integer else np.float64)
    w = np.asarray(bkg_weight, dtype=np.float64)
    order = np.argsort(values, kind="stable")
    values, w = values[order], w[order]
    total = w.sum()
    if total <= 0:
        raise ValueError("background weights sum to zero")
    above = values + 1 if integer else np.nextafter(values, np.inf)
    candidates = np.unique(np.append(above, 0 if integer else values[0]))
    # weighted rate above each candidate: the weight of values >= T
    rate = (total - np.concatenate([[0.0], np.cumsum(w)])[np.searchsorted(values, candidates, side="left")]) / total
    t = candidates[np.argmax(rate <= fpr)]
    return int(t) if integer else float(t)


def effective_events(weight: np.ndarray) -> float:
    """Kish effective sample size (sum w)^2 / sum w^2: how many unweighted events the weights are worth."""
    w = np.asarray(weight, dtype=np.float64)
    return float(w.sum() ** 2 / np.sum(w * w)) if w.size and np.any(w) else 0.0


def passing_rate(values: np.ndarray, threshold: int, weight: np.ndarray | None = None) -> float:
    """(Weighted) fraction of events with value >= threshold."""
    passed = np.asarray(values) >= threshold
    if weight is None:
        return float(passed.mean()) if passed.size else float("nan")
    total = np.sum(weight)
    return float(np.sum(weight * passed) / total) if total > 0 else float("nan")


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


def bootstrap_thresholds(bkg: np.ndarray, bkg_weight: np.ndarray, fpr: float, replicas: int, seed: int) -> np.ndarray:
    """The threshold at `fpr` on `replicas` Poisson-bootstrap replicas of the background (each event weighted by Poisson(1))."""
    rng = np.random.default_rng(seed)
    return np.array([threshold_at_fpr(bkg, rng.poisson(1.0, bkg.size) * bkg_weight, fpr) for _ in range(replicas)])


def bootstrap_std(sig: np.ndarray, thresholds: np.ndarray, seed: int) -> float:
    """Standard deviation of the TPR over Poisson-bootstrap replicas of the signal, replica i cut at thresholds[i].

    A constant `thresholds` gives the spread at a fixed threshold; bootstrap_thresholds' output adds
    the threshold's own spread (the background's statistics).
    """
    rng = np.random.default_rng(seed)
    tprs = [passing_rate(sig, t, rng.poisson(1.0, sig.size)) for t in thresholds]
    return float(np.nanstd(tprs, ddof=1)) if len(tprs) > 1 else float("nan")


def trigger_metrics(values: dict[str, np.ndarray], label: np.ndarray, process: np.ndarray, weight: np.ndarray,
                    processes: list[str], signals: list[str], fpr: float,
                    thresholds: dict[str, int] | None = None, truth: dict[str, np.ndarray] | None = None,
                    bootstraps: int = 0, seed: int = 0) -> dict[str, dict]:
    """Per trigger (pt1, pt4): the threshold at `fpr` on this background and, per signal, TPR there and AUC.

    With `thresholds` (the bundle's, set on the validation split), also the background rate and each
    signal's TPR at those. Every threshold comes with the effective number of background events
    above it. With `truth` (the same trigger on truth jets), each signal's truth TPR at `fpr`: the
    ceiling of a perfect reconstruction. With `bootstraps`, the TPRs' standard deviations over events.
    """
    bkg = label == 0
    out: dict[str, dict] = {}
    for name, v in values.items():
        t = threshold_at_fpr(v[bkg], weight[bkg], fpr)
        entry: dict = {"threshold_at_fpr": t, "fpr_at_threshold": passing_rate(v[bkg], t, weight[bkg]),
                       "background_ess_above_threshold": effective_events(weight[bkg][v[bkg] >= t]),
                       "background_ess": effective_events(weight[bkg]), "signals": {}}
        fixed = None
        if thresholds is not None:
            fixed = int(thresholds[name])
            entry["bundle_threshold"] = fixed
            entry["fpr_at_bundle_threshold"] = passing_rate(v[bkg], fixed, weight[bkg])
            entry["background_ess_above_bundle_threshold"] = effective_events(weight[bkg][v[bkg] >= fixed])
        if bootstraps:
            replicas = bootstrap_thresholds(v[bkg], weight[bkg], fpr, bootstraps, seed)
            entry["threshold_at_fpr_bootstrap_std"] = float(np.std(replicas, ddof=1))
        if truth is not None:
            entry["truth_threshold_gev"] = threshold_at_fpr(truth[name][bkg], weight[bkg], fpr)
        for s in signals:
            mine = process == processes.index(s)
            sv = v[mine]
            sig = {"tpr_at_fpr": passing_rate(sv, t), "auc": roc_auc(sv, v[bkg], weight[bkg]), "events": int(sv.size)}
            if fixed is not None:
                sig["tpr_at_bundle_threshold"] = passing_rate(sv, fixed)
            if truth is not None:
                sig["truth_tpr_at_fpr"] = passing_rate(truth[name][mine], entry["truth_threshold_gev"])
            if bootstraps:
                sig["tpr_at_fpr_std"] = bootstrap_std(sv, replicas, seed + 1 + processes.index(s))
                if fixed is not None:
                    sig["tpr_at_bundle_threshold_std"] = bootstrap_std(sv, np.full(bootstraps, fixed),
                                                                       seed + 1 + processes.index(s))
            entry["signals"][s] = sig
        out[name] = entry
    return out
