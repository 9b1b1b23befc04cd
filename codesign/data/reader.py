"""Streaming reader of a generated dataset: validated against its card, batches per split with pile-up.

Shuffling is by blocks: the event blocks of the selected shards are put in a random order, a few
blocks at a time are read and shuffled together, so memory stays bounded whatever the dataset size.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from codesign.data.card import read_card
from codesign.data.detector import Geometry, SparseCells
from codesign.data.pileup import draw_many, overlay
from codesign.data.seeds import STREAM_FRESH, STREAM_SHUFFLE
from codesign.data.shards import CorruptShardError, content_sha256, open_shard, read_all, shard_attrs
from codesign.data.splits import check_split, split_codes
from codesign.errors import InputError

PILEUP_MODES = ("fresh", "frozen", "none")
_ALLOWED_PILEUP = {"train": ("fresh", "none"), "val": ("fresh", "frozen", "none"), "test": ("frozen",)}
BLOCK_EVENTS = 256    # events read from a shard at once
BUFFER_BLOCKS = 8     # blocks shuffled together
_CHECKED_ATTRS = ("process", "first_event", "n_events", "pythia_seed", "content_sha256")


@dataclass(frozen=True)
class _Shard:
    """One event shard of the dataset and the split of each of its events."""

    path: Path
    process_index: int
    label: int
    split: np.ndarray  # int8 index into SPLITS, one per event of the shard


class Dataset:
    """A generated dataset: `Dataset(path)` checks the card against every shard before anything is read."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.card: dict[str, Any] = read_card(self.path)
        g = self.card["geometry"]
        self.geometry = Geometry(g["eta_bins"], g["phi_bins"], g["eta_max"])
        self.mu: float = self.card["pileup"]["mu"]
        self.seed: int = self.card["seed"]
        entries = self.card["processes"]
        self.processes: list[str] = sorted(entries, key=lambda n: entries[n]["code"])
        self.signal_processes = [n for n in self.processes if entries[n]["role"] == "signal"]
        self.background_processes = [n for n in self.processes if entries[n]["role"] == "background"]
        self._shards: dict[str, list[_Shard]] = {}
        for index, name in enumerate(self.processes):
            entry = entries[name]
            codes = split_codes(entry["events"], self.seed, entry["code"])
            self._check_counts(name, entry)
            label = int(entry["role"] == "signal")
            self._shards[name] = [
                _Shard(self._checked(name, s, "events"), index, label,
                       codes[s["first_event"]:s["first_event"] + s["n_events"]])
                for s in entry["shards"]]
        self._check_counts("pile-up pool", self.card["pileup"])
        self._pool_files = [self._checked(self.card["pileup"]["process"], s, "pool")
                            for s in self.card["pileup"]["shards"]]
        self._pool: SparseCells | None = None

    # ------------------------------------------------------------------ validation

    def _check_counts(self, name: str, entry: dict[str, Any]) -> None:
        """The shards of a process must tile its events 0..events-1 in order."""
        expect = 0
        for s in entry["shards"]:
            if s["first_event"] != expect:
                raise InputError(f"card {self.path}/card.json: {name} shard {s['file']} starts at event "
                                 f"{s['first_event']}, expected {expect}")
            expect += s["n_events"]
        if expect != entry["events"]:
            raise InputError(f"card {self.path}/card.json: {name} lists {entry['events']} events "
                             f"but its shards hold {expect}")

    def _checked(self, process: str, entry: dict[str, Any], kind: str) -> Path:
        path = self.path / entry["file"]
        attrs = shard_attrs(path)
        want = {"kind": kind, "process": process, "dataset_seed": self.seed,
                **{k: entry[k] for k in _CHECKED_ATTRS if k != "process"}}
        if kind == "events":
            want.update(mu=self.mu, pool_size=self.card["pileup"]["events"])
        for key, value in want.items():
            if attrs.get(key) != value:
                raise InputError(f"card does not match shard {path}: {key} is {attrs.get(key)!r} in the shard, "
                                 f"{value!r} in the card")
        if json.loads(attrs["geometry"]) != self.card["geometry"]:
            raise InputError(f"card does not match shard {path}: different calorimeter geometry")
        return path

    def verify(self) -> int:
        """Re-read every shard (checksums and content hashes); returns the number of shards checked."""
        entries = [(self.path / s["file"], s)
                   for n in self.processes for s in self.card["processes"][n]["shards"]]
        entries += [(self.path / s["file"], s) for s in self.card["pileup"]["shards"]]
        for path, entry in entries:
            if content_sha256(read_all(path)) != entry["content_sha256"]:
                raise CorruptShardError(f"shard {path} is corrupt: its content hash differs from the card's")
        return len(entries)

    # ------------------------------------------------------------------ queries

    @property
    def content_hash(self) -> str:
        """The card's content hash (what firmware bundles record as their dataset hash)."""
        return self.card["content_hash"]

    def select_processes(self, processes: list[str] | None) -> list[str]:
        """The named processes (all when None) in dataset order; InputError for a name not in the dataset."""
        if processes is None:
            return list(self.processes)
        for name in processes:
            if name not in self.processes:
                raise InputError(f"process {name!r}: not in dataset {self.path} "
                                 f"(it has: {', '.join(self.processes)})")
        return [n for n in self.processes if n in processes]

    def count(self, split: str, process: str | None = None) -> int:
        """Number of events of `split` (all processes, or just `process`)."""
        code = check_split(split)
        names = self.select_processes(None if process is None else [process])
        return int(sum((s.split == code).sum() for n in names for s in self._shards[n]))

    def truth_jets(self, process: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Truth jets (N, J, 4), n_jets (N,) and weights (N,) of every event of `process` (all splits)."""
        parts = []
        for shard in self._shards[self.select_processes([process])[0]]:
            with open_shard(shard.path) as f:
                parts.append((f["jets"][()], f["n_jets"][()], f["weight"][()]))
        return tuple(np.concatenate(x) for x in zip(*parts))  # type: ignore[return-value]

    @property
    def pool(self) -> SparseCells:
        """The pile-up pool as sparse cells (loaded on first use; about 0.45 kB per pool event)."""
        if self._pool is None:
            offsets, cells, ets = [np.zeros(1, np.int64)], [], []
            for path in self._pool_files:
                with open_shard(path) as f:
                    o, c, e = f["offsets"][()], f["cell"][()], f["et"][()]
                offsets.append(o[1:] + offsets[-1][-1])
                cells.append(c)
                ets.append(e)
            self._pool = SparseCells(np.concatenate(offsets), np.concatenate(cells), np.concatenate(ets))
        return self._pool

    # ------------------------------------------------------------------ batches

    def batches(self, split: str, batch_size: int = 128, processes: list[str] | None = None,
                pileup: str = "fresh", epoch: int = 0, shuffle: bool = True,
                seed: int = 0) -> Iterator[dict[str, np.ndarray]]:
        """Batches of `split` (see docs/data.md for the keys); the last batch may be smaller.

        pileup: "fresh" (new overlay per epoch), "frozen" (the stored overlay; required for test)
        or "none" (image = image_mu0). Same arguments, same batches.
        """
        code = check_split(split)
        if pileup not in PILEUP_MODES:
            raise InputError(f"pileup {pileup!r}: unknown (known: {', '.join(PILEUP_MODES)})")
        if pileup not in _ALLOWED_PILEUP[split]:
            raise InputError(f"pileup {pileup!r} is not allowed for the {split} split "
                             f"(allowed: {', '.join(_ALLOWED_PILEUP[split])})")
        for name, value, least in (("batch_size", batch_size, 1), ("epoch", epoch, 0), ("seed", seed, 0)):
            if value < least:
                raise InputError(f"{name} {value}: expected an integer >= {least}")
        blocks = [(shard, lo) for n in self.select_processes(processes) for shard in self._shards[n]
                  for lo in range(0, len(shard.split), BLOCK_EVENTS)
                  if (shard.split[lo:lo + BLOCK_EVENTS] == code).any()]
        rng = np.random.default_rng([self.seed, STREAM_SHUFFLE, seed, epoch]) if shuffle else None
        if rng is not None:
            blocks = [blocks[i] for i in rng.permutation(len(blocks))]
        carry: dict[str, np.ndarray] | None = None
        for start in range(0, len(blocks), BUFFER_BLOCKS):
            parts = [self._read_block(shard, lo, code, pileup, epoch, seed)
                     for shard, lo in blocks[start:start + BUFFER_BLOCKS]]
            if carry is not None:
                parts.insert(0, carry)
            buffer = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
            if rng is not None:
                order = rng.permutation(len(buffer["event_id"]))
                buffer = {k: v[order] for k, v in buffer.items()}
            n = len(buffer["event_id"])
            full = n - n % batch_size
            for lo in range(0, full, batch_size):
                yield {k: v[lo:lo + batch_size] for k, v in buffer.items()}
            carry = {k: v[full:] for k, v in buffer.items()} if full < n else None
        if carry is not None:
            yield carry

    def _read_block(self, shard: _Shard, lo: int, code: int, pileup: str, epoch: int,
                    seed: int) -> dict[str, np.ndarray]:
        hi = min(lo + BLOCK_EVENTS, len(shard.split))
        rows = np.flatnonzero(shard.split[lo:hi] == code)
        with open_shard(shard.path) as f:
            image_mu0 = f["image_mu0"][lo:hi][rows]
            out = {"image_mu0": image_mu0, "jets": f["jets"][lo:hi][rows], "n_jets": f["n_jets"][lo:hi][rows],
                   "weight": f["weight"][lo:hi][rows], "event_id": f["event_id"][lo:hi][rows]}
            if pileup == "frozen":
                offsets = f["frozen_offsets"][lo:hi + 1]
                stored = f["frozen_pool_index"][offsets[0]:offsets[-1]]
        if pileup == "none":
            image = image_mu0.copy()
        else:
            if pileup == "frozen":
                starts, stops = offsets[rows] - offsets[0], offsets[rows + 1] - offsets[0]
                indices = np.concatenate([stored[a:b] for a, b in zip(starts, stops)] or [np.zeros(0, np.int32)])
                row_offsets = np.concatenate([[0], np.cumsum(stops - starts)])
            else:
                row_offsets, indices = draw_many(
                    [[self.seed, STREAM_FRESH, seed, epoch, int(i)] for i in out["event_id"]],
                    self.mu, self.pool.n_events)
            image = overlay(image_mu0, self.pool, row_offsets, indices)
        n = len(rows)
        return {"image": image, **out,
                "label": np.full(n, shard.label, np.int8), "process": np.full(n, shard.process_index, np.int16)}
