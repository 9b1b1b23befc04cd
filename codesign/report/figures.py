"""Figures of the review report, each returned as PNG bytes (matplotlib, mplhep style, Agg backend)."""

from __future__ import annotations

import io
from typing import Any

import numpy as np


def pyplot():
    """matplotlib.pyplot with the Agg backend and the mplhep ATLAS style (shared by every plot of the project)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mplhep

    plt.style.use(mplhep.style.ATLAS)
    return plt


def _png(fig) -> bytes:
    plt = pyplot()
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    return buf.getvalue()


def resources_chart(blocks: dict[str, dict[str, int]], capacity: dict[str, int]) -> bytes:
    """Per-block utilisation (% of the part) for each resource kind, log scale (zero counts are not drawn)."""
    plt = pyplot()
    kinds = [k for k in ("lut", "ff", "dsp", "bram36") if capacity.get(k)]
    names = list(blocks)
    fig, ax = plt.subplots(figsize=(11, 5))
    width = 0.8 / max(len(kinds), 1)
    for k, kind in enumerate(kinds):
        pct = np.array([100.0 * blocks[n].get(kind, 0) / capacity[kind] for n in names])
        ax.bar(np.arange(len(names)) + k * width, np.where(pct > 0, pct, np.nan), width, label=kind.upper())
    ax.set_xticks(np.arange(len(names)) + width * (len(kinds) - 1) / 2, names, rotation=20)
    ax.set_yscale("log")
    ax.set_ylabel("% of the part")
    ax.axhline(100, color="red", lw=1, ls="--")
    ax.legend(fontsize=11)
    return _png(fig)


def latency_chart(rows: list[dict[str, Any]]) -> bytes:
    """Measured latency (cycles x clock) per block against its budget."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(11, 5))
    names = [r["block"] for r in rows]
    y = np.arange(len(rows))
    ax.barh(y, [r["measured_us"] or 0 for r in rows], 0.5, label="measured (RTL simulation)")
    for i, r in enumerate(rows):
        if r.get("budget_us") is not None:
            ax.plot([r["budget_us"]] * 2, [i - 0.35, i + 0.35], color="red", lw=3,
                    label="budget" if i == min(j for j, q in enumerate(rows) if q.get("budget_us") is not None)
                    else None)
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    ax.set_xlabel("latency [us]")
    ax.legend(fontsize=11, loc="lower right")
    return _png(fig)


def roc_axes(ax, fpr: float) -> None:
    """The common frame of a ROC plot: log FPR axis, the operating FPR marked."""
    ax.axvline(fpr, color="grey", lw=1, ls=":")
    ax.set_xscale("log")
    ax.set_xlim(1e-5, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("false-positive rate (background events passing)")
    ax.set_ylabel("true-positive rate")


def roc_chart(curves: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]], fpr: float, trigger: str,
              marks: dict[str, dict[str, float]] | None = None) -> bytes:
    """ROC curves of one trigger, one panel per signal: curves[label][signal] = (fpr array, tpr array);
    marks[label][signal], the TPR at the operating FPR, is drawn as a point on the FPR line."""
    plt = pyplot()
    signals = sorted({s for per in curves.values() for s in per})
    rows = (len(signals) + 1) // 2
    fig, axes = plt.subplots(rows, 2, figsize=(13, 5 * rows), squeeze=False)
    styles = ["-", "--", ":", "-."]
    for ax, s in zip(axes.ravel(), signals):
        for li, (label, per) in enumerate(curves.items()):
            if s in per:
                f, t = per[s]
                ax.plot(np.maximum(f, 1e-7), t, styles[li % 4], color=f"C{li}", label=label)
            if marks and s in marks.get(label, {}):
                ax.plot([fpr], [marks[label][s]], "o", color=f"C{li}", label=f"TPR {marks[label][s]:.3f}")
        roc_axes(ax, fpr)
        ax.set_title(f"{s}, {trigger} trigger", fontsize=13)
        ax.legend(fontsize=8, loc="upper left")
    for ax in axes.ravel()[len(signals):]:
        ax.set_visible(False)
    return _png(fig)


def turn_on_chart(curves: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]], trigger: str) -> bytes:
    """Trigger efficiency against the targeted truth-jet pT: curves[label][process] = (pt centres, efficiency)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(9, 6))
    styles = ["o-", "s--", "^:", "v-."]
    procs = sorted({p for per in curves.values() for p in per})
    for li, (label, per) in enumerate(curves.items()):
        for pi, p in enumerate(procs):
            if p in per:
                x, eff = per[p]
                ax.plot(x, eff, styles[li % 4], ms=3, color=f"C{pi}", label=f"{p}, {label}")
    ax.set_xlabel(f"truth {'leading' if trigger == 'pt1' else 'fourth'} jet pT [GeV]")
    ax.set_ylabel("efficiency")
    ax.set_ylim(0, 1.05)
    ax.set_title(f"{trigger} turn-on (emulator)")
    ax.legend(fontsize=8, loc="lower right", ncol=2)
    return _png(fig)
