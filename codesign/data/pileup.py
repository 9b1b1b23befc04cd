"""Pile-up: mu ~ Poisson(<mu>) soft-QCD events drawn from the pool and added cell by cell.

The calorimeter is linear, so overlaying at cell level equals overlaying particles. Every draw is
seeded by a tuple of integers (see `codesign.data.seeds`): fresh pile-up differs between epochs,
yet any epoch can be reproduced exactly.
"""

from __future__ import annotations

import numpy as np

from codesign.data.detector import SparseCells

MU = 200.0


def draw_pileup(entropy: list[int], mu: float, pool_size: int) -> np.ndarray:
    """Pool indices (int32) of one event's pile-up: n ~ Poisson(mu) draws with replacement."""
    rng = np.random.default_rng(entropy)
    return rng.integers(0, pool_size, size=rng.poisson(mu), dtype=np.int32)


def draw_many(entropies: list[list[int]], mu: float, pool_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pile-up of many events as CSR: (offsets int64 (n+1,), pool indices int32)."""
    draws = [draw_pileup(e, mu, pool_size) for e in entropies]
    offsets = np.zeros(len(draws) + 1, np.int64)
    np.cumsum([len(d) for d in draws], out=offsets[1:])
    return offsets, (np.concatenate(draws) if draws else np.zeros(0, np.int32))


def overlay(images: np.ndarray, pool: SparseCells, offsets: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """images (float32, N x cells...) plus, for event i, the pool events indices[offsets[i]:offsets[i+1]].

    Sums are taken in float64 and rounded once to float32, so the result does not depend on batching.
    """
    n = len(images)
    n_cells = images[0].size if n else 0
    owner = np.repeat(np.arange(n, dtype=np.int64), np.diff(offsets))
    starts = pool.offsets[indices]
    lengths = pool.offsets[indices + 1] - starts
    total = int(lengths.sum())
    # position of every pool cell to gather: start of its pool event plus its rank inside it
    first = np.cumsum(lengths) - lengths
    pos = np.repeat(starts - first, lengths) + np.arange(total, dtype=np.int64)
    target = np.repeat(owner, lengths) * n_cells + pool.cell[pos]
    added = np.bincount(target, weights=pool.et[pos], minlength=n * n_cells)
    out = images.reshape(n, -1).astype(np.float64) + added.reshape(n, -1)
    return out.astype(np.float32).reshape(images.shape)
