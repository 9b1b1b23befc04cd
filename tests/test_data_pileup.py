"""The numba pile-up kernels against straightforward numpy references: identical draws and images."""

from __future__ import annotations

import numpy as np
import pytest

from codesign.data.detector import SparseCells
from codesign.data.pileup import draw_many, overlay


def reference_draw(entropy: list[int], mu: float, pool_size: int) -> np.ndarray:
    """The definition: numpy's Generator seeded with the entropy, a Poisson count, then the indices."""
    rng = np.random.default_rng(entropy)
    return rng.integers(0, pool_size, size=rng.poisson(mu), dtype=np.int32)


def reference_overlay(images: np.ndarray, pool: SparseCells, offsets: np.ndarray,
                      indices: np.ndarray) -> np.ndarray:
    """Per event: a float64 sum from zero over the draws in order and each one's cells in stored order
    (np.add.at adds in index order), plus the image, rounded once to float32."""
    out = np.empty_like(images)
    for i in range(len(images)):
        draws = indices[offsets[i]:offsets[i + 1]]
        take = np.concatenate([np.arange(pool.offsets[p], pool.offsets[p + 1]) for p in draws] or [[]]).astype(int)
        acc = np.zeros(images[i].size)
        np.add.at(acc, pool.cell[take].astype(int), pool.et[take].astype(np.float64))
        out[i] = (images[i].reshape(-1).astype(np.float64) + acc).astype(np.float32).reshape(images[i].shape)
    return out


@pytest.mark.parametrize("mu, pool_size", [(200.0, 16000), (200.0, 3), (37.5, 2 ** 31 - 1), (4.5, 1000),
                                           (0.0, 10), (20.0, 1)])
def test_draw_many_equals_numpy_generator(mu, pool_size):
    rs = np.random.default_rng(1)
    # the entropy shapes in use: (seed, stream, reader seed, epoch, event id), ids above 2^32
    entropies = [[int(rs.integers(0, 2 ** 31)), 1, int(rs.integers(0, 9)), int(rs.integers(0, 1000)),
                  (int(rs.integers(0, 5)) << 40) | int(rs.integers(0, 2 ** 20))] for _ in range(400)]
    # short and long entropies (pool padding and extra mixing), zeros and words above 2^32
    groups = [entropies, [[0], [5], [2 ** 40 + 3]], [[2 ** 62, 0, 7], [5, 2, 0]], [[0, 2, 0, 0, 0, 0, 0, 0, 1]]]
    for group in groups:
        offsets, indices = draw_many(group, mu, pool_size)
        for i, e in enumerate(group):
            np.testing.assert_array_equal(indices[offsets[i]:offsets[i + 1]], reference_draw(e, mu, pool_size))

def test_draw_many_checks_its_input():
    assert [len(a) for a in draw_many(np.zeros((0, 5), np.int64), 200.0, 10)] == [1, 0]
    with pytest.raises(ValueError, match="non-negative"):
        draw_many([[1, -2]], 200.0, 10)
    with pytest.raises(ValueError, match="out of range"):
        draw_many([[1, 2]], 200.0, 0)


def _random_pool(rs: np.random.Generator, n_events: int, n_cells: int) -> SparseCells:
    lengths = rs.integers(0, 40, n_events)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    # cells repeat inside an event, and E_T spans 16 decades: any change of summation order shows
    cell = rs.integers(0, n_cells, offsets[-1]).astype(np.uint16)
    et = (rs.random(offsets[-1]) * 10.0 ** rs.integers(-8, 8, offsets[-1])).astype(np.float32)
    return SparseCells(offsets, cell, et)


def test_overlay_is_bit_identical_to_the_float64_reference():
    rs = np.random.default_rng(2)
    pool = _random_pool(rs, 50, 24)
    images = (rs.random((30, 2, 3, 4)) * 10.0 ** rs.integers(-6, 6, (30, 2, 3, 4))).astype(np.float32)
    images[3] = 0.0
    offsets, indices = draw_many([[9, i] for i in range(30)], 40.0, pool.n_events)
    got = overlay(images, pool, offsets, indices)
    want = reference_overlay(images, pool, offsets, indices)
    assert got.dtype == np.float32 and got.shape == images.shape
    np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))
    # per event: the same image whatever the batch it is computed in
    one = overlay(images[7:8], pool, offsets[7:9] - offsets[7], indices[offsets[7]:offsets[8]])
    np.testing.assert_array_equal(one.view(np.uint32), want[7:8].view(np.uint32))



def test_overlay_keeps_the_summation_order():
    """Values whose float32 result depends on the order: 1 + 2^-24 + 4 x 2^-54 in float64 rounds to 1
    when the small terms come last, to 1 + 2^-23 when they come first."""
    big, half, tiny = 1.0, 2.0 ** -24, 2.0 ** -54
    cells = [[(0, big)], [(0, half)], [(0, tiny)] * 4, [(1, half)] + [(1, tiny)] * 4,
             [(0, big), (0, half)] + [(0, tiny)] * 4]
    pool = SparseCells(np.cumsum([0] + [len(c) for c in cells]).astype(np.int64),
                       np.array([c for event in cells for c, _ in event], np.uint16),
                       np.array([e for event in cells for _, e in event], np.float32))
    images = np.zeros((4, 2), np.float32)
    images[2, 1] = big  # the image is added after the pile-up sum
    draws = [[0, 1, 2], [2, 1, 0], [3], [4]]
    offsets = np.cumsum([0] + [len(d) for d in draws]).astype(np.int64)
    got = overlay(images, pool, offsets, np.array([p for d in draws for p in d], np.int32))
    np.testing.assert_array_equal(got[:, 0], np.float32([1.0, 1.0 + 2.0 ** -23, 0.0, 1.0]))
    assert got[2, 1] == np.float32(1.0 + 2.0 ** -23)
    np.testing.assert_array_equal(got, reference_overlay(images, pool, offsets,
                                                          np.array([p for d in draws for p in d], np.int32)))

def test_overlay_rejects_bad_indices():
    pool = _random_pool(np.random.default_rng(3), 5, 8)
    images = np.zeros((1, 8), np.float32)
    with pytest.raises(ValueError, match="pool index out of range"):
        overlay(images, pool, np.array([0, 1]), np.array([5], np.int32))
    with pytest.raises(ValueError, match="offsets"):
        overlay(images, pool, np.array([0, 2]), np.array([1], np.int32))
