"""Streaming reader of a generated dataset: validated against its card, batches per split with pile-up.

Shuffling is by blocks: the event blocks of the selected shards are put in a random order, a few
blocks at a time are read and shuffled together, so memory stays bounded whatever the dataset size.
Blocks are held with image_mu0 as sparse cells (about 1.6 kB per event instead of 25.6 kB); with
`cache_mb` they stay in memory up to that size, so later epochs skip the decompression, which
costs more than everything else together.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numba
import numpy as np

from codesign.data.card import read_card
from codesign.data.configs import card_config
from codesign.data.detector import Geometry, SparseCells, cell_dtype
from codesign.data.pileup import draw_many, overlay
from codesign.data.response import Smearing, get_response
from codesign.data.seeds import STREAM_FRESH, STREAM_RESPONSE_FRESH, STREAM_RESPONSE_FROZEN, STREAM_SHUFFLE
from codesign.data.shards import CorruptShardError, content_sha256, open_shard, read_all, shard_attrs
from codesign.data.splits import check_split, split_codes
from codesign.errors import InputError

PILEUP_MODES = ("fresh", "frozen", "none")
_ALLOWED_PILEUP = {"train": ("fresh", "none"), "val": ("fresh", "frozen", "none"), "test": ("frozen", "fresh")}
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
    """A generated dataset: `Dataset(path)` checks the card against every shard before anything is read.

    cache_mb: memory for blocks already read (sparse images, fields, frozen overlays), kept for
    later passes; the first blocks that fit stay, none is evicted. 0 (default) keeps none.
    """

    def __init__(self, path: Path | str, cache_mb: float = 0) -> None:
        self.path = Path(path)
        self.cache_bytes = int(cache_mb * 2 ** 20)
        self._cache: dict[tuple[Path, int, int], _Events] = {}
        self._cache_used = 0
        self._lock = threading.Lock()
        self.card: dict[str, Any] = read_card(self.path)
        g = self.card["geometry"]
        self.geometry = Geometry(g["eta_bins"], g["phi_bins"], g["eta_max"])
        self.mu: float = self.card["pileup"]["mu"]
        self.seed: int = self.card["seed"]
        self.config = card_config(self.card, f"card {self.path / 'card.json'}")
        self.smearing = Smearing(get_response(self.config.response), self.geometry)
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
        if kind == "events":
            with open_shard(path) as f:
                width = f["jets"].shape[1]
            if width != self.card["truth_jets"]["max_jets"]:
                raise InputError(f"card does not match shard {path}: jets holds {width} jets per event, the card's "
                                 f"truth_jets.max_jets is {self.card['truth_jets']['max_jets']}")
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

    def trigger_processes(self, background: str | None = None) -> list[str]:
        """The signals and one background (default: the configuration's): the events a trigger is trained and measured on.

        A dataset may hold a second background (e.g. the weighted QCD beside the paper's) for
        ablations; the FPR is always the fraction of the chosen background's events.
        """
        chosen = background or self.config.background
        if chosen not in self.background_processes:
            raise InputError(f"background {chosen!r}: not in dataset {self.path} "
                             f"(its backgrounds: {', '.join(self.background_processes) or 'none'})")
        return [*self.signal_processes, chosen]

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
        with self._lock:
            return self._pool if self._pool is not None else self._load_pool()

    def _load_pool(self) -> SparseCells:
        """Read the pool shards into one SparseCells (the kernels index it unchecked, so cells are checked)."""
        offsets, cells, ets = [np.zeros(1, np.int64)], [], []
        for path in self._pool_files:
            with open_shard(path) as f:
                o, c, e = f["offsets"][()], f["cell"][()], f["et"][()]
            if len(c) and int(c.max()) >= self.geometry.n_cells:
                raise CorruptShardError(f"shard {path} is corrupt: a cell index is outside the calorimeter")
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

        pileup: "fresh" (new overlay per epoch; on test, independent draws for uncertainties), "frozen"
        (the stored overlay) or "none" (image = image_mu0). The measured image then passes through the
        dataset's calorimeter response (codesign.data.response). Same arguments, same batches.
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
        fresh = (self.seed, STREAM_FRESH, seed, epoch) if pileup == "fresh" else None
        carry: _Events | None = None
        for start in range(0, len(blocks), BUFFER_BLOCKS):
            parts = [self._block(shard, lo, code, pileup == "frozen")
                     for shard, lo in blocks[start:start + BUFFER_BLOCKS]]
            buffer = _Events.concat([carry, *parts] if carry is not None else parts)
            n = len(buffer)
            order = rng.permutation(n) if rng is not None else np.arange(n)
            full = n - n % batch_size
            for lo in range(0, full, batch_size):
                yield self._batch(buffer, order[lo:lo + batch_size], pileup, fresh)
            carry = buffer.take(order[full:]) if full < n else None
        if carry is not None:
            yield self._batch(carry, np.arange(len(carry)), pileup, fresh)

    def _batch(self, events: _Events, rows: np.ndarray, pileup: str,
               fresh: tuple[int, ...] | None) -> dict[str, np.ndarray]:
        """The batch of events[rows]: dense images, with the pile-up overlaid per event."""
        image_mu0 = np.zeros((len(rows), *self.geometry.image_shape), np.float32)
        _densify(events.image.offsets, events.image.cell, events.image.et, rows, image_mu0.reshape(len(rows), -1))
        fields = {k: v[rows] for k, v in events.fields.items()}
        if pileup == "none":
            image = image_mu0.copy()
        else:
            if fresh is not None:
                offsets, indices = draw_many(_entropies(fresh, fields["event_id"]), self.mu, self.pool.n_events)
                response = (self.seed, STREAM_RESPONSE_FRESH, *fresh[2:])
            else:
                offsets, indices = _csr_take(*events.frozen, rows)  # type: ignore[misc]
                response = (self.seed, STREAM_RESPONSE_FROZEN)
            image = overlay(image_mu0, self.pool, offsets, indices)
            image = self.smearing.apply(image, _entropies(response, fields["event_id"]))
        return {"image": image, "image_mu0": image_mu0, **fields}

    def frozen_overlay(self, split: str, processes: list[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The stored pile-up draws of every event of `split` (CSR offsets, pool indices), in dataset order."""
        code = check_split(split)
        parts = [self._block(shard, lo, code, True).frozen for n in self.select_processes(processes)
                 for shard in self._shards[n] for lo in range(0, len(shard.split), BLOCK_EVENTS)]
        return _csr_concat(parts)  # type: ignore[arg-type,return-value]

    def _block(self, shard: _Shard, lo: int, code: int, frozen: bool) -> _Events:
        """The events of split `code` in the block of `shard` starting at `lo`, from the cache when there."""
        key = (shard.path, lo, code)
        events = self._cache.get(key)
        if events is None or (frozen and events.frozen is None):
            events = self._read_block(shard, lo, code, frozen)
            with self._lock:
                held = self._cache.get(key)
                grown = events.nbytes - (held.nbytes if held is not None else 0)
                if self._cache_used + grown <= self.cache_bytes:
                    self._cache[key] = events
                    self._cache_used += grown
        return events

    def _read_block(self, shard: _Shard, lo: int, code: int, frozen: bool) -> _Events:
        """Decompress one block (all its events: chunks mix the splits) and keep the rows of split `code`."""
        hi = min(lo + BLOCK_EVENTS, len(shard.split))
        rows = np.flatnonzero(shard.split[lo:hi] == code)
        with open_shard(shard.path) as f:
            dense = f["image_mu0"][lo:hi]
            fields = {k: f[k][lo:hi][rows] for k in _EVENT_FIELDS}
            if frozen:
                offsets = f["frozen_offsets"][lo:hi + 1]
                stored = f["frozen_pool_index"][offsets[0]:offsets[-1]]
        if frozen and len(stored) and (stored.min() < 0 or stored.max() >= self.card["pileup"]["events"]):
            pool = self.card["pileup"]["events"]
            raise CorruptShardError(f"shard {shard.path}: frozen_pool_index holds {int(stored.min())}.."
                                    f"{int(stored.max())}; expected pool indices 0..{pool - 1}")
        n = len(rows)
        fields.update(label=np.full(n, shard.label, np.int8), process=np.full(n, shard.process_index, np.int16))
        return _Events(fields, _sparse(dense.reshape(hi - lo, -1), rows, cell_dtype(self.geometry)),
                       _csr_take(offsets - offsets[0], stored, rows) if frozen else None)


_EVENT_FIELDS = ("jets", "n_jets", "weight", "event_id")


def _entropies(prefix: tuple[int, ...], event_ids: np.ndarray) -> np.ndarray:
    """Seed tuples (prefix..., event id), one row per event."""
    entropy = np.empty((len(event_ids), len(prefix) + 1), np.int64)
    entropy[:, :-1] = prefix
    entropy[:, -1] = event_ids
    return entropy


@dataclass(frozen=True)
class _Events:
    """Events held in memory: per-event fields, image_mu0 as sparse cells (every cell whose float32
    bits are not 0, so the dense image comes back bit for bit) and, if read, the frozen overlay (CSR)."""

    fields: dict[str, np.ndarray]  # jets, n_jets, weight, event_id, label, process: one row per event
    image: SparseCells
    frozen: tuple[np.ndarray, np.ndarray] | None  # (offsets int64 (n+1,), pool indices int32)

    def __len__(self) -> int:
        return len(self.fields["event_id"])

    @property
    def nbytes(self) -> int:
        """Memory held by the arrays."""
        arrays = [*self.fields.values(), self.image.offsets, self.image.cell, self.image.et, *(self.frozen or ())]
        return sum(a.nbytes for a in arrays)

    def take(self, rows: np.ndarray) -> _Events:
        """The events `rows`, in that order."""
        offsets, positions = _csr_positions(self.image.offsets, rows)
        image = SparseCells(offsets, self.image.cell[positions], self.image.et[positions])
        frozen = _csr_take(*self.frozen, rows) if self.frozen is not None else None
        return _Events({k: v[rows] for k, v in self.fields.items()}, image, frozen)

    @staticmethod
    def concat(parts: list[_Events]) -> _Events:
        """The events of all parts, in order."""
        fields = {k: np.concatenate([p.fields[k] for p in parts]) for k in parts[0].fields}
        image = SparseCells(*_csr_concat([(p.image.offsets, p.image.cell, p.image.et) for p in parts]))
        frozen = None
        if all(p.frozen is not None for p in parts):
            frozen = _csr_concat([p.frozen for p in parts])  # type: ignore[misc]
        return _Events(fields, image, frozen)  # type: ignore[arg-type]


def _csr_concat(parts: list[tuple[np.ndarray, ...]]) -> tuple[np.ndarray, ...]:
    """CSR parts (offsets from 0, then value arrays) joined in order."""
    shifts = np.cumsum([0] + [p[0][-1] for p in parts[:-1]])
    offsets = np.concatenate([np.zeros(1, np.int64)] + [p[0][1:] + s for p, s in zip(parts, shifts)])
    return (offsets, *(np.concatenate(arrays) for arrays in zip(*(p[1:] for p in parts))))


def _csr_positions(offsets: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Offsets of the CSR rows `rows` (in that order) and the positions of their entries."""
    starts = offsets[rows]
    lengths = offsets[rows + 1] - starts
    new = np.zeros(len(rows) + 1, np.int64)
    np.cumsum(lengths, out=new[1:])
    return new, np.repeat(starts - new[:-1], lengths) + np.arange(new[-1], dtype=np.int64)


def _csr_take(offsets: np.ndarray, values: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The CSR rows `rows` of (offsets, values), in that order."""
    new, positions = _csr_positions(offsets, rows)
    return new, values[positions]


@numba.njit(cache=True, nogil=True)
def _sparse_counts(bits: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """CSR offsets: the cells with non-zero bits of each row in `rows`."""
    offsets = np.zeros(len(rows) + 1, np.int64)
    for i in range(len(rows)):
        n = 0
        for b in bits[rows[i]]:
            n += b != 0
        offsets[i + 1] = offsets[i] + n
    return offsets


@numba.njit(cache=True, nogil=True)
def _sparse_fill(bits: np.ndarray, rows: np.ndarray, cells: np.ndarray, values: np.ndarray) -> None:
    """The cell index and bits of those cells, row after row."""
    k = 0
    for r in rows:
        for c in range(bits.shape[1]):
            if bits[r, c] != 0:
                cells[k] = c
                values[k] = bits[r, c]
                k += 1


def _sparse(dense: np.ndarray, rows: np.ndarray, dtype: np.dtype) -> SparseCells:
    """Rows `rows` of float32 images (N, cells) as sparse cells, keeping every cell that is not +0.0."""
    bits = dense.view(np.uint32)
    offsets = _sparse_counts(bits, rows)
    cells, values = np.empty(offsets[-1], dtype), np.empty(offsets[-1], np.uint32)
    _sparse_fill(bits, rows, cells, values)
    return SparseCells(offsets, cells, values.view(np.float32))


@numba.njit(cache=True, nogil=True)
def _densify(offsets: np.ndarray, cells: np.ndarray, values: np.ndarray, rows: np.ndarray, out: np.ndarray) -> None:
    """out[i] (zeros) gets the sparse cells of row rows[i]."""
    for i in range(len(rows)):
        for j in range(offsets[rows[i]], offsets[rows[i] + 1]):
            out[i, cells[j]] = values[j]
