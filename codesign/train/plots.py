"""Trigger plots of an evaluated run: ROC per trigger (every signal) and turn-on curves against truth jet pT."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from codesign.train.evaluate import Evaluation
from codesign.report.figures import pyplot, roc_axes
from codesign.train.metrics import roc_curve

_TRUTH_LABEL = {"pt1": "leading", "pt4": "fourth"}
_PT_BINS = {"pt1": np.linspace(0.0, 500.0, 21), "pt4": np.linspace(0.0, 250.0, 21)}


def roc_plot(ev: Evaluation, processes: list[str], signals: list[str], fpr: float, out: Path) -> Path:
    """ROC (background FPR, generator-weighted where it is, vs signal TPR) of pT1 and pT4, emulator (solid) and
    QAT model (dashed)."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(14, 6))
    bkg = ev.label == 0
    for ax, trig in zip(axes, ("pt1", "pt4")):
        for k, s in enumerate(signals):
            sig = ev.process == processes.index(s)
            for values, style, label in ((ev.emulator_pt, "-", s), (ev.float_pt, "--", None)):
                f, t = roc_curve(values[trig][sig], values[trig][bkg], ev.weight[bkg])
                ax.plot(np.maximum(f, 1e-7), t, style, color=f"C{k}", label=label)
        roc_axes(ax, fpr)
        ax.set_title(f"{trig} trigger: emulator (solid), QAT model (dashed)", fontsize=14)
        ax.legend(fontsize=10, loc="upper left")
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


def turn_on_plot(ev: Evaluation, processes: list[str], thresholds: dict[str, int], lsb: float, out: Path) -> Path:
    """Efficiency of each trigger at the bundle threshold against the truth jet pT it targets, per process."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(14, 6))
    for ax, trig in zip(axes, ("pt1", "pt4")):
        edges = _PT_BINS[trig]
        centres = (edges[1:] + edges[:-1]) / 2
        passed = ev.emulator_pt[trig] >= thresholds[trig]
        truth = ev.truth_pt[trig]
        for i, name in enumerate(processes):
            sel = ev.process == i
            w = ev.weight[sel]
            den, _ = np.histogram(truth[sel], edges, weights=w)
            num, _ = np.histogram(truth[sel][passed[sel]], edges, weights=w[passed[sel]])
            ok = den > 0
            ax.plot(centres[ok], num[ok] / den[ok], "o-", ms=3, color=f"C{i}", label=name)
        ax.set_xlabel(f"truth {_TRUTH_LABEL[trig]} jet pT [GeV] (|eta| inside the calorimeter)")
        ax.set_ylabel("efficiency")
        ax.set_ylim(0, 1.05)
        ax.set_title(f"{trig} >= {thresholds[trig] * lsb:.1f} GeV (emulator)")
        ax.legend(fontsize=10, loc="lower right")
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out
