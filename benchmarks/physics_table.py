"""Benchmark: the paper's Table 6, sequential versus end-to-end, measured with the emulator.

TPR at the spec's FPR (1e-3) for pT1 and pT4, for every signal, from each run's metrics.json
(the emulator on the exported bundle, test split, frozen pile-up). Generates the dataset and
trains both modes when they are missing; every step resumes after a kill (rerun the command).

    .venv/bin/python benchmarks/physics_table.py --preset small --data data/small --runs build/physics-small
    .venv/bin/python benchmarks/physics_table.py --sequential RUN_A --e2e RUN_B     # table of finished runs

Prints a markdown table with the machine header and writes it, with the numbers, to
RUNS/table.md and RUNS/table.json (or next to RUN_B).
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from pathlib import Path

from machine import header

CLI = [sys.executable, "-m", "codesign.cli"]
TARGET = ("ggHH_4b", "pt1", 2.0)  # the target: e2e / sequential >= 2 for ggF HH pT1


def _run(args: list[str]) -> None:
    print("+ codesign " + " ".join(args), flush=True)
    subprocess.run(CLI + args, check=True)


def produce(preset: str, data: Path, runs: Path, schedule: list[str], workers: int) -> dict[str, Path]:
    """Dataset and both trainings (each skipped when finished, resumed when interrupted)."""
    if not (data / "card.json").exists() or subprocess.run(CLI + ["data", "verify", str(data)],
                                                           capture_output=True).returncode:
        _run(["data", "generate", "--preset", preset, "--out", str(data), "--workers", str(workers)])
    out = {}
    for mode in ("sequential", "e2e"):
        run = runs / mode
        if not (run / "metrics.json").exists():
            _run(["train", "--data", str(data), "--mode", mode, "--preset", preset, "--out", str(run), *schedule])
        out[mode] = run
    return out


def _tpr(metrics: dict, trigger: str, signal: str) -> tuple[float, int]:
    s = metrics["emulator"][trigger]["signals"][signal]
    return s["tpr_at_fpr"], s["events"]


def table(runs: dict[str, Path]) -> tuple[str, dict]:
    """Markdown table and its numbers; TPR +- binomial standard deviation (threshold fixed)."""
    metrics = {mode: json.loads((run / "metrics.json").read_text()) for mode, run in runs.items()}
    signals = sorted(metrics["e2e"]["emulator"]["pt1"]["signals"])
    rows, numbers = [], {}
    for signal in signals:
        cells = [signal]
        for trigger in ("pt1", "pt4"):
            vals = {}
            for mode in ("sequential", "e2e"):
                p, n = _tpr(metrics[mode], trigger, signal)
                vals[mode] = p
                cells.append(f"{p:.3f} +- {math.sqrt(p * (1 - p) / n):.3f}")
            ratio = vals["e2e"] / vals["sequential"] if vals["sequential"] > 0 else math.inf
            cells.append(f"{ratio:.2f}")
            numbers.setdefault(signal, {})[trigger] = {**vals, "ratio": ratio, "events": n}
        rows.append("| " + " | ".join(cells) + " |")
    sig, trig, want = TARGET
    got = numbers.get(sig, {}).get(trig, {}).get("ratio", float("nan"))
    lines = [header("physics table (paper Table 6)", ("tensorflow-cpu", "qkeras", "numpy", "numba")),
             f"# runs: sequential {runs['sequential']}, e2e {runs['e2e']}; "
             f"test split {metrics['e2e']['events']} events, FPR {metrics['e2e']['fpr_target']:g} (weighted QCD)",
             "| signal | TPR pT1 sequential | TPR pT1 e2e | e2e / seq | TPR pT4 sequential | TPR pT4 e2e | e2e / seq |",
             "|---|---|---|---|---|---|---|", *rows,
             f"target e2e / sequential >= {want:g} for {sig} {trig}: {got:.2f}, "
             f"{'met' if got >= want else 'not met'}"]
    return "\n".join(lines), {"runs": {k: str(v) for k, v in runs.items()}, "tpr_at_fpr": numbers,
                              "target": {"signal": sig, "trigger": trig, "ratio": got, "met": got >= want}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="small", help="data and training preset (default small)")
    ap.add_argument("--data", type=Path, help="dataset directory (generated when missing)")
    ap.add_argument("--runs", type=Path, help="directory of the two training runs")
    ap.add_argument("--steps", type=int, help="optimiser steps per stage instead of the preset's")
    ap.add_argument("--epochs", type=int, help="passes over the training split per stage instead of the preset's")
    ap.add_argument("--workers", type=int, default=2, help="data generation processes")
    ap.add_argument("--sequential", type=Path, help="a finished sequential run (table only)")
    ap.add_argument("--e2e", type=Path, help="a finished end-to-end run (table only)")
    args = ap.parse_args()
    if args.sequential or args.e2e:
        if not (args.sequential and args.e2e):
            ap.error("--sequential and --e2e go together")
        runs, out_dir = {"sequential": args.sequential, "e2e": args.e2e}, args.e2e
    else:
        if not (args.data and args.runs):
            ap.error("give --data and --runs (or --sequential and --e2e)")
        schedule = [f"--{k}={v}" for k, v in (("steps", args.steps), ("epochs", args.epochs)) if v]
        runs, out_dir = produce(args.preset, args.data, args.runs, schedule, args.workers), args.runs
    for mode, run in runs.items():
        if not (run / "metrics.json").is_file():
            sys.exit(f"error: {run} has no metrics.json: the {mode} run has not finished")
    text, numbers = table(runs)
    print(text)
    (out_dir / "table.md").write_text(text + "\n")
    (out_dir / "table.json").write_text(json.dumps(numbers, indent=1) + "\n")


if __name__ == "__main__":
    main()
