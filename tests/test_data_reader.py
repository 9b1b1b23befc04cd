"""The streaming reader: splits, batch order, pile-up modes, input checks."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from test_data_pileup import reference_draw, reference_overlay

from codesign.data import reader
from codesign.data.reader import Dataset
from codesign.data.seeds import STREAM_FRESH, STREAM_SHUFFLE
from codesign.data.splits import SPLITS, split_codes
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
    (dict(split="test", pileup="none"), "pileup 'none' is not allowed for the test split"),
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


# --------------------------------------------------------------------------- exactness against a reference


def _reference_batches(ds: Dataset, split: str, batch_size: int, processes: list[str] | None, pileup: str,
                       epoch: int, shuffle: bool, seed: int) -> list[dict[str, np.ndarray]]:
    """docs/data.md read literally, one event at a time: blocks of BLOCK_EVENTS per shard, in a random
    order, BUFFER_BLOCKS at a time shuffled together with the events left over from the last buffer."""
    blocks = []
    for index, name in enumerate(ds.processes):
        if processes is not None and name not in processes:
            continue
        entry = ds.card["processes"][name]
        codes = split_codes(entry["events"], ds.seed, entry["code"])
        for shard in entry["shards"]:
            with h5py.File(ds.path / shard["file"]) as f:
                a = {k: f[k][()] for k in f}
            mine = codes[shard["first_event"]:shard["first_event"] + shard["n_events"]] == SPLITS.index(split)
            for lo in range(0, shard["n_events"], reader.BLOCK_EVENTS):
                rows = [lo + r for r in np.flatnonzero(mine[lo:lo + reader.BLOCK_EVENTS])]
                if rows:
                    blocks.append([{"image_mu0": a["image_mu0"][r], "jets": a["jets"][r], "n_jets": a["n_jets"][r],
                                    "weight": a["weight"][r], "event_id": a["event_id"][r],
                                    "label": np.int8(entry["role"] == "signal"), "process": np.int16(index),
                                    "frozen": a["frozen_pool_index"][a["frozen_offsets"][r]:a["frozen_offsets"][r + 1]]}
                                   for r in rows])
    rng = np.random.default_rng([ds.seed, STREAM_SHUFFLE, seed, epoch]) if shuffle else None
    if rng is not None:
        blocks = [blocks[i] for i in rng.permutation(len(blocks))]
    grouped, carry = [], []
    for start in range(0, len(blocks), reader.BUFFER_BLOCKS):
        buffer = carry + [ev for block in blocks[start:start + reader.BUFFER_BLOCKS] for ev in block]
        if rng is not None:
            buffer = [buffer[i] for i in rng.permutation(len(buffer))]
        full = len(buffer) - len(buffer) % batch_size
        grouped += [buffer[lo:lo + batch_size] for lo in range(0, full, batch_size)]
        carry = buffer[full:]
    grouped += [carry] if carry else []
    out = []
    for events in grouped:
        batch = {k: np.stack([ev[k] for ev in events]) for k in ("image_mu0", "jets", "n_jets", "weight", "event_id",
                                                                  "label", "process")}
        if pileup == "none":
            batch["image"] = batch["image_mu0"].copy()
        else:
            draws = [ev["frozen"] if pileup == "frozen" else
                     reference_draw([ds.seed, STREAM_FRESH, seed, epoch, int(ev["event_id"])], ds.mu, ds.pool.n_events)
                     for ev in events]
            offsets = np.cumsum([0] + [len(d) for d in draws])
            batch["image"] = reference_overlay(batch["image_mu0"], ds.pool, offsets, np.concatenate(draws))
        out.append(batch)
    return out


def _assert_same_batches(got: list[dict[str, np.ndarray]], want: list[dict[str, np.ndarray]]) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert list(g) == ["image", "image_mu0", "jets", "n_jets", "weight", "event_id", "label", "process"]
        for k in g:
            assert g[k].dtype == w[k].dtype and g[k].shape == w[k].shape, k
            np.testing.assert_array_equal(g[k].view(np.uint8), w[k].view(np.uint8), err_msg=k)


READS = [  # (split, batch_size, processes, pileup, epoch, shuffle, seed)
    ("train", 16, None, "fresh", 0, True, 0),
    ("train", 7, ["qcd", "ggHH_4b"], "fresh", 3, True, 5),
    ("train", 9, None, "none", 1, False, 0),
    ("val", 64, None, "fresh", 2, False, 1),
    ("val", 5, None, "frozen", 0, True, 2),
    ("test", 11, None, "frozen", 0, False, 0),
]


@pytest.mark.parametrize("block_events, buffer_blocks, cache_mb", [(256, 8, 0), (8, 3, 0), (8, 3, 0.05), (8, 3, 64)])
def test_batches_equal_the_reference(tiny_dataset, monkeypatch, block_events, buffer_blocks, cache_mb):
    """Every key, bit for bit, for shuffled and ordered reads of each pile-up mode; with small blocks
    (several per shard, leftovers carried between buffers) and with no, a partial and a full cache,
    read twice (the second time from the cache)."""
    monkeypatch.setattr(reader, "BLOCK_EVENTS", block_events)
    monkeypatch.setattr(reader, "BUFFER_BLOCKS", buffer_blocks)
    ds = Dataset(tiny_dataset, cache_mb=cache_mb)
    for _ in range(2):
        for split, batch_size, processes, pileup, epoch, shuffle, seed in READS:
            got = list(ds.batches(split, batch_size, processes, pileup, epoch, shuffle, seed))
            want = _reference_batches(ds, split, batch_size, processes, pileup, epoch, shuffle, seed)
            _assert_same_batches(got, want)
    assert 0 < ds._cache_used <= ds.cache_bytes or cache_mb == 0


def test_sparse_images_keep_every_bit():
    """Negative zeros, subnormals and NaNs survive the sparse form (only +0.0 cells are dropped)."""
    dense = np.zeros((3, 6), np.float32)
    dense[0, [1, 4]] = [-0.0, 1e-45]
    dense[2, [0, 5]] = [np.nan, -3.5]
    sparse = reader._sparse(dense, np.array([2, 0]), np.dtype(np.uint16))
    out = np.zeros((2, 6), np.float32)
    reader._densify(sparse.offsets, sparse.cell, sparse.et, np.array([1, 0]), out)
    np.testing.assert_array_equal(out.view(np.uint32), dense[[0, 2]].view(np.uint32))
