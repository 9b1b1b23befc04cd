"""Benchmark: the paper's Table 6, sequential versus end-to-end, measured with the emulator.

Per signal and trigger (pT1, pT4), at the spec's FPR (1e-3) on the test split: each mode's TPR
with the threshold set on the test background and with the bundle's threshold set on the
validation split (as deployed), their errors, the e2e / sequential ratio with a paired-bootstrap
error, the truth-level ceiling and the effective number of background events above each
threshold. Errors: Poisson bootstrap over events (both runs resampled together, so the ratio's
error keeps their correlation) and, when the runs were evaluated with `--pileup-draws`, the spread
over independent pile-up draws, added in quadrature. Generates the dataset and trains and
evaluates both modes when they are missing; every step resumes after a kill (rerun the command).

    .venv/bin/python benchmarks/physics_table.py --preset small --config paper --data data/small-paper \
        --runs runs/physics-small-paper --pileup-draws 5 --json benchmarks/results/physics_table.json
    .venv/bin/python benchmarks/physics_table.py --sequential RUN_A --e2e RUN_B     # table of finished runs

Prints a markdown table with the machine header and writes it, with the numbers, to
RUNS/table.md and RUNS/table.json (or next to RUN_B), and to --json when given.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
from machine import header

from codesign.train.metrics import passing_rate, threshold_at_fpr

CLI = [sys.executable, "-m", "codesign.cli"]
TARGET = ("ggHH_4b", "pt1", 2.0)  # the target: e2e / sequential >= 2 for ggF HH pT1
MODES = ("sequential", "e2e")
TRIGGERS = ("pt1", "pt4")
PAIRED_REPLICAS = 300


def _run(args: list[str]) -> None:
    print("+ codesign " + " ".join(args), flush=True)
    subprocess.run(CLI + args, check=True)


def produce(preset: str, config: str, data: Path, runs: Path, schedule: list[str], workers: int,
            pileup_draws: int) -> dict[str, Path]:
    """Dataset, both trainings and their evaluations (each skipped when finished, resumed when interrupted)."""
    if not (data / "card.json").exists() or subprocess.run(CLI + ["data", "verify", str(data)],
                                                           capture_output=True).returncode:
        _run(["data", "generate", "--preset", preset, "--config", config, "--out", str(data),
              "--workers", str(workers)])
    out = {}
    for mode in MODES:
        run = runs / mode
        if not (run / "metrics.json").exists():
            _run(["train", "--data", str(data), "--mode", mode, "--preset", preset, "--out", str(run), *schedule])
        if pileup_draws and "emulator_pileup_draws" not in json.loads((run / "metrics.json").read_text()):
            _run(["evaluate", "--run", str(run), "--pileup-draws", str(pileup_draws)])
        out[mode] = run
    return out


def paired_ratio_std(arrays: dict[str, dict], trigger: str, signal_code: int, fpr: float, seed: int = 0) -> float:
    """Standard deviation of TPR(e2e) / TPR(sequential) over Poisson-bootstrap replicas shared by both runs."""
    a = arrays["e2e"]
    bkg, sig = a["label"] == 0, a["process"] == signal_code
    rng = np.random.default_rng(seed)
    ratios = []
    for _ in range(PAIRED_REPLICAS):
        k = rng.poisson(1.0, a["label"].size).astype(np.float64)
        tpr = {}
        for mode in MODES:
            v = arrays[mode][f"emulator_{trigger}"]
            t = threshold_at_fpr(v[bkg], k[bkg] * a["weight"][bkg], fpr)
            tpr[mode] = passing_rate(v[sig], t, k[sig])
        if tpr["sequential"] > 0:
            ratios.append(tpr["e2e"] / tpr["sequential"])
    return float(np.std(ratios, ddof=1)) if len(ratios) > 1 else math.nan


def _load_arrays(runs: dict[str, Path]) -> dict[str, dict]:
    arrays = {m: dict(np.load(runs[m] / "evaluation.npz")) for m in MODES}
    for key in ("label", "process", "weight"):
        if not np.array_equal(arrays["e2e"][key], arrays["sequential"][key]):
            sys.exit(f"error: the two runs were evaluated on different events ({key} differs)")
    return arrays


def _cell(entry: dict, signal: str, draws: dict | None, key: str) -> tuple[float, float, float]:
    """(TPR, bootstrap error, pile-up draw spread) of one mode."""
    s = entry["signals"][signal]
    spread = draws[signal][key]["std"] if draws else math.nan
    return s[key], s.get(f"{key}_std", math.nan), spread


def _error(boot: float, pileup: float) -> float:
    return math.sqrt(boot ** 2 + (0.0 if math.isnan(pileup) else pileup ** 2))


def table(runs: dict[str, Path]) -> tuple[str, dict]:
    """Markdown table and its numbers."""
    metrics = {m: json.loads((run / "metrics.json").read_text()) for m, run in runs.items()}
    arrays = _load_arrays(runs)
    processes = [str(p) for p in arrays["e2e"]["processes"]]
    fpr = metrics["e2e"]["fpr_target"]
    signals = sorted(metrics["e2e"]["emulator"]["pt1"]["signals"])
    rows, numbers = [], {}
    for signal in signals:
        for trigger in TRIGGERS:
            entry = {}
            for mode in MODES:
                emu = metrics[mode]["emulator"][trigger]
                draws = metrics[mode].get("emulator_pileup_draws", {}).get(trigger, {}).get("signals")
                tpr, boot, spread = _cell(emu, signal, draws, "tpr_at_fpr")
                val_tpr, val_boot, val_spread = _cell(emu, signal, draws, "tpr_at_bundle_threshold")
                entry[mode] = {"tpr": tpr, "tpr_err_bootstrap": boot, "tpr_err_pileup": spread,
                               "tpr_err": _error(boot, spread), "tpr_val_threshold": val_tpr,
                               "tpr_val_threshold_err": _error(val_boot, val_spread),
                               "background_ess_above_threshold": emu["background_ess_above_threshold"],
                               "background_ess_above_val_threshold": emu["background_ess_above_bundle_threshold"]}
            s, e = entry["sequential"]["tpr"], entry["e2e"]["tpr"]
            ratio = e / s if s > 0 else math.inf
            ratio_err = paired_ratio_std(arrays, trigger, processes.index(signal), fpr)
            ceiling = metrics["e2e"]["emulator"][trigger]["signals"][signal]["truth_tpr_at_fpr"]
            numbers.setdefault(signal, {})[trigger] = {**entry, "ratio": ratio, "ratio_err_bootstrap": ratio_err,
                                                       "truth_ceiling": ceiling}
            sq, ee = entry["sequential"], entry["e2e"]
            rows.append(f"| {signal} | {trigger} | {s:.3f} +- {sq['tpr_err']:.3f} | {e:.3f} +- {ee['tpr_err']:.3f} | "
                        f"{ratio:.2f} +- {ratio_err:.2f} | {sq['tpr_val_threshold']:.3f} | "
                        f"{ee['tpr_val_threshold']:.3f} | {ceiling:.3f} | "
                        f"{sq['background_ess_above_threshold']:.0f} / {ee['background_ess_above_threshold']:.0f} |")
    sig, trig, want = TARGET
    got = numbers.get(sig, {}).get(trig, {}).get("ratio", float("nan"))
    config = metrics["e2e"].get("dataset_config", {"name": "baseline"})
    lines = [header("physics table (paper Table 6)", ("tensorflow-cpu", "qkeras", "numpy", "numba")),
             f"# runs: sequential {runs['sequential']}, e2e {runs['e2e']}; dataset config {config['name']}; "
             f"test split {metrics['e2e']['events']} events, FPR {fpr:g}",
             "| signal | trigger | TPR seq | TPR e2e | e2e / seq | TPR seq (val thr.) | TPR e2e (val thr.) | "
             "truth ceiling | bkg ESS above thr. seq / e2e |",
             "|---|---|---|---|---|---|---|---|---|", *rows,
             f"target e2e / sequential >= {want:g} for {sig} {trig}: {got:.2f}, "
             f"{'met' if got >= want else 'not met'}"]
    return "\n".join(lines), {"runs": {k: str(v) for k, v in runs.items()}, "dataset_config": config,
                              "fpr": fpr, "test_events": metrics["e2e"]["events"], "table": numbers,
                              "target": {"signal": sig, "trigger": trig, "ratio": got, "met": got >= want}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="small", help="data and training preset (default small)")
    ap.add_argument("--config", default="paper", help="dataset physics configuration (default paper)")
    ap.add_argument("--data", type=Path, help="dataset directory (generated when missing)")
    ap.add_argument("--runs", type=Path, help="directory of the two training runs")
    ap.add_argument("--steps", type=int, help="optimiser steps per stage instead of the preset's")
    ap.add_argument("--epochs", type=int, help="passes over the training split per stage instead of the preset's")
    ap.add_argument("--workers", type=int, default=2, help="data generation processes")
    ap.add_argument("--pileup-draws", type=int, default=0, help="evaluate both runs under this many pile-up draws")
    ap.add_argument("--sequential", type=Path, help="a finished sequential run (table only)")
    ap.add_argument("--e2e", type=Path, help="a finished end-to-end run (table only)")
    ap.add_argument("--json", type=Path, help="also write the numbers here (e.g. benchmarks/results/physics_table.json)")
    args = ap.parse_args()
    if args.sequential or args.e2e:
        if not (args.sequential and args.e2e):
            ap.error("--sequential and --e2e go together")
        runs, out_dir = {"sequential": args.sequential, "e2e": args.e2e}, args.e2e
    else:
        if not (args.data and args.runs):
            ap.error("give --data and --runs (or --sequential and --e2e)")
        schedule = [f"--{k}={v}" for k, v in (("steps", args.steps), ("epochs", args.epochs)) if v]
        runs = produce(args.preset, args.config, args.data, args.runs, schedule, args.workers, args.pileup_draws)
        out_dir = args.runs
    for mode, run in runs.items():
        if not (run / "metrics.json").is_file():
            sys.exit(f"error: {run} has no metrics.json: the {mode} run has not finished")
    text, numbers = table(runs)
    print(text)
    (out_dir / "table.md").write_text(text + "\n")
    for path in [out_dir / "table.json", *([args.json] if args.json else [])]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(numbers, indent=1) + "\n")


if __name__ == "__main__":
    main()
