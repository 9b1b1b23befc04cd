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
HALVINGS = 4  # scans and ablations halve the rate every quarter of each run, as the presets do


def run_cli(args: list[str]) -> None:
    """Run one `codesign` command, echoing it; a failure stops the benchmark."""
    print("+ codesign " + " ".join(args), flush=True)
    subprocess.run(CLI + args, check=True)


def pileup_draws_done(run: Path) -> int:
    """How many pile-up draws a finished run's metrics.json holds (0 without any)."""
    draws = json.loads((run / "metrics.json").read_text()).get("emulator_pileup_draws", {})
    return int(draws["pt1"]["draws"]) if draws else 0


def produce(preset: str, config: str, data: Path, runs: Path, schedule: list[str], workers: int,
            pileup_draws: int) -> dict[str, Path]:
    """Dataset, both trainings and their evaluations (each skipped when finished, resumed when interrupted)."""
    if not (data / "card.json").exists() or subprocess.run(CLI + ["data", "verify", str(data)],
                                                           capture_output=True).returncode:
        run_cli(["data", "generate", "--preset", preset, "--config", config, "--out", str(data),
              "--workers", str(workers)])
    out = {}
    for mode in MODES:
        run = runs / mode
        if not (run / "metrics.json").exists():
            run_cli(["train", "--data", str(data), "--mode", mode, "--preset", preset, "--out", str(run), *schedule,
                     f"--pileup-draws={pileup_draws}"])
        if pileup_draws_done(run) < pileup_draws:
            run_cli(["evaluate", "--run", str(run), "--pileup-draws", str(pileup_draws)])
        out[mode] = run
    return out


def paired_ratio_std(num: dict, den: dict, trigger: str, signal_code: int, fpr: float, seed: int = 0) -> float:
    """Standard deviation of TPR(num) / TPR(den) over Poisson-bootstrap replicas shared by both runs."""
    bkg, sig = num["label"] == 0, num["process"] == signal_code
    rng = np.random.default_rng(seed)
    ratios = []
    for _ in range(PAIRED_REPLICAS):
        k = rng.poisson(1.0, num["label"].size).astype(np.float64)
        tpr = []
        for arrays in (num, den):
            v = arrays[f"emulator_{trigger}"]
            t = threshold_at_fpr(v[bkg], k[bkg] * num["weight"][bkg], fpr)
            tpr.append(passing_rate(v[sig], t, k[sig]))
        if tpr[1] > 0:
            ratios.append(tpr[0] / tpr[1])
    return float(np.std(ratios, ddof=1)) if len(ratios) > 1 else math.nan


def load_arrays(runs: dict[str, Path]) -> dict[str, dict]:
    """Each run's evaluation arrays; exits when the runs were not evaluated on the same events."""
    arrays = {m: dict(np.load(run / "evaluation.npz")) for m, run in runs.items()}
    first = next(iter(arrays.values()))
    for key in ("label", "process", "weight"):
        if any(not np.array_equal(first[key], a[key]) for a in arrays.values()):
            sys.exit(f"error: the runs were evaluated on different events ({key} differs)")
    return arrays


def tpr_cell(entry: dict, signal: str, draws: dict | None, key: str) -> tuple[float, float, float]:
    """(TPR, bootstrap error, pile-up draw spread) of one mode."""
    s = entry["signals"][signal]
    spread = draws[signal][key]["std"] if draws else math.nan
    return s[key], s.get(f"{key}_std", math.nan), spread


def combined_error(boot: float, pileup: float) -> float:
    """The bootstrap error and the pile-up-draw spread (when measured) in quadrature."""
    return math.sqrt(boot ** 2 + (0.0 if math.isnan(pileup) else pileup ** 2))


def overlay_tprs(metrics: dict, trigger: str, signal: str) -> list[float] | None:
    """TPR at the spec's FPR under every pile-up overlay evaluated: the frozen test overlay, then each fresh draw."""
    draws = metrics.get("emulator_pileup_draws", {}).get(trigger, {}).get("signals")
    if not draws:
        return None
    return [metrics["emulator"][trigger]["signals"][signal]["tpr_at_fpr"], *draws[signal]["tpr_at_fpr"]["values"]]


def overlay_ratio(num: dict, den: dict, trigger: str, signal: str) -> dict | None:
    """TPR(num) / TPR(den) averaged over the pile-up overlays both runs were evaluated on (same draws, paired).

    The ratio of the mean TPRs, with a jackknife error over overlays; None without pile-up draws.
    One frozen overlay can put a single hard pool event behind dozens of background events, so this
    is the estimate that does not rest on one overlay.
    """
    a, b = overlay_tprs(num, trigger, signal), overlay_tprs(den, trigger, signal)
    if a is None or b is None:
        return None
    n = min(len(a), len(b))  # draws are seeded by their index, so the first n are the same overlays
    a, b = np.array(a[:n]), np.array(b[:n])
    ratio = a.mean() / b.mean() if b.mean() > 0 else math.inf
    loo = [np.delete(a, i).mean() / np.delete(b, i).mean() for i in range(n)] if n > 1 else []
    err = math.sqrt((n - 1) / n * float(np.sum((np.array(loo) - np.mean(loo)) ** 2))) if n > 1 else math.nan
    return {"overlays": n, "tpr_num": a.tolist(), "tpr_den": b.tolist(), "tpr_num_mean": float(a.mean()),
            "tpr_den_mean": float(b.mean()), "ratio_of_means": float(ratio), "ratio_err_jackknife": err}


def training_budget(run: Path) -> dict[str, dict]:
    """Per stage of a run: the optimiser steps taken and the summed learning rate (RUN/history.json's last epoch)."""
    out = {}
    for entry in json.loads((run / "history.json").read_text()):
        out[entry["stage"]] = {"steps": entry["steps"], "summed_lr": entry["summed_lr"]}
    return out


def compare(metrics: dict[str, dict], arrays: dict[str, dict], num: str, den: str, trigger: str, signal: str,
            fpr: float) -> dict:
    """TPR(num) / TPR(den) for one signal and trigger: on the frozen overlay with a paired-bootstrap error,
    and averaged over the pile-up overlays both runs were evaluated on (None without draws)."""
    t = {m: metrics[m]["emulator"][trigger]["signals"][signal]["tpr_at_fpr"] for m in (num, den)}
    code = [str(p) for p in arrays[num]["processes"]].index(signal)
    return {"ratio": t[num] / t[den] if t[den] > 0 else math.inf,
            "ratio_err_bootstrap": paired_ratio_std(arrays[num], arrays[den], trigger, code, fpr),
            "ratio_over_overlays": overlay_ratio(metrics[num], metrics[den], trigger, signal)}


def overlay_text(over: dict | None) -> str:
    """`seq mean / e2e mean = ratio +- err (overlays)` for a table cell, `-` without draws."""
    if not over:
        return "-"
    return (f"{over['tpr_den_mean']:.3f} / {over['tpr_num_mean']:.3f} = {over['ratio_of_means']:.2f} "
            f"+- {over['ratio_err_jackknife']:.2f} ({over['overlays']})")


def table(runs: dict[str, Path]) -> tuple[str, dict]:
    """Markdown table and its numbers."""
    metrics = {m: json.loads((run / "metrics.json").read_text()) for m, run in runs.items()}
    budget = {m: training_budget(run) for m, run in runs.items()}
    arrays = load_arrays(runs)
    fpr = metrics["e2e"]["fpr_target"]
    signals = sorted(metrics["e2e"]["emulator"]["pt1"]["signals"])
    rows, numbers = [], {}
    for signal in signals:
        for trigger in TRIGGERS:
            entry = {}
            for mode in MODES:
                emu = metrics[mode]["emulator"][trigger]
                draws = metrics[mode].get("emulator_pileup_draws", {}).get(trigger, {}).get("signals")
                tpr, boot, spread = tpr_cell(emu, signal, draws, "tpr_at_fpr")
                val_tpr, val_boot, val_spread = tpr_cell(emu, signal, draws, "tpr_at_bundle_threshold")
                entry[mode] = {"tpr": tpr, "tpr_err_bootstrap": boot, "tpr_err_pileup": spread,
                               "tpr_err": combined_error(boot, spread), "tpr_val_threshold": val_tpr,
                               "tpr_val_threshold_err": combined_error(val_boot, val_spread),
                               "background_ess_above_threshold": emu["background_ess_above_threshold"],
                               "background_ess_above_val_threshold": emu["background_ess_above_bundle_threshold"]}
            s, e = entry["sequential"]["tpr"], entry["e2e"]["tpr"]
            ratio = compare(metrics, arrays, "e2e", "sequential", trigger, signal, fpr)
            ceiling = metrics["e2e"]["emulator"][trigger]["signals"][signal]["truth_tpr_at_fpr"]
            numbers.setdefault(signal, {})[trigger] = {**entry, **ratio, "truth_ceiling": ceiling}
            sq, ee = entry["sequential"], entry["e2e"]
            rows.append(f"| {signal} | {trigger} | {s:.3f} +- {sq['tpr_err']:.3f} | {e:.3f} +- {ee['tpr_err']:.3f} | "
                        f"{ratio['ratio']:.2f} +- {ratio['ratio_err_bootstrap']:.2f} | "
                        f"{overlay_text(ratio['ratio_over_overlays'])} | {sq['tpr_val_threshold']:.3f} | "
                        f"{ee['tpr_val_threshold']:.3f} | {ceiling:.3f} | "
                        f"{sq['background_ess_above_threshold']:.0f} / {ee['background_ess_above_threshold']:.0f} |")
    sig, trig, want = TARGET
    cell = numbers.get(sig, {}).get(trig, {})
    # the overlay average when measured (it does not rest on one frozen overlay), else the frozen-overlay ratio
    over = cell.get("ratio_over_overlays")
    got = over["ratio_of_means"] if over else cell.get("ratio", math.nan)
    config = metrics["e2e"].get("dataset_config", {"name": "baseline"})
    lines = [header("physics table (paper Table 6)", ("tensorflow-cpu", "qkeras", "numpy", "numba")),
             f"# runs: sequential {runs['sequential']}, e2e {runs['e2e']}; dataset config {config['name']}; "
             f"test split {metrics['e2e']['events']} events, FPR {fpr:g}",
             "# training: " + "; ".join(f"{m} " + ", ".join(f"{st} {b['steps']} steps (summed lr {b['summed_lr']:.4g})"
                                                              for st, b in budget[m].items()) for m in MODES),
             "| signal | trigger | TPR seq | TPR e2e | e2e / seq | mean TPR over pile-up overlays seq / e2e = ratio "
             "(overlays) | TPR seq (val thr.) | TPR e2e (val thr.) | truth ceiling | bkg ESS above thr. seq / e2e |",
             "|---|---|---|---|---|---|---|---|---|---|", *rows,
             f"target e2e / sequential >= {want:g} for {sig} {trig}: {got:.2f}, "
             f"{'met' if got >= want else 'not met'}"]
    return "\n".join(lines), {"header": lines[0] + "\n" + lines[1], "runs": {k: str(v) for k, v in runs.items()},
                              "training": budget, "dataset_config": config,
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
