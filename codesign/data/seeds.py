"""Every random stream of a dataset, each seeded by a tuple of integers that starts with the dataset seed.

Streams never share a tuple prefix, so changing how one is drawn cannot shift another.
"""

from __future__ import annotations

import numpy as np

STREAM_PYTHIA = 0      # (seed, stream, process code, shard index) -> Pythia's Random:seed
STREAM_FRESH = 1       # (seed, stream, reader seed, epoch, event id) -> on-the-fly pile-up
STREAM_FROZEN = 2      # (seed, stream, event id) -> the stored frozen overlay
STREAM_SPLIT = 3       # (seed, stream, process code) -> train/val/test assignment
STREAM_SHUFFLE = 4     # (seed, stream, reader seed, epoch) -> batch order
STREAM_RESPONSE_FRESH = 5   # (seed, stream, reader seed, epoch, event id) -> calorimeter response, fresh pile-up
STREAM_RESPONSE_FROZEN = 6  # (seed, stream, event id) -> calorimeter response, frozen pile-up

_PYTHIA_SEED_MAX = 900_000_000  # Pythia accepts 1..900000000 (0 means "seed from the clock")


def pythia_seed(seed: int, process_code: int, shard_index: int) -> int:
    """Pythia's seed for one shard: distinct per (dataset seed, process, shard), never 0."""
    state = np.random.SeedSequence([seed, STREAM_PYTHIA, process_code, shard_index]).generate_state(1)[0]
    return int(state) % _PYTHIA_SEED_MAX + 1


def event_id(process_code: int, index: int) -> int:
    """Stable global id of event `index` of a process (the process code in the high bits)."""
    return (process_code << 40) | index
