"""The per-event inputs of the paper's Figs. 7 and 9, from the emulator on a run's exported bundle (test split).

RUN/physics_arrays.npz holds one ttbar_had event's images and clusters (display_*) and every calibrated
cluster matched to a truth jet in the split's ttbar_had events (match_*); `codesign report` reads it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from codesign.data.reader import Dataset
from codesign.errors import InputError
from codesign.report import paper_figures
from codesign.report.paper_figures import PHYSICS_ARRAYS
from codesign.train.config import HYPER
from codesign.train.evaluate import truth_pt
from codesign.train.losses import matched_pairs
from codesign.train.tf_setup import DTYPE, tf
from emulation.bundle import FirmwareBundle
from emulation.chain import run_chain_gev
from emulation.fixed import to_float
from emulation.npz import write_npz

PROCESS = "ttbar_had"  # the paper's sample of Figs. 7 and 9
DISPLAY_JETS = 4  # the display shows the first event with this many truth jets above the truth pT cut


def matched_clusters(cluster_eta: np.ndarray, cluster_phi: np.ndarray, valid: np.ndarray, jets: np.ndarray,
                     n_jets: np.ndarray, eta_max: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(event, truth jet, cluster) indices of the unique pairs within Delta R < R_max (Eq. 16, as D_C pairs them)."""
    m = matched_pairs(tf.constant(cluster_eta, DTYPE), tf.constant(cluster_phi, DTYPE), tf.constant(valid),
                      tf.constant(jets), tf.constant(n_jets), eta_max).numpy()
    return np.nonzero(m)


def display_arrays(bundle: FirmwareBundle, batch: dict[str, np.ndarray], i: int, eta_max: float) -> dict[str, np.ndarray]:
    """Event i of the batch: input and mu = 0 images, E_pred, its clusters and its truth jets (Fig. 7)."""
    emu = run_chain_gev(bundle, batch["image"][i:i + 1], keep=True)
    f = bundle.formats
    n = int(emu["n_clusters"][0])
    jets = batch["jets"][i, :int(batch["n_jets"][i])]
    jets = jets[(jets[:, 0] > HYPER.truth_pt_min_gev) & (np.abs(jets[:, 1]) < eta_max), :3]
    return {"display_process": np.array(PROCESS), "display_event_id": np.array(batch["event_id"][i]),
            "display_image": batch["image"][i], "display_image_mu0": batch["image_mu0"][i],
            "display_et_pred": to_float(emu["et_pred"][0], f["et_pred"]),
            "display_cluster_ieta": emu["cluster_ieta"][0, :n], "display_cluster_iphi": emu["cluster_iphi"][0, :n],
            "display_cluster_pt": to_float(emu["cluster_pt"][0, :n], f["cluster_pt"]),
            "display_pt_calib": to_float(emu["pt_calib"][0, :n], f["pt_calib"]), "display_jets": jets}


def physics_arrays(bundle: FirmwareBundle, ds: Dataset, split: str, eta_max: float,
                   batch_size: int = 128) -> dict[str, np.ndarray]:
    """The split's ttbar_had events (frozen pile-up, dataset order) through the emulator: display and matched pairs."""
    g = ds.geometry
    eta_edges, phi_edges = g.eta_edges(), g.phi_edges()
    eta_c, phi_c = (eta_edges[1:] + eta_edges[:-1]) / 2, (phi_edges[1:] + phi_edges[:-1]) / 2
    f = bundle.formats
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("truth_pt", "truth_eta", "cluster_pt", "pt_calib")}
    display, first = None, None
    for batch in ds.batches(split, batch_size, processes=[PROCESS], pileup="frozen", shuffle=False):
        first = batch if first is None else first
        if display is None:
            rich = np.nonzero(truth_pt(batch["jets"], batch["n_jets"], eta_max, DISPLAY_JETS - 1)
                              > HYPER.truth_pt_min_gev)[0]
            display = display_arrays(bundle, batch, int(rich[0]), eta_max) if rich.size else None
        emu = run_chain_gev(bundle, batch["image"])
        valid = np.arange(emu["cluster_pt"].shape[1])[None, :] < emu["n_clusters"][:, None]
        ev, t, c = matched_clusters(eta_c[emu["cluster_ieta"]], phi_c[emu["cluster_iphi"]], valid, batch["jets"],
                                    batch["n_jets"], eta_max)
        cols["truth_pt"].append(batch["jets"][ev, t, 0].astype(np.float64))
        cols["truth_eta"].append(batch["jets"][ev, t, 1].astype(np.float64))
        cols["cluster_pt"].append(to_float(emu["cluster_pt"][ev, c], f["cluster_pt"]))
        cols["pt_calib"].append(to_float(emu["pt_calib"][ev, c], f["pt_calib"]))
    if first is None:
        raise InputError(f"the {split} split has no {PROCESS} events: no event display or pT resolution")
    display = display if display is not None else display_arrays(bundle, first, 0, eta_max)
    return {"eta_edges": eta_edges, "phi_edges": phi_edges, **display, "match_process": np.array(PROCESS),
            **{f"match_{k}": np.concatenate(v) for k, v in cols.items()}}


def write_physics_arrays(run_dir: Path, bundle: FirmwareBundle, ds: Dataset, split: str, eta_max: float,
                         label: str) -> dict[str, np.ndarray]:
    """RUN/physics_arrays.npz, and the run's Figs. 6-9 in RUN/plots (quantiser, event_display,
    calibration_response, resolution .png; Fig. 10 is roc.png)."""
    arrays = physics_arrays(bundle, ds, split, eta_max)
    write_npz(Path(run_dir) / PHYSICS_ARRAYS, arrays, dtype=None)
    plots = Path(run_dir) / "plots"
    plots.mkdir(exist_ok=True)
    for name, png in (("quantiser", paper_figures.quantiser_chart({label: bundle})),
                      ("event_display", paper_figures.event_display_chart({label: arrays})),
                      ("calibration_response", paper_figures.calibration_response_chart({label: bundle}, eta_max)),
                      ("resolution", paper_figures.resolution_chart({label: arrays}))):
        (plots / f"{name}.png").write_bytes(png)
    return arrays
