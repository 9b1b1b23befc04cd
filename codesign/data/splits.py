"""Train/validation/test assignment as in the paper: per process, a random 50/50 train/test split,
then 20 % of the training events set aside for validation; deterministic from the dataset seed."""

from __future__ import annotations

import numpy as np

from codesign.data.seeds import STREAM_SPLIT
from codesign.errors import InputError

SPLITS = ("train", "val", "test")
TEST_FRACTION = 0.5
VAL_FRACTION_OF_TRAIN = 0.2


def split_codes(n_events: int, seed: int, process_code: int) -> np.ndarray:
    """Split of each event of a process, int8 (n_events,): index into SPLITS."""
    perm = np.random.default_rng([seed, STREAM_SPLIT, process_code]).permutation(n_events)
    n_test = round(n_events * TEST_FRACTION)
    n_val = round((n_events - n_test) * VAL_FRACTION_OF_TRAIN)
    codes = np.zeros(n_events, np.int8)
    codes[perm[:n_test]] = SPLITS.index("test")
    codes[perm[n_test:n_test + n_val]] = SPLITS.index("val")
    return codes


def check_split(split: str) -> int:
    """The index of `split` in SPLITS, or an InputError naming the known splits."""
    if split not in SPLITS:
        raise InputError(f"split {split!r}: unknown (known: {', '.join(SPLITS)})")
    return SPLITS.index(split)


def to_json() -> dict:
    """The split rule as recorded in the dataset card."""
    return {"test_fraction": TEST_FRACTION, "val_fraction_of_train": VAL_FRACTION_OF_TRAIN,
            "method": "per process: random permutation seeded by (dataset seed, process); "
                      "first half test, then 20 % of the rest validation"}
