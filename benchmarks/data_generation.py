"""Benchmark: dataset generation (Pythia 8 + calorimeter + truth jets) and reading speed.

Generates a preset into a fresh temporary directory and reads its splits back; prints a table
with machine, versions and date.

    .venv/bin/python benchmarks/data_generation.py [--preset tiny|smoke] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from codesign.data.generate import generate
from machine import header
from codesign.data.reader import Dataset


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        result = generate(os.path.join(tmp, "d"), preset=args.preset, workers=args.workers, progress=False,
                          log=lambda line: None)
        wall = time.perf_counter() - t0
        card = result.card
        n_hard = sum(p["events"] for p in card["processes"].values())
        n_pool = card["pileup"]["events"]
        ds = Dataset(os.path.join(tmp, "d"))
        rows = [("generate (hard + pile-up pool)", n_hard + n_pool, wall)]
        for split, pileup in (("train", "fresh"), ("test", "frozen"), ("train", "none")):
            t0 = time.perf_counter()
            n = sum(len(b["label"]) for b in ds.batches(split, batch_size=128, pileup=pileup, shuffle=False))
            rows.append((f"read {split}, pile-up {pileup}", n, time.perf_counter() - t0))
    print(header(f"data generation, preset {args.preset}, {args.workers} workers",
                 ("pythia8mc", "fastjet", "numpy", "h5py")))
    print(f"| {'task':32s} | events | wall s | events/s |")
    print(f"|{'-' * 34}|--------|--------|----------|")
    for name, n, s in rows:
        print(f"| {name:32s} | {n:6d} | {s:6.1f} | {n / s:8.0f} |")


if __name__ == "__main__":
    main()
