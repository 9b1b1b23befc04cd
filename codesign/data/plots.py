"""`codesign data inspect`: one event at mu=0 and with pile-up, per layer, plus truth-jet distributions."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from codesign.data.jets import MAX_JETS
from codesign.data.reader import Dataset
from codesign.errors import InputError

_LAYERS = ("EM", "HAD")


def _central_jets(jets: np.ndarray, n_jets: np.ndarray, eta_max: float) -> np.ndarray:
    """Mask (N, J) of the stored jets inside the calorimeter acceptance."""
    return (np.arange(MAX_JETS) < n_jets[:, None]) & (np.abs(jets[:, :, 1]) < eta_max)


def _event(ds: Dataset, process: str, index: int) -> dict[str, np.ndarray]:
    if not 0 <= index < ds.count("test", process):
        raise InputError(f"event {index}: the test split of {process} has {ds.count('test', process)} events")
    batch = next(ds.batches("test", batch_size=index + 1, processes=[process], pileup="frozen", shuffle=False))
    return {k: v[index] for k, v in batch.items()}


def inspect_plot(ds: Dataset, out: Path, process: str | None = None, event: int = 0) -> Path:
    """Write a PNG: test event `event` of `process` (default: the first signal) at mu=0 and with its
    frozen pile-up, per layer, with truth jets circled; and per-process jet multiplicity and leading-jet pT."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mplhep
    from matplotlib.colors import LogNorm
    from matplotlib.patches import Circle

    process = process or (ds.signal_processes or ds.processes)[0]
    ds.select_processes([process])  # an unknown process fails here, before any reading
    ev = _event(ds, process, event)
    g = ds.geometry
    mplhep.style.use("ATLAS")
    fig, axes = plt.subplots(3, 2, figsize=(14, 16), constrained_layout=True)
    vmax = float(max(ev["image"].max(), 1.0))
    norm = LogNorm(vmin=0.1, vmax=vmax)
    jet_mask = _central_jets(ev["jets"][None], ev["n_jets"][None], g.eta_max + 0.4)[0]
    for row, layer in enumerate(_LAYERS):
        for col, (key, title) in enumerate((("image_mu0", r"$\mu = 0$"), ("image", rf"$\mu \sim$ Pois({ds.mu:g})"))):
            ax = axes[row, col]
            cells = np.ma.masked_less_equal(ev[key][row].T, 0.0)
            mesh = ax.pcolormesh(g.eta_edges(), g.phi_edges(), cells, norm=norm, cmap="viridis")
            for pt, eta, phi, _ in ev["jets"][jet_mask]:
                ax.add_patch(Circle((eta, phi), 0.4, fill=False, color="red", lw=1.5))
                ax.annotate(f"{pt:.0f}", (eta, phi + 0.45), color="red", ha="center", fontsize=11)
            ax.set(xlabel=r"$\eta$", ylabel=r"$\phi$", xlim=(-g.eta_max, g.eta_max), ylim=(-np.pi, np.pi),
                   title=f"{layer} layer, {title}")
            fig.colorbar(mesh, ax=ax, label=r"cell $E_T$ [GeV]")
    fig.suptitle(f"{process}: test event {event} (event id {int(ev['event_id'])}), truth jets circled "
                 r"with $p_T$ in GeV")
    ax_n, ax_pt = axes[2]
    for name in ds.processes:
        jets, n_jets, weight = ds.truth_jets(name)
        central = _central_jets(jets, n_jets, g.eta_max)
        mult = central.sum(axis=1)
        lead = np.where(central, jets[:, :, 0], 0.0).max(axis=1)
        ax_n.hist(mult, bins=np.arange(MAX_JETS + 2) - 0.5, weights=weight, density=True, histtype="step",
                  lw=2, label=name)
        ax_pt.hist(lead[lead > 0], bins=np.linspace(20, 500, 49), weights=weight[lead > 0], density=True,
                   histtype="step", lw=2, label=name)
    ax_n.set(xlabel=rf"truth jets with $p_T$ > 20 GeV, $|\eta| < {g.eta_max:g}$", ylabel="fraction of events",
             xlim=(-0.5, 12.5))
    ax_pt.set(xlabel=r"leading truth-jet $p_T$ [GeV]", ylabel="density (generator-weighted)", yscale="log")
    for ax in (ax_n, ax_pt):
        ax.legend(fontsize=12)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=80)
    plt.close(fig)
    return out
