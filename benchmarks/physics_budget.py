"""Benchmark: how the end-to-end gain grows with the training budget (paper Table 6 at several step counts).

For each step count it trains and evaluates both modes (benchmarks/physics_table.py does the work,
and every run resumes after a kill), then tabulates the e2e / sequential TPR ratio against the
summed learning rate, so the budget at which the gain levels off can be read off.

    .venv/bin/python benchmarks/physics_budget.py --data data/small-paper --runs runs/budget-small-paper \
        --steps 2000,8000,56250 --json benchmarks/results/physics_budget.json
    (add --seg-gradient-leak 0.1 for the same scan with the hard sigmoid's backward leak, docs/physics.md)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from machine import header
from physics_table import HALVINGS, TARGET, overlay_text, produce, table

from codesign.train.config import PRESETS, summed_learning_rate

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True, help="dataset directory (generated when missing)")
    ap.add_argument("--runs", type=Path, required=True, help="directory for the runs (one folder per step count)")
    ap.add_argument("--steps", required=True, help="comma-separated optimiser steps per stage")
    ap.add_argument("--preset", default="small", help="data preset when the data must be generated")
    ap.add_argument("--config", default="paper", help="dataset configuration when the data must be generated")
    ap.add_argument("--pileup-draws", type=int, default=0, help="evaluate every run under this many pile-up draws")
    ap.add_argument("--seg-gradient-leak", type=float, default=0.0,
                    help="train both modes with this hard-sigmoid leak (runs in steps-N-leak-A)")
    ap.add_argument("--json", type=Path, help="also write the numbers here")
    args = ap.parse_args()
    try:
        counts = sorted({int(s) for s in args.steps.split(",")})
    except ValueError:
        ap.error(f"--steps {args.steps!r}: expected comma-separated integers")
    if not counts or counts[0] < 1:
        ap.error(f"--steps {args.steps!r}: expected positive integers")
    signal, trigger, _ = TARGET
    rows, numbers = [], []
    for steps in counts:
        halving = -(-steps // HALVINGS)
        leak = [f"--seg-gradient-leak={args.seg_gradient_leak:g}"] if args.seg_gradient_leak else []
        suffix = f"-leak-{args.seg_gradient_leak:g}" if args.seg_gradient_leak else ""
        runs = produce(args.preset, args.config, args.data, args.runs / f"steps-{steps}{suffix}",
                       [f"--steps={steps}", f"--lr-halving-steps={halving}", *leak], 2, args.pileup_draws)
        _, result = table(runs)
        cell = result["table"][signal][trigger]
        summed = summed_learning_rate(steps, halving)
        over = cell["ratio_over_overlays"]
        numbers.append({"steps": steps, "summed_lr": summed, "ratio": cell["ratio"],
                        "ratio_err": cell["ratio_err_bootstrap"], "tpr_sequential": cell["sequential"]["tpr"],
                        "tpr_e2e": cell["e2e"]["tpr"], "ratio_over_overlays": over,
                        "truth_ceiling": cell["truth_ceiling"]})
        rows.append(f"| {steps} | {summed:.4g} | {cell['sequential']['tpr']:.3f} | {cell['e2e']['tpr']:.3f} | "
                    f"{cell['ratio']:.2f} +- {cell['ratio_err_bootstrap']:.2f} | {overlay_text(over)} | "
                    f"{cell['truth_ceiling']:.3f} |")
    paper = PRESETS["paper"]
    lines = [header("physics budget scan (e2e / sequential against training budget)", ("tensorflow-cpu", "numpy")),
             f"# {signal} {trigger}, TPR at the spec's FPR, emulator; hard-sigmoid leak {args.seg_gradient_leak:g}; "
             f"the paper's budget is a summed learning rate of "
             f"{summed_learning_rate(paper.steps, paper.halving_steps):.4g}",
             "| steps per stage | summed lr | TPR seq | TPR e2e | e2e / seq | mean TPR over pile-up overlays "
             "seq / e2e = ratio (overlays) | truth ceiling |",
             "|---|---|---|---|---|---|---|", *rows]
    print("\n".join(lines))
    name = f"budget-leak-{args.seg_gradient_leak:g}.json" if args.seg_gradient_leak else "budget.json"
    for path in [args.runs / name, *([args.json] if args.json else [])]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"signal": signal, "trigger": trigger, "points": numbers}, indent=1) + "\n")


if __name__ == "__main__":
    main()
