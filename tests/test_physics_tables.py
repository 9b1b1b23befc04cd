"""The physics benchmarks' statistics: the overlay-averaged ratio and its jackknife, the paired bootstrap."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import physics_table  # noqa: E402


def _metrics(frozen: float, draws: list[float]) -> dict:
    return {"emulator": {"pt1": {"signals": {"S": {"tpr_at_fpr": frozen}}}},
            "emulator_pileup_draws": {"pt1": {"signals": {"S": {"tpr_at_fpr": {"values": draws}}}}}}


def test_overlay_ratio_is_the_ratio_of_means_with_a_jackknife_error() -> None:
    num, den = _metrics(0.24, [0.22, 0.26]), _metrics(0.03, [0.20, 0.16])
    got = physics_table.overlay_ratio(num, den, "pt1", "S")
    assert got["overlays"] == 3 and got["tpr_num"] == [0.24, 0.22, 0.26] and got["tpr_den"] == [0.03, 0.20, 0.16]
    assert got["ratio_of_means"] == pytest.approx(0.72 / 0.39)
    loo = np.array([0.48 / 0.36, 0.50 / 0.19, 0.46 / 0.23])
    assert got["ratio_err_jackknife"] == pytest.approx(math.sqrt(2 / 3 * np.sum((loo - loo.mean()) ** 2)))


def test_overlay_ratio_pairs_only_the_draws_both_runs_have_and_needs_draws() -> None:
    got = physics_table.overlay_ratio(_metrics(0.2, [0.2, 0.4]), _metrics(0.1, [0.1]), "pt1", "S")
    assert got["overlays"] == 2 and got["ratio_of_means"] == pytest.approx(2.0) and got["ratio_err_jackknife"] == 0
    assert physics_table.overlay_ratio({"emulator": {}}, _metrics(0.1, [0.1]), "pt1", "S") is None


def test_paired_ratio_std_is_zero_for_identical_runs_and_positive_otherwise() -> None:
    rng = np.random.default_rng(1)
    n = 4000
    label = (np.arange(n) % 2).astype(np.int8)
    arrays = {"label": label, "process": np.where(label == 1, 1, 0), "weight": np.ones(n),
              "emulator_pt1": rng.normal(size=n) + label}
    assert physics_table.paired_ratio_std(arrays, arrays, "pt1", 1, 0.05) == 0.0
    other = {**arrays, "emulator_pt1": arrays["emulator_pt1"] + 0.5 * label}
    assert physics_table.paired_ratio_std(other, arrays, "pt1", 1, 0.05) > 0.0
