"""Benchmark: where the end-to-end gain comes from (the three ablations of docs/physics.md).

Starting from a finished sequential run and its end-to-end partner (same dataset, same step count),
it trains, each with the same number of optimiser steps:
  e2e-calibration-from-seq  the e2e loss, only the calibration and the trigger splines trainable,
                            every other weight from the sequential run;
  e2e-from-seq              the full e2e training started from the sequential run's weights;
  e2e-train-bkg-<P>         e2e from scratch, trained against background P (e.g. the generator-weighted
                            `qcd`); evaluation still uses the dataset configuration's background;
  sequential-leak-<A>,      both modes from scratch with the CNN's hard sigmoid given slope A outside its
  e2e-leak-<A>              band in the backward pass (--seg-gradient-leak): whether a gain survives a
                            denoiser whose segmentation outputs cannot die.
Then it tabulates, per trigger, each run's emulator TPR at the spec's FPR for one signal, with its
error (bootstrap over events, plus the pile-up-draw spread when evaluated with draws), and its
ratio to the sequential run with a paired-bootstrap error, and each e2e / sequential pair of the
same training options. Every run resumes after a kill.

    .venv/bin/python benchmarks/physics_ablations.py --data data/small-paper \
        --sequential runs/budget-small-paper/steps-2000/sequential --e2e runs/budget-small-paper/steps-2000/e2e \
        --runs runs/ablations-small-paper/steps-2000 --steps 2000 --train-background qcd --pileup-draws 3
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from machine import header
from physics_table import (HALVINGS, TARGET, TRIGGERS, combined_error, compare, load_arrays, overlay_text,
                           pileup_draws_done, run_cli, tpr_cell)


def ablations(sequential: Path, train_background: str | None, leak: float | None) -> dict[str, list[str]]:
    """Name -> the `codesign train` options of each ablation."""
    out = {"e2e-calibration-from-seq": ["--mode", "e2e-calibration", "--init-from", str(sequential)]}
    if leak:
        out |= {f"{mode}-leak-{leak:g}": ["--mode", mode, f"--seg-gradient-leak={leak:g}"]
                for mode in ("sequential", "e2e")}
    out["e2e-from-seq"] = ["--mode", "e2e", "--init-from", str(sequential)]
    if train_background:
        out[f"e2e-train-bkg-{train_background}"] = ["--mode", "e2e", "--background", train_background]
    return out


def produce(data: Path, runs: Path, steps: int, variants: dict[str, list[str]], draws: int) -> dict[str, Path]:
    """Train and evaluate every ablation not finished yet (a rerun resumes an interrupted one)."""
    halving = -(-steps // HALVINGS)
    out = {}
    for name, options in variants.items():
        run = runs / name
        if not (run / "metrics.json").exists():
            run_cli(["train", "--data", str(data), "--out", str(run), f"--steps={steps}",
                     f"--lr-halving-steps={halving}", *options, f"--pileup-draws={draws}"])
        if pileup_draws_done(run) < draws:
            run_cli(["evaluate", "--run", str(run), "--pileup-draws", str(draws)])
        out[name] = run
    return out


def table(runs: dict[str, Path], signal: str) -> tuple[str, dict]:
    """Markdown table (one row per run and trigger) and its numbers; ratios are to runs['sequential']."""
    metrics = {m: json.loads((r / "metrics.json").read_text()) for m, r in runs.items()}
    arrays = load_arrays(runs)
    fpr = metrics["sequential"]["fpr_target"]
    rows, numbers = [], {}
    for trigger in TRIGGERS:
        for name, m in metrics.items():
            emu = m["emulator"][trigger]
            draws = m.get("emulator_pileup_draws", {}).get(trigger, {}).get("signals")
            tpr, boot, spread = tpr_cell(emu, signal, draws, "tpr_at_fpr")
            err = combined_error(boot, spread)
            if name == "sequential":
                ratio, ratio_err, over = 1.0, 0.0, None
            else:
                c = compare(metrics, arrays, name, "sequential", trigger, signal, fpr)
                ratio, ratio_err, over = c["ratio"], c["ratio_err_bootstrap"], c["ratio_over_overlays"]
            ceiling = emu["signals"][signal]["truth_tpr_at_fpr"]
            ess = emu["background_ess_above_threshold"]
            numbers.setdefault(trigger, {})[name] = {
                "run": str(runs[name]), "mode": m.get("mode"), "tpr": tpr, "tpr_err": err, "ratio_to_sequential": ratio,
                "ratio_err_bootstrap": ratio_err, "ratio_over_overlays": over, "truth_ceiling": ceiling,
                "background_ess_above_threshold": ess}
            over_text = (f"{over['tpr_num_mean']:.3f}, {over['ratio_of_means']:.2f} +- {over['ratio_err_jackknife']:.2f}"
                         f" ({over['overlays']})" if over else "-")
            rows.append(f"| {trigger} | {name} | {tpr:.3f} +- {err:.3f} | {ratio:.2f} +- {ratio_err:.2f} | "
                        f"{over_text} | {ceiling:.3f} | {ess:.0f} |")
    pairs = [("e2e", "sequential")] + [(n, n.replace("e2e", "sequential", 1)) for n in runs
                                         if n.startswith("e2e-leak-") and n.replace("e2e", "sequential", 1) in runs]
    pair_rows, pair_numbers = [], {}
    for trigger in TRIGGERS:
        for num, den in pairs:
            c = compare(metrics, arrays, num, den, trigger, signal, fpr)
            pair_numbers.setdefault(trigger, {})[f"{num} / {den}"] = c
            pair_rows.append(f"| {trigger} | {num} / {den} | {c['ratio']:.2f} +- {c['ratio_err_bootstrap']:.2f} | "
                             f"{overlay_text(c['ratio_over_overlays'])} |")
    lines = [header("physics ablations (where the end-to-end gain comes from)", ("tensorflow-cpu", "numpy")),
             f"# {signal}, TPR at FPR {fpr:g} on the test split ({metrics['sequential']['events']} events), emulator "
             f"on each run's bundle; ratios to the sequential run with a paired-bootstrap error",
             "| trigger | run | TPR | / sequential | mean TPR over pile-up overlays, / sequential (overlays) | "
             "truth ceiling | bkg ESS above thr. |",
             "|---|---|---|---|---|---|---|", *rows, "",
             "| trigger | pair | ratio (frozen overlay) | mean TPR over overlays den / num = ratio (overlays) |",
             "|---|---|---|---|", *pair_rows]
    return "\n".join(lines), {"signal": signal, "fpr": fpr, "table": numbers, "pairs": pair_numbers}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True, help="the dataset both reference runs were trained on")
    ap.add_argument("--sequential", type=Path, required=True, help="a finished sequential run (the start of two ablations)")
    ap.add_argument("--e2e", type=Path, required=True, help="the finished end-to-end run to compare with")
    ap.add_argument("--runs", type=Path, required=True, help="directory for the ablation runs")
    ap.add_argument("--steps", type=int, required=True, help="optimiser steps of each ablation (as the reference runs)")
    ap.add_argument("--train-background", help="also train e2e against this background (e.g. qcd)")
    ap.add_argument("--seg-gradient-leak", type=float, help="also train both modes with this hard-sigmoid leak")
    ap.add_argument("--pileup-draws", type=int, default=0, help="evaluate every ablation under this many pile-up draws")
    ap.add_argument("--signal", default=TARGET[0], help=f"signal process to tabulate (default {TARGET[0]})")
    ap.add_argument("--json", type=Path, help="also write the numbers here")
    args = ap.parse_args()
    if args.steps < 1:
        ap.error(f"--steps {args.steps}: expected an integer >= 1")
    for name, run in (("--sequential", args.sequential), ("--e2e", args.e2e)):
        if not (run / "metrics.json").is_file():
            sys.exit(f"error: {name} {run}: no metrics.json (not a finished run)")
    signals = json.loads((args.sequential / "metrics.json").read_text())["emulator"]["pt1"]["signals"]
    if args.signal not in signals:
        sys.exit(f"error: --signal {args.signal!r}: expected one of {', '.join(sorted(signals))}")
    for run in (args.sequential, args.e2e):  # the references need the same pile-up draws as the ablations
        if pileup_draws_done(run) < args.pileup_draws:
            run_cli(["evaluate", "--run", str(run), "--pileup-draws", str(args.pileup_draws)])
    runs = {"sequential": args.sequential, "e2e": args.e2e,
            **produce(args.data, args.runs, args.steps, ablations(args.sequential, args.train_background,
                                                                args.seg_gradient_leak),
                      args.pileup_draws)}
    text, numbers = table(runs, args.signal)
    print(text)
    (args.runs / "table.md").write_text(text + "\n")
    for path in [args.runs / "table.json", *([args.json] if args.json else [])]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(numbers, indent=1) + "\n")


if __name__ == "__main__":
    main()
