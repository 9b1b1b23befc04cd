"""Dataset physics configurations: the paper's background, the calorimeter response, pile-up pool diagnostics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from codesign.data.configs import BASELINE, CONFIGS, card_config, get_config
from codesign.data.detector import Geometry, SparseCells
from codesign.data.pool_diagnostics import hardest_window_et, overlay_reuse
from codesign.data.reader import Dataset
from codesign.data.response import RESPONSES, Smearing, get_response
from codesign.data.seeds import STREAM_RESPONSE_FRESH, STREAM_RESPONSE_FROZEN
from codesign.errors import InputError
from emulation.semantics import window_mask

GEOMETRY = Geometry(50, 64, 2.5)


def _reference_smear(image: np.ndarray, entropy: list[int], geometry: Geometry) -> np.ndarray:
    """The response of one event written out from codesign/data/response.py's docstring, cell by cell."""
    response = RESPONSES["delphes-atlas"]
    uniform = np.random.default_rng(entropy)
    centres = (geometry.eta_edges()[:-1] + geometry.eta_edges()[1:]) / 2
    out = np.zeros_like(image)
    spare = None
    for (layer, row, col), et in np.ndenumerate(image):
        if et <= 0:
            continue
        if spare is not None:
            gauss, spare = spare, None
        else:
            while True:
                x1, x2 = 2.0 * uniform.random() - 1.0, 2.0 * uniform.random() - 1.0
                r2 = x1 * x1 + x2 * x2
                if 0.0 < r2 < 1.0:
                    break
            f = math.sqrt(-2.0 * math.log(r2) / r2)
            gauss, spare = x2 * f, x1 * f
        lay = response.layers[layer]
        region = next(r for r in lay.regions if abs(centres[row]) <= r.abs_eta_max)
        cosh = math.cosh(centres[row])
        energy = float(et) * cosh
        sigma = math.sqrt(region.stochastic ** 2 * energy + region.noise ** 2 + (region.constant * energy) ** 2)
        b2 = math.log1p((sigma / energy) ** 2)
        measured = energy * math.exp(math.sqrt(b2) * gauss - 0.5 * b2)
        if measured >= lay.energy_min and measured >= lay.significance_min * sigma:
            out[layer, row, col] = np.float32(measured / cosh)
    return out


def _images(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    hits = rng.random((n, *GEOMETRY.image_shape)) < 0.6
    return (rng.exponential(3.0, hits.shape) * hits).astype(np.float32)


def test_smearing_equals_the_written_definition():
    images = _images(3)
    entropies = np.array([[7, STREAM_RESPONSE_FROZEN, 1 << 40 | i] for i in range(3)])
    got = Smearing(get_response("delphes-atlas"), GEOMETRY).apply(images, entropies)
    want = np.stack([_reference_smear(images[i], entropies[i].tolist(), GEOMETRY) for i in range(3)])
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, want)
    assert (got[images == 0] == 0).all()  # empty cells stay empty, as in Delphes
    assert 0 < (got > 0).sum() < (images > 0).sum()  # zero suppression removes some cells


def test_smearing_does_not_depend_on_batching_and_ideal_is_identity():
    images, entropies = _images(6, 1), np.arange(18).reshape(6, 3)
    smear = Smearing(get_response("delphes-atlas"), GEOMETRY)
    whole = smear.apply(images, entropies)
    np.testing.assert_array_equal(np.concatenate([smear.apply(images[:2], entropies[:2]),
                                                  smear.apply(images[2:], entropies[2:])]), whole)
    assert not np.array_equal(smear.apply(images, entropies + 1), whole)
    assert Smearing(get_response("ideal"), GEOMETRY).apply(images, entropies) is images


@pytest.mark.parametrize("layer, row, et, a, b, c", [
    (0, 25, 50.0, 0.101, 0.0, 0.0017),     # EM, eta = 0.05
    (1, 25, 50.0, 0.5205, 1.59, 0.0302),   # HAD central
    (1, 45, 20.0, 0.706, 0.0, 0.05),       # HAD, eta = 2.05 (second region)
])
def test_smearing_has_the_card_resolution(layer, row, et, a, b, c):
    n = 4000
    images = np.zeros((n, *GEOMETRY.image_shape), np.float32)
    images[:, layer, row, 10] = et
    out = Smearing(get_response("delphes-atlas"), GEOMETRY).apply(images, np.arange(n)[:, None])
    cosh = math.cosh((GEOMETRY.eta_edges()[row] + GEOMETRY.eta_edges()[row + 1]) / 2)
    energy = out[:, layer, row, 10].astype(np.float64) * cosh
    e_true = et * cosh
    sigma = math.sqrt(a * a * e_true + b * b + c * c * e_true ** 2)
    assert energy.mean() == pytest.approx(e_true, abs=4 * sigma / math.sqrt(n))  # log-normal of mean E
    assert energy.std() == pytest.approx(sigma, rel=0.06)


def test_configs_and_bad_options():
    assert BASELINE == CONFIGS["baseline"] and (BASELINE.background, BASELINE.response) == ("qcd", "ideal")
    paper = get_config("paper")
    assert (paper.background, paper.response) == ("qcd_dijet", "delphes-atlas")
    assert get_config("paper", response="ideal").name == "custom"
    assert get_config("paper", background="qcd_dijet").name == "paper"
    for kwargs, message in [(dict(name="delphes"), "config 'delphes': unknown (known: baseline, paper)"),
                            (dict(name="paper", background="ttbar_had"), "background 'ttbar_had': unknown"),
                            (dict(name="paper", response="cms"), "response 'cms': unknown")]:
        with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
            get_config(**kwargs)
    assert card_config({}, "card x") == BASELINE  # cards from before configurations
    with pytest.raises(InputError, match="card x: config.response 'cms': unknown"):
        card_config({"config": {"name": "paper", "background": "qcd_dijet", "response": "cms"}}, "card x")
    with pytest.raises(InputError, match="card x: config must hold"):
        card_config({"config": {"name": "paper"}}, "card x")


def test_hardest_window_sums_inside_the_rounded_window_across_phi():
    mask = window_mask(9)
    g = Geometry(20, 16, 1.0)
    per_layer = g.eta_bins * g.phi_bins

    def cell(layer: int, row: int, col: int) -> int:
        return layer * per_layer + row * g.phi_bins + col

    events = [
        [(cell(0, 10, 0), 30.0)],                                           # one cell
        [(cell(0, 10, 0), 30.0), (cell(1, 10, 15), 5.0)],                   # both layers, phi wraps
        [(cell(0, 5, 3), 10.0), (cell(0, 12, 10), 10.0)],                   # (7, 7) apart: the cut corners
        [(cell(0, 5, 3), 10.0), (cell(0, 13, 3), 12.0)],                    # (8, 0) apart: one window holds both
        [(cell(0, 5, 3), 10.0), (cell(0, 14, 3), 12.0)],                    # (9, 0) apart: none does
        [],
    ]
    offsets = np.cumsum([0] + [len(e) for e in events])
    cells = np.array([c for e in events for c, _ in e], np.uint16)
    ets = np.array([v for e in events for _, v in e], np.float32)
    got = hardest_window_et(SparseCells(offsets, cells, ets), g, mask)
    np.testing.assert_array_equal(got, [30.0, 35.0, 10.0, 22.0, 12.0, 0.0])


def test_overlay_reuse_counts_events_behind_each_hard_pool_event():
    hardness = np.array([5.0, 60.0, 25.0, 0.0])
    # three events drawing pool events [1, 1, 0], [2, 3], [1]
    offsets, indices = np.array([0, 3, 5, 6]), np.array([1, 1, 0, 2, 3, 1])
    out = overlay_reuse(hardness, offsets, indices)
    assert out["events"] == 3 and out["draws_per_pool_event"] == 1.5
    assert out["above_20_gev"] == {"events_with_one": 3, "fraction_of_events": 1.0, "distinct_pool_events": 2,
                                   "max_events_sharing_one": 2}
    assert out["above_50_gev"] == {"events_with_one": 2, "fraction_of_events": 2 / 3, "distinct_pool_events": 1,
                                   "max_events_sharing_one": 2}
    assert out["above_100_gev"]["events_with_one"] == 0


@pytest.fixture(scope="module")
def paper_dataset(tmp_path_factory):
    from codesign.data.generate import generate

    out = tmp_path_factory.mktemp("data") / "paper"
    generate(out, preset="tiny", seed=3, processes=["qcd_dijet"], progress=False,
             config=get_config("paper"))
    return Dataset(out)


def test_paper_dataset_card_and_background(paper_dataset):
    ds = paper_dataset
    card = ds.card
    assert card["config"] == {"name": "paper", "background": "qcd_dijet", "response": "delphes-atlas"}
    assert card["response"]["name"] == "delphes-atlas" and "delphes_card_ATLAS.tcl" in card["response"]["reference"]
    assert ds.background_processes == ["qcd_dijet"] and card["processes"]["qcd_dijet"]["weighted"] is False
    assert "PhaseSpace:pTHatMin = 20." in card["processes"]["qcd_dijet"]["pythia_settings"]
    _, _, weights = ds.truth_jets("qcd_dijet")
    assert (weights == 1).all()
    diag = card["pileup"]["diagnostics"]
    assert diag["window"] == 9 and diag["pool"]["events"] == card["pileup"]["events"]
    assert diag["frozen_test_overlay"]["all"]["events"] == ds.count("test")
    assert diag["frozen_test_overlay"]["qcd_dijet"]["events"] == ds.count("test", "qcd_dijet")


def test_paper_dataset_images_are_overlay_then_response(paper_dataset):
    from codesign.data.pileup import draw_many, overlay

    ds = paper_dataset
    smear = Smearing(get_response("delphes-atlas"), ds.geometry)
    frozen = next(ds.batches("test", 16, pileup="frozen", shuffle=False))
    offsets, indices = ds.frozen_overlay("test")
    n = len(frozen["event_id"])
    rows = offsets[:n + 1]
    piled = overlay(frozen["image_mu0"], ds.pool, rows - rows[0], indices[rows[0]:rows[-1]])
    entropy = [[ds.seed, STREAM_RESPONSE_FROZEN, int(e)] for e in frozen["event_id"]]
    np.testing.assert_array_equal(frozen["image"], smear.apply(piled, np.array(entropy)))

    fresh = next(ds.batches("test", 16, pileup="fresh", shuffle=False, seed=5))  # independent draws on test
    o, i = draw_many([[ds.seed, 1, 5, 0, int(e)] for e in fresh["event_id"]], ds.mu, ds.pool.n_events)
    entropy = [[ds.seed, STREAM_RESPONSE_FRESH, 5, 0, int(e)] for e in fresh["event_id"]]
    np.testing.assert_array_equal(fresh["image"], smear.apply(overlay(fresh["image_mu0"], ds.pool, o, i),
                                                              np.array(entropy)))
    assert not np.array_equal(fresh["image"], frozen["image"])
