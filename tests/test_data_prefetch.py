"""prefetch: same items in the same order, producer errors reach the consumer, early stops leave no thread."""

from __future__ import annotations

import itertools
import threading
import time

import numpy as np
import pytest

from codesign.data.prefetch import prefetch
from codesign.data.reader import Dataset


def _prefetch_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "prefetch" and t.is_alive()]


@pytest.mark.parametrize("depth", [1, 2, 5])
def test_same_items_in_the_same_order(depth):
    def slow_source():
        for i in range(30):
            if i % 7 == 0:
                time.sleep(0.005)
            yield i

    got = []
    for item in prefetch(slow_source(), depth):
        if item % 5 == 0:
            time.sleep(0.005)  # a slow consumer lets the queue fill up
        got.append(item)
    assert got == list(range(30))
    assert list(prefetch([], depth)) == []
    assert not _prefetch_threads()


def test_runs_ahead_in_another_thread():
    produced = []

    def source():
        for i in range(10):
            produced.append((i, threading.current_thread().name))
            yield i

    it = prefetch(source(), depth=3)
    assert next(it) == 0
    deadline = time.monotonic() + 5
    while len(produced) < 5 and time.monotonic() < deadline:
        time.sleep(0.001)
    time.sleep(0.05)
    assert len(produced) == 5, "one item handed over, `depth` queued, one waiting for room, no further"
    assert {name for _, name in produced} == {"prefetch"}
    assert list(it) == list(range(1, 10))


def test_a_producer_error_is_raised_in_the_consumer():
    def failing():
        yield from range(3)
        raise KeyError("shard 7 is corrupt")

    got = []
    with pytest.raises(KeyError, match="shard 7 is corrupt"):
        for item in prefetch(failing()):
            got.append(item)
    assert got == [0, 1, 2]
    assert not _prefetch_threads()


@pytest.mark.parametrize("slow", [False, True])
def test_an_early_stop_stops_the_producer(slow):
    closed = threading.Event()

    def endless():
        try:
            for i in itertools.count():
                if slow:
                    time.sleep(0.02)
                yield i
        finally:
            closed.set()

    it = prefetch(endless(), depth=2)
    for item in it:
        if item == 5:
            break
    it.close()
    assert closed.is_set(), "the source iterator is closed"
    assert not _prefetch_threads()
    for item in prefetch(endless(), depth=2):  # dropped without close(): garbage collection closes it
        if item == 2:
            break
    assert not _prefetch_threads()


def test_bad_depth():
    with pytest.raises(ValueError, match="depth 0"):
        next(prefetch(range(3), depth=0))


def test_prefetched_batches_equal_the_batches(tiny_dataset):
    ds = Dataset(tiny_dataset)
    want = list(ds.batches("train", batch_size=16, epoch=1, seed=2))
    got = list(prefetch(ds.batches("train", batch_size=16, epoch=1, seed=2), depth=3))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        for k in w:
            np.testing.assert_array_equal(g[k], w[k])
