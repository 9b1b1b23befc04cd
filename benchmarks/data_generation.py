"""Benchmark: dataset generation (Pythia 8 + calorimeter + truth jets), pile-up overlay and reading.

Generates a preset into fresh temporary directories with 1 and with N workers (speed-up), reports
events per CPU-second of every process from the shards' own timing, the overlay rate and the
reading rates; prints a table with machine, versions and date. With --read DIR it only measures
the loader as training uses it (`loader_rates`: shuffled batches of 128, train with fresh and val
with frozen pile-up, per CPU-second of one core, first pass and later passes).

    .venv/bin/python benchmarks/data_generation.py [--preset tiny|smoke] [--workers 2]
    .venv/bin/python benchmarks/data_generation.py --read data/smoke [--cache-mb 1024] [--passes 2]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import defaultdict

import numpy as np

from codesign.data.generate import generate
from codesign.data.pileup import draw_many
from codesign.data.reader import Dataset
from machine import header


def _generate(preset: str, workers: int, tmp: str) -> tuple[float, dict]:
    out = os.path.join(tmp, f"w{workers}")
    t0 = time.perf_counter()
    result = generate(out, preset=preset, workers=workers, progress=False, log=lambda line: None)
    return time.perf_counter() - t0, result.card


def _per_process_rate(card: dict) -> dict[str, float]:
    """Events per CPU-second of each process, from the CPU time every shard recorded."""
    cpu = card["provenance"]["shard_cpu_s"]
    events, seconds = defaultdict(int), defaultdict(float)
    for name, entry in [*card["processes"].items(), (card["pileup"]["process"], card["pileup"])]:
        for shard in entry["shards"]:
            events[name] += shard["n_events"]
            seconds[name] += cpu[shard["file"]]
    return {name: events[name] / seconds[name] for name in events}


def _read_rate(ds: Dataset, split: str, pileup: str) -> tuple[int, float]:
    t0 = time.perf_counter()
    n = sum(len(b["label"]) for b in ds.batches(split, batch_size=128, pileup=pileup, shuffle=False))
    return n, time.perf_counter() - t0


def loader_rates(ds: Dataset, batch_size: int = 128, passes: int = 2) -> list[tuple[str, int, float]]:
    """(read, events, CPU seconds) of `Dataset.batches` as training reads it: shuffled, a new epoch each
    pass, train with fresh and val with frozen pile-up; passes after the first use the block cache if any.

    CPU time of the process (the loader runs on one core), so other jobs on the machine barely count.
    """
    draw_many(np.zeros((1, 5), np.int64), ds.mu, 1)  # load the numba kernels and the pool first
    next(ds.batches("test", batch_size=1, pileup="frozen", shuffle=False))
    rows = []
    for split, pileup in (("train", "fresh"), ("val", "frozen")):
        for epoch in range(passes):
            t0 = time.process_time()
            n = sum(len(b["label"]) for b in ds.batches(split, batch_size, pileup=pileup, epoch=epoch, shuffle=True))
            rows.append((f"{split}, {pileup} pile-up, pass {epoch + 1}", n, time.process_time() - t0))
    return rows


def print_loader_rates(ds: Dataset, batch_size: int, passes: int, cache_mb: float) -> None:
    """The table of `loader_rates`."""
    print(header(f"loader, {ds.path}, batch {batch_size}, cache {cache_mb:g} MB", ("numpy", "numba", "h5py")))
    print(f"| {'read (shuffled)':34s} | {'events':>7s} | {'events/CPU-s':>12s} | {'CPU ms/batch':>12s} |")
    print(f"|{'-' * 36}|{'-' * 9}|{'-' * 14}|{'-' * 14}|")
    for name, n, cpu in loader_rates(ds, batch_size, passes):
        print(f"| {name:34s} | {n:7d} | {n / cpu:12.0f} | {cpu / n * batch_size * 1e3:12.1f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--read", metavar="DIR", help="only measure the loader on this dataset")
    ap.add_argument("--cache-mb", type=float, default=1024, help="block cache of the loader (--read)")
    ap.add_argument("--passes", type=int, default=2, help="passes per read (--read)")
    args = ap.parse_args()
    if args.read:
        print_loader_rates(Dataset(args.read, cache_mb=args.cache_mb), 128, args.passes, args.cache_mb)
        return
    with tempfile.TemporaryDirectory() as tmp:
        wall1, _ = _generate(args.preset, 1, tmp)
        wall_n, card = _generate(args.preset, args.workers, tmp)
        ds = Dataset(os.path.join(tmp, f"w{args.workers}"))
        n_fresh, t_fresh = _read_rate(ds, "train", "fresh")
        n_none, t_none = _read_rate(ds, "train", "none")
        n_frozen, t_frozen = _read_rate(ds, "test", "frozen")
    n_total = sum(p["events"] for p in card["processes"].values()) + card["pileup"]["events"]
    print(header(f"data generation, preset {args.preset}", ("pythia8mc", "fastjet", "numpy", "h5py")))
    print(f"| {'quantity':44s} | {'value':>12s} |")
    print(f"|{'-' * 46}|{'-' * 14}|")
    print(f"| {'generate, 1 worker, wall s':44s} | {wall1:12.1f} |")
    print(f"| {f'generate, {args.workers} workers, wall s':44s} | {wall_n:12.1f} |")
    print(f"| {f'speed-up with {args.workers} workers':44s} | {wall1 / wall_n:12.2f} |")
    print(f"| {'events generated (hard + pile-up pool)':44s} | {n_total:12d} |")
    for name, rate in sorted(_per_process_rate(card).items()):
        print(f"| {f'{name}: events per CPU-second (incl. init)':44s} | {rate:12.0f} |")
    overlay = n_fresh / (t_fresh - t_none)  # the same events read with and without the overlay
    print(f"| {'pile-up overlay (mu = 200), events/s':44s} | {overlay:12.0f} |")
    print(f"| {'read train, fresh pile-up, events/s':44s} | {n_fresh / t_fresh:12.0f} |")
    print(f"| {'read test, frozen pile-up, events/s':44s} | {n_frozen / t_frozen:12.0f} |")
    print(f"| {'read train, no pile-up, events/s':44s} | {n_none / t_none:12.0f} |")


if __name__ == "__main__":
    main()
