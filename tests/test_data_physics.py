"""Physics content of generated events: images, truth jets, pile-up overlay."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from codesign.data.detector import Geometry, calo_layer
from codesign.data.events import event_particles
from codesign.data.jets import MAX_JETS
from codesign.data.pileup import MU, draw_many
from codesign.data.processes import PROCESSES
from codesign.data.reader import Dataset


@pytest.fixture(scope="module")
def ds(tiny_dataset):
    return Dataset(tiny_dataset)


def _first_shard(ds: Dataset, process: str) -> dict:
    return ds.card["processes"][process]["shards"][0]


def test_batch_shapes_and_dtypes(ds):
    g = ds.geometry
    batch = next(ds.batches("train", batch_size=8))
    want = {"image": (np.float32, (8, 2, g.eta_bins, g.phi_bins)),
            "image_mu0": (np.float32, (8, 2, g.eta_bins, g.phi_bins)),
            "jets": (np.float32, (8, MAX_JETS, 4)), "n_jets": (np.int32, (8,)), "label": (np.int8, (8,)),
            "process": (np.int16, (8,)), "weight": (np.float32, (8,)), "event_id": (np.int64, (8,))}
    assert set(batch) == set(want)
    for key, (dtype, shape) in want.items():
        assert batch[key].dtype == dtype and batch[key].shape == shape, key
    assert (g.eta_bins, g.phi_bins, g.eta_max) == (50, 64, 2.5)  # the default spec's detector


@pytest.mark.parametrize("process", ["ggHH_4b", "vbfHH_4b", "ttbar_had", "ZH_nnbb", "qcd"])
def test_image_sum_equals_visible_et_in_acceptance(ds, process):
    shard = _first_shard(ds, process)
    index = 3
    with h5py.File(ds.path / shard["file"]) as f:
        image = f["image_mu0"][index]
    particles = event_particles(PROCESSES[process], shard["pythia_seed"], index)
    assert not np.isin(np.abs(particles.pid), [12, 14, 16]).any()
    layer = calo_layer(particles.pid)
    inside = np.abs(particles.eta) < ds.geometry.eta_max
    for lay in (0, 1):
        expected = particles.et[inside & (layer == lay)].sum()
        assert image[lay].sum(dtype=np.float64) == pytest.approx(expected, rel=1e-6, abs=1e-4)
    # independent binning: row = eta bin from -eta_max, column = phi bin from -pi
    g: Geometry = ds.geometry
    keep = inside & (layer >= 0)
    ieta = np.digitize(particles.eta[keep], g.eta_edges()) - 1
    iphi = (np.digitize(particles.phi[keep], g.phi_edges()) - 1) % g.phi_bins
    reference = np.zeros(image.shape)
    np.add.at(reference, (layer[keep], ieta, iphi), particles.et[keep])
    np.testing.assert_allclose(image, reference, rtol=1e-6, atol=1e-5)


def test_signal_events_have_truth_jets(ds):
    for name in ds.signal_processes:
        jets, n_jets, weight = ds.truth_jets(name)
        assert (n_jets >= 1).mean() >= 0.95, name
        assert n_jets.mean() >= (2 if name == "ZH_nnbb" else 3), name
        assert (weight == 1).all()
        pt = jets[:, :, 0]
        assert (np.diff(pt, axis=1) <= 0).all(), "jets sorted by pt, zero padded"
        filled = np.arange(MAX_JETS) < n_jets[:, None]
        assert (pt[filled] > 20).all() and (jets[~filled] == 0).all()
    _, _, qcd_weight = ds.truth_jets("qcd")
    assert (qcd_weight > 0).all() and (qcd_weight < 1).any(), "QCD is bias-weighted"


def test_overlay_multiplicity_is_poisson_mu():
    n = 4000
    offsets, indices = draw_many([[7, 1, 0, i] for i in range(n)], MU, 1000)
    counts = np.diff(offsets)
    assert abs(counts.mean() - MU) < 5 * np.sqrt(MU / n)
    assert abs(counts.var() / MU - 1) < 0.15
    assert indices.min() >= 0 and indices.max() < 1000


def test_frozen_overlay_multiplicity_and_sum(ds):
    g = ds.geometry
    pool = ds.pool
    dense_pool = np.zeros((pool.n_events, g.n_cells))
    np.add.at(dense_pool, (np.repeat(np.arange(pool.n_events), np.diff(pool.offsets)), pool.cell.astype(int)),
              pool.et)
    counts = []
    for name in ds.processes:
        with h5py.File(ds.path / _first_shard(ds, name)["file"]) as f:
            counts.append(np.diff(f["frozen_offsets"][()]))
    counts = np.concatenate(counts)
    assert abs(counts.mean() - MU) < 5 * np.sqrt(MU / len(counts))

    batch = next(ds.batches("test", batch_size=6, pileup="frozen", shuffle=False))
    with h5py.File(ds.path / _first_shard(ds, ds.processes[0])["file"]) as f:
        ids = f["event_id"][()]
        offsets, stored = f["frozen_offsets"][()], f["frozen_pool_index"][()]
    for row, eid in enumerate(batch["event_id"]):
        i = int(np.flatnonzero(ids == eid)[0])
        pileup = dense_pool[stored[offsets[i]:offsets[i + 1]]].sum(axis=0)
        expected = batch["image_mu0"][row].reshape(-1).astype(np.float64) + pileup
        np.testing.assert_allclose(batch["image"][row].reshape(-1), expected, rtol=1e-6, atol=1e-4)
    assert (batch["image"] >= batch["image_mu0"]).all()
