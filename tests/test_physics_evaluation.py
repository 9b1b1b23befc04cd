"""The physics evaluation's statistics: thresholds on real values, effective background events, bootstrap errors
and the truth ceiling (`codesign evaluate` with pile-up draws is tested on test_train_v1.py's run)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from codesign.train.metrics import (bootstrap_std, bootstrap_thresholds, effective_events, passing_rate,
                                    threshold_at_fpr, trigger_metrics)


def test_threshold_on_real_values_is_the_smallest_that_meets_the_rate():
    rng = np.random.default_rng(1)
    values = rng.exponential(20.0, 5000)
    weights = rng.uniform(0.5, 2.0, 5000)
    for fpr in (1e-3, 1e-2, 0.3):
        t = threshold_at_fpr(values, weights, fpr)
        assert isinstance(t, float) and passing_rate(values, t, weights) <= fpr
        below = np.nextafter(max(v for v in values if v < t), -np.inf)
        assert passing_rate(values, below, weights) > fpr
    assert threshold_at_fpr(values, weights, 1.0) == values.min()  # every event may pass
    assert threshold_at_fpr(np.array([3, 5, 5, 9]), np.ones(4), 0.25) == 6  # integers: the old semantics


def test_effective_events():
    assert effective_events(np.ones(40)) == 40.0
    assert effective_events(np.array([1.0, 1.0, 1e-6])) == pytest.approx(2.0, rel=1e-5)
    assert effective_events(np.array([])) == 0.0 and effective_events(np.zeros(3)) == 0.0


def test_bootstrap_errors_match_the_binomial_error_at_a_fixed_threshold():
    rng = np.random.default_rng(2)
    sig = rng.exponential(30.0, 4000)
    p = passing_rate(sig, 40.0)
    std = bootstrap_std(sig, np.full(400, 40.0), seed=3)
    assert std == pytest.approx(math.sqrt(p * (1 - p) / sig.size), rel=0.15)
    bkg = rng.exponential(10.0, 20000)
    thresholds = bootstrap_thresholds(bkg, np.ones(bkg.size), 1e-3, 200, seed=4)
    assert thresholds.std() > 0  # the threshold moves with the background's statistics
    assert bootstrap_std(sig, thresholds, seed=3) > std  # and that adds to the TPR's error


def test_trigger_metrics_report_ceiling_ess_and_deployed_threshold():
    rng = np.random.default_rng(5)
    n_bkg, n_sig = 3000, 500
    label = np.r_[np.zeros(n_bkg, np.int8), np.ones(n_sig, np.int8)]
    process = np.r_[np.ones(n_bkg, np.int16), np.zeros(n_sig, np.int16)]
    weight = np.r_[rng.uniform(0.1, 1.0, n_bkg), np.ones(n_sig)]
    truth = np.r_[rng.exponential(20.0, n_bkg), rng.exponential(60.0, n_sig)]
    raw = np.round(truth * 8 + rng.normal(0, 40, truth.size)).clip(0).astype(np.int64)
    out = trigger_metrics({"pt1": raw}, label, process, weight, ["sig", "bkg"], ["sig"], 0.01,
                          thresholds={"pt1": 500}, truth={"pt1": truth}, bootstraps=50)["pt1"]
    t = out["threshold_at_fpr"]
    above = raw[:n_bkg] >= t
    assert out["background_ess_above_threshold"] == pytest.approx(effective_events(weight[:n_bkg][above]))
    assert out["background_ess_above_bundle_threshold"] == effective_events(weight[:n_bkg][raw[:n_bkg] >= 500])
    s = out["signals"]["sig"]
    t_truth = threshold_at_fpr(truth[:n_bkg], weight[:n_bkg], 0.01)
    assert s["truth_tpr_at_fpr"] == passing_rate(truth[n_bkg:], t_truth) and out["truth_threshold_gev"] == t_truth
    assert s["tpr_at_bundle_threshold"] == passing_rate(raw[n_bkg:], 500)
    assert 0 < s["tpr_at_bundle_threshold_std"] < s["tpr_at_fpr_std"] < 0.1
