"""The streaming reader: splits, batch order, pile-up modes, input checks."""

from __future__ import annotations

import numpy as np
import pytest

from codesign.data.reader import Dataset
from codesign.errors import InputError


@pytest.fixture(scope="module")
def ds(tiny_dataset):
    return Dataset(tiny_dataset)


def _collect(batches) -> dict[str, np.ndarray]:
    batches = list(batches)
    return {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}


def test_processes_and_card(ds):
    assert ds.processes == ["ggHH_4b", "vbfHH_4b", "ttbar_had", "ZH_nnbb", "qcd"]
    assert ds.signal_processes == ["ggHH_4b", "vbfHH_4b", "ttbar_had", "ZH_nnbb"]
    assert ds.background_processes == ["qcd"]
    assert len(ds.card["content_hash"]) == 64
    assert ds.card["geometry"]["eta_bins"] == 50 and ds.card["pileup"]["mu"] == 200
    assert "heavy CP-even scalar" in ds.card["hh_proxy_note"]


def test_split_sizes_follow_the_paper(ds):
    for name in ds.processes:
        n = ds.card["processes"][name]["events"]
        assert ds.count("test", name) == n // 2
        assert ds.count("val", name) == round(0.2 * (n - n // 2))
        assert sum(ds.count(s, name) for s in ("train", "val", "test")) == n
    assert ds.count("train") == sum(ds.count("train", n) for n in ds.processes)


def test_splits_are_disjoint_and_complete(ds):
    ids = {s: _collect(ds.batches(s, batch_size=7, pileup="none" if s != "test" else "frozen"))["event_id"]
           for s in ("train", "val", "test")}
    for s, v in ids.items():
        assert len(v) == len(set(v)) == ds.count(s)
    assert not set(ids["train"]) & set(ids["val"]) and not set(ids["train"]) & set(ids["test"])
    assert not set(ids["val"]) & set(ids["test"])


def test_batches_are_full_except_the_last(ds):
    sizes = [len(b["event_id"]) for b in ds.batches("train", batch_size=16, pileup="none")]
    assert sizes[:-1] == [16] * (len(sizes) - 1) and 0 < sizes[-1] <= 16
    assert sum(sizes) == ds.count("train")


def test_unshuffled_order_is_deterministic_and_sorted(ds):
    a = _collect(ds.batches("val", batch_size=5, shuffle=False, pileup="frozen"))
    b = _collect(ds.batches("val", batch_size=9, shuffle=False, pileup="frozen"))
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert (np.diff(a["event_id"]) > 0).all()
    assert (np.diff(a["process"]) >= 0).all()
    roles = {i: int(n in ds.signal_processes) for i, n in enumerate(ds.processes)}
    assert all(lab == roles[p] for lab, p in zip(a["label"], a["process"]))


def test_fresh_pileup_is_reproducible_and_changes_with_epoch(ds):
    e0 = _collect(ds.batches("train", batch_size=32, epoch=0, seed=3))
    again = _collect(ds.batches("train", batch_size=32, epoch=0, seed=3))
    e1 = _collect(ds.batches("train", batch_size=32, epoch=1, seed=3))
    for k in e0:
        np.testing.assert_array_equal(e0[k], again[k])
    assert not np.array_equal(e0["event_id"], e1["event_id"]), "shuffle order changes per epoch"
    order0, order1 = np.argsort(e0["event_id"]), np.argsort(e1["event_id"])
    np.testing.assert_array_equal(e0["image_mu0"][order0], e1["image_mu0"][order1])
    assert not np.array_equal(e0["image"][order0], e1["image"][order1]), "fresh pile-up per epoch"


def test_frozen_pileup_is_the_same_every_time(ds):
    a = _collect(ds.batches("test", batch_size=10, pileup="frozen", seed=1, epoch=0))
    b = _collect(ds.batches("test", batch_size=10, pileup="frozen", seed=2, epoch=5))
    oa, ob = np.argsort(a["event_id"]), np.argsort(b["event_id"])
    np.testing.assert_array_equal(a["image"][oa], b["image"][ob])


def test_no_pileup_gives_the_mu0_image(ds):
    batch = next(ds.batches("train", batch_size=4, pileup="none"))
    np.testing.assert_array_equal(batch["image"], batch["image_mu0"])


def test_process_selection(ds):
    got = _collect(ds.batches("train", batch_size=8, processes=["qcd", "ZH_nnbb"], pileup="none"))
    assert set(got["process"]) == {ds.processes.index("qcd"), ds.processes.index("ZH_nnbb")}
    assert len(got["event_id"]) == ds.count("train", "qcd") + ds.count("train", "ZH_nnbb")


@pytest.mark.parametrize("kwargs, message", [
    (dict(split="test", pileup="fresh"), "pileup 'fresh' is not allowed for the test split"),
    (dict(split="train", pileup="frozen"), "pileup 'frozen' is not allowed for the train split"),
    (dict(split="train", pileup="pu300"), "pileup 'pu300': unknown"),
    (dict(split="holdout"), "split 'holdout': unknown (known: train, val, test)"),
    (dict(split="train", processes=["WW"]), "process 'WW': not in dataset"),
    (dict(split="train", batch_size=0), "batch_size 0: expected an integer >= 1"),
])
def test_bad_reader_arguments(ds, kwargs, message):
    with pytest.raises(InputError) as err:
        next(ds.batches(**kwargs))
    assert message in str(err.value)
