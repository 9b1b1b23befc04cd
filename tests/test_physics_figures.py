"""The paper's figures: cluster-truth matching (Eq. 16), resolution binning, |eta| ranges, the charts of two runs."""

from __future__ import annotations

import numpy as np
import pytest

from codesign.report import paper_figures as pf
from codesign.train.physics_arrays import matched_clusters


def test_matched_clusters_are_the_unique_pairs_within_delta_r():
    # event 0: jets (pT, eta, phi, -); clusters (eta, phi, valid)
    jets = np.zeros((2, 6, 4), np.float32)
    jets[0] = [[50, 0.0, 0.0, 0],     # 0: cluster 0 at Delta R 0.14 -> pair
               [40, 1.0, 3.1, 0],     # 1: cluster 1 across the phi edge (Delta phi 0.083) -> pair
               [30, -1.0, 0.0, 0],    # 2: clusters 2 and 3 both within 0.3 -> not unique, no pair
               [15, 2.0, 1.0, 0],     # 3: below the truth pT cut (20 GeV) -> no pair
               [60, 2.55, -1.0, 0],   # 4: outside |eta| < 2.5 -> no pair
               [30, 0.0, 2.0, 0]]     # 5: next to cluster 5, which is not valid -> no pair
    # event 1: two jets within 0.3 of one cluster -> the cluster is not unique; jet 2 is beyond n_jets
    jets[1, :3] = [[50, 0.0, 0.0, 0], [45, 0.2, 0.0, 0], [50, 1.0, 1.0, 0]]
    eta = np.array([[0.1, 1.0, -1.1, -0.9, 2.0, 0.0, 2.45], [0.1, 0, 1.0, 0, 0, 0, 0]])
    phi = np.array([[0.1, -3.1, 0.0, 0.05, 1.0, 2.0, -1.0], [0.0, 0, 1.0, 0, 0, 0, 0]])
    valid = np.array([[1, 1, 1, 1, 1, 0, 1], [1, 0, 1, 0, 0, 0, 0]], bool)
    ev, t, c = matched_clusters(eta, phi, valid, jets, np.array([6, 2]), 2.5)
    assert list(zip(ev, t, c)) == [(0, 0, 0), (0, 1, 1)]


def test_matched_clusters_delta_r_boundary():
    jets = np.array([[[50, 0.0, 0.0, 0], [50, 1.0, 0.0, 0]]], np.float32)
    ev, t, c = matched_clusters(np.array([[0.29, 1.31]]), np.array([[0.0, 0.0]]), np.ones((1, 2), bool),
                                jets, np.array([2]), 2.5)
    assert list(zip(ev, t, c)) == [(0, 0, 0)]  # Delta R 0.31 is out


def test_resolution_bins_exact():
    truth = np.array([25, 25, 25, 25, 25, 35, 35, 30, 600, 10.0])
    err = np.array([-10, 0, 10, 20, 30, 5, 5, 100, 1, 1.0])
    b = pf.resolution_bins(truth, err, np.array([20.0, 30.0, 40.0]), min_pairs=3)
    assert b["count"].tolist() == [5, 3]  # 30 GeV falls in [30, 40); 600 and 10 GeV in no bin
    assert b["median"].tolist() == [10.0, 5.0]
    assert b["q25"].tolist() == [0.0, 5.0]
    assert b["q75"].tolist() == [20.0, 52.5]
    few = pf.resolution_bins(truth, err, np.array([20.0, 30.0, 40.0]), min_pairs=4)
    assert few["median"][0] == 10.0 and np.isnan(few["median"][1]) and np.isnan(few["q75"][1])


def test_percentage_error():
    a = {"match_pt_calib": np.array([60.0, 20.0]), "match_truth_pt": np.array([50.0, 40.0])}
    assert pf.percentage_error(a).tolist() == [20.0, -50.0]


def test_abs_eta_ranges():
    rows = np.array([1, 1, 0, 0, 0, 0, 0, 0, 1, 1])  # rows of 0.2 over |eta| < 1
    assert pf.abs_eta_ranges(rows, 1.0) == [pytest.approx((0.0, 0.6)), pytest.approx((0.6, 1.0))]


def _run_arrays(seed: int) -> dict[str, np.ndarray]:
    """physics_arrays.npz of a made-up run: one display event, 200 matched pairs."""
    rng = np.random.default_rng(seed)
    truth = rng.uniform(20, 400, 200)
    image = rng.exponential(0.5, (2, 50, 64)).astype(np.float32)
    return {"eta_edges": np.linspace(-2.5, 2.5, 51), "phi_edges": np.linspace(-np.pi, np.pi, 65),
            "display_process": np.array("ttbar_had"), "display_event_id": np.array(7), "display_image": image,
            "display_image_mu0": np.where(image > 2, image, 0), "display_et_pred": image.sum(axis=0) / 2,
            "display_cluster_ieta": np.array([10, 30]), "display_cluster_iphi": np.array([5, 60]),
            "display_cluster_pt": np.array([40.0, 25.0]), "display_pt_calib": np.array([45.0, 22.0]),
            "display_jets": np.array([[42.0, -1.5, -2.6], [30.0, 0.5, 2.8]], np.float32),
            "match_process": np.array("ttbar_had"), "match_truth_pt": truth,
            "match_pt_calib": truth * rng.normal(1, 0.2, 200)}


def _png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def test_two_run_charts_have_a_panel_per_run():
    one = {"sequential": _run_arrays(0)}
    two = {"sequential": _run_arrays(0), "e2e": _run_arrays(1)}
    w1, h1 = _png_size(pf.event_display_chart(one))
    w2, h2 = _png_size(pf.event_display_chart(two))
    assert h1 < h2  # input, truth and E_pred in one row; with two runs, 2 x 2
    r1, r2 = _png_size(pf.resolution_chart(one)), _png_size(pf.resolution_chart(two))
    assert r2[0] > 1.8 * r1[0]  # side by side
