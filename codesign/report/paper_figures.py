"""The paper's Figs. 6-9 from a project's runs, as PNG bytes: one entry (and for Figs. 7-9 one panel) per run.

Fig. 6 and Fig. 8 read the exported bundles (the firmware's LUTs); Fig. 7 and Fig. 9 read the
per-event arrays of `codesign.train.physics_arrays` (emulator on the bundle, test split).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from codesign.report.figures import _png, pyplot
from emulation.bundle import FirmwareBundle
from emulation.fixed import to_float
from emulation.semantics import calib_address

PHYSICS_ARRAYS = "physics_arrays.npz"  # a run's per-event inputs of Figs. 7 and 9 (codesign.train.physics_arrays)
RESOLUTION_EDGES = np.array([20.0, 30.0, 40.0, 50.0, 60.0, 80.0, 100.0, 150.0, 200.0, 300.0, 500.0])  # truth pT [GeV]
RESOLUTION_MIN_PAIRS = 5  # fewer matched pairs in a truth-pT bin: no median or IQR drawn
CALIBRATION_PT_RANGE = (0.1, 2000.0)  # cluster pT shown in Fig. 8 [GeV]; the response axis stops at 3
CLUSTER_R = 0.4  # drawn radius of clusters and truth jets in the event display


def quantiser_chart(bundles: dict[str, FirmwareBundle]) -> bytes:
    """Fig. 6: quantiser output Q(E_T) (top) and bin widths Delta_i (bottom) against input E_T, EM and HAD."""
    plt = pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(12, 9), sharex=True)
    for col, (layer, title) in enumerate(((0, "EM"), (1, "HAD"))):
        for k, (name, b) in enumerate(bundles.items()):
            c = to_float(b.quantiser.levels[layer], b.formats["et_dec"])
            t = to_float(b.quantiser.thresholds[layer], b.formats["et_in"])
            axes[0, col].step(t, c[1:], where="post", color=f"C{k}", label=name)  # Q = c_i from threshold t_i on
            axes[1, col].plot(c[1:], np.diff(c), drawstyle="steps-mid", color=f"C{k}", label=name)
        axes[0, col].set_ylabel("output Q(E_T) [GeV]")
        axes[0, col].set_yscale("log")
        axes[0, col].set_title(f"{title} quantiser")
        axes[1, col].set_ylabel("bin width Delta_i [GeV]")
        axes[1, col].set_xlabel("input E_T [GeV]")
        axes[1, col].set_xscale("log")
        for ax in axes[:, col]:
            ax.legend(fontsize=10)
    return _png(fig)


def abs_eta_ranges(eta_bin_of_row: np.ndarray, eta_max: float) -> list[tuple[float, float]]:
    """The |eta| range each calibration bin covers, from the rows (uniform in eta over +-eta_max) mapped to it."""
    rows = len(eta_bin_of_row)
    edges = np.linspace(-eta_max, eta_max, rows + 1)
    lo = np.minimum(np.abs(edges[:-1]), np.abs(edges[1:]))
    hi = np.maximum(np.abs(edges[:-1]), np.abs(edges[1:]))
    return [(float(lo[eta_bin_of_row == k].min()), float(hi[eta_bin_of_row == k].max()))
            for k in range(int(eta_bin_of_row.max()) + 1)]


def calibration_response_chart(bundles: dict[str, FirmwareBundle], eta_max: float) -> bytes:
    """Fig. 8: response H(pT, |eta|) / pT against cluster pT per |eta| bin, from each LUT as the firmware reads it."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(bundles), figsize=(6.5 * len(bundles), 5.5), sharey=True, squeeze=False)
    for ax, (name, b) in zip(axes[0], bundles.items()):
        f = b.formats
        pt_raw = np.unique(np.round(np.geomspace(1, 2 ** min(f["cluster_pt"].width, 20) - 1, 600)).astype(np.int64))
        pt = to_float(pt_raw, f["cluster_pt"])
        addr = calib_address(pt_raw, int(b.calibration.mantissa_bits))
        for k, (lo, hi) in enumerate(abs_eta_ranges(b.calibration.eta_bin_of_row, eta_max)):
            ax.plot(pt, to_float(b.calibration.lut[k, addr], f["pt_calib"]) / pt, color=f"C{k}",
                    label=f"{lo:.1f} < |eta| < {hi:.1f}")
        ax.axhline(1.0, color="grey", lw=1, ls=":")
        ax.set_xscale("log")
        ax.set_xlim(*CALIBRATION_PT_RANGE)
        ax.set_ylim(0, 3)
        ax.set_xlabel("cluster pT [GeV]")
        ax.set_title(name)
        ax.legend(fontsize=9)
    axes[0, 0].set_ylabel("response pT' / pT")
    return _png(fig)


def _image_panel(ax, image: np.ndarray, edges: tuple[np.ndarray, np.ndarray], title: str, plt: Any) -> None:
    """An (eta, phi) E_T image, eta across, log colour scale from 0.1 GeV."""
    from matplotlib.colors import LogNorm

    eta, phi = edges
    shown = np.where(image > 0.1, image, np.nan).T
    mesh = ax.imshow(shown, origin="lower", aspect="equal", extent=(eta[0], eta[-1], phi[0], phi[-1]),
                     norm=LogNorm(vmin=0.1, vmax=max(float(np.nanmax(image)), 1.0)), cmap="viridis")
    plt.colorbar(mesh, ax=ax, label="E_T [GeV]", shrink=0.8)
    ax.set_xlabel("eta")
    ax.set_ylabel("phi")
    ax.set_title(title, fontsize=12)


def _circles(ax, eta: np.ndarray, phi: np.ndarray, pt: np.ndarray, style: str, color: str, above: bool) -> None:
    """Circles of radius CLUSTER_R at (eta, phi), labelled with pT in GeV above (or below) them."""
    from matplotlib.patches import Circle

    for e, p, v in zip(eta, phi, pt):
        ax.add_patch(Circle((e, p), CLUSTER_R, fill=False, ls=style, lw=1.5, color=color))
        ax.annotate(f"{v:.0f}", (e, p + (CLUSTER_R if above else -CLUSTER_R)), color=color, fontsize=11,
                    fontweight="bold", ha="center", va="bottom" if above else "top")


def event_display_chart(runs: dict[str, dict[str, np.ndarray]]) -> bytes:
    """Fig. 7: one test event's input with pile-up and mu = 0 image with truth jets, then each run's E_pred
    with its clusters (red, calibrated pT) and the truth jets (magenta, dashed); circles of Delta R = 0.4."""
    plt = pyplot()
    first = next(iter(runs.values()))
    edges = (first["eta_edges"], first["phi_edges"])
    eta_c, phi_c = ((e[1:] + e[:-1]) / 2 for e in edges)
    jets = first["display_jets"]
    n = 2 + len(runs)
    cols = 3 if n == 3 else 2
    fig, axes = plt.subplots(-(-n // cols), cols, figsize=(6.5 * cols, 6.5 * -(-n // cols)), squeeze=False)
    flat = list(axes.ravel())
    ev = f"{first['display_process']} test event {int(first['display_event_id'])}"
    _image_panel(flat[0], first["display_image"].sum(axis=0), edges, f"{ev}: input with pile-up", plt)
    _image_panel(flat[1], first["display_image_mu0"].sum(axis=0), edges, "mu = 0, truth jets (pT > 20 GeV)", plt)
    _circles(flat[1], jets[:, 1], jets[:, 2], jets[:, 0], "--", "magenta", above=True)
    for ax, (name, a) in zip(flat[2:], runs.items()):
        _image_panel(ax, a["display_et_pred"], edges, f"{name}: denoised E_pred, clusters (calibrated pT)", plt)
        _circles(ax, a["display_jets"][:, 1], a["display_jets"][:, 2], a["display_jets"][:, 0], "--", "magenta",
                 above=True)
        _circles(ax, eta_c[a["display_cluster_ieta"]], phi_c[a["display_cluster_iphi"]], a["display_pt_calib"],
                 "-", "red", above=False)
    for ax in flat[n:]:
        ax.set_visible(False)
    return _png(fig)


def resolution_bins(truth_pt: np.ndarray, error: np.ndarray, edges: np.ndarray,
                    min_pairs: int = RESOLUTION_MIN_PAIRS) -> dict[str, np.ndarray]:
    """Per truth-pT bin [lo, hi): pair count, and median, 25% and 75% quantiles of `error` (NaN below min_pairs)."""
    index = np.digitize(truth_pt, edges) - 1
    count = np.bincount(index[(index >= 0) & (index < len(edges) - 1)], minlength=len(edges) - 1)
    q = np.full((len(edges) - 1, 3), np.nan)
    for k in np.nonzero(count >= min_pairs)[0]:
        q[k] = np.percentile(error[index == k], [50, 25, 75])
    return {"count": count, "median": q[:, 0], "q25": q[:, 1], "q75": q[:, 2]}


def percentage_error(a: dict[str, np.ndarray]) -> np.ndarray:
    """100 (calibrated pT - truth pT) / truth pT of each matched pair."""
    return 100.0 * (a["match_pt_calib"] - a["match_truth_pt"]) / a["match_truth_pt"]


def resolution_chart(runs: dict[str, dict[str, np.ndarray]]) -> bytes:
    """Fig. 9: percentage pT error of matched calibrated clusters against truth pT, with median and IQR per bin."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(runs), figsize=(6.5 * len(runs), 5.5), sharey=True, squeeze=False)
    centres = np.sqrt(RESOLUTION_EDGES[1:] * RESOLUTION_EDGES[:-1])
    for ax, (name, a) in zip(axes[0], runs.items()):
        err = percentage_error(a)
        ax.hist2d(a["match_truth_pt"], np.clip(err, -100, 199), bins=(RESOLUTION_EDGES, np.linspace(-100, 200, 61)),
                  cmin=1, cmap="Greys")
        b = resolution_bins(a["match_truth_pt"], err, RESOLUTION_EDGES)
        ax.fill_between(centres, b["q25"], b["q75"], color="C0", alpha=0.35, label="IQR")
        ax.plot(centres, b["median"], "o-", color="C0", label="median")
        ax.axhline(0.0, color="grey", lw=1, ls=":")
        ax.set_xscale("log")
        ax.set_xlim(RESOLUTION_EDGES[0], RESOLUTION_EDGES[-1])
        ax.set_xlabel("truth pT [GeV]")
        ax.set_title(f"{name} ({len(err)} matched clusters, {str(a['match_process'])})", fontsize=12)
        ax.legend(fontsize=10, loc="upper right")
    axes[0, 0].set_ylabel("(pT' - truth pT) / truth pT [%]")
    return _png(fig)
