"""The results of a run: metrics.json (float model and emulator, V1 agreement), evaluation.npz and the trigger plots."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from codesign.data.reader import Dataset
from codesign.report.paper_figures import PHYSICS_ARRAYS
from codesign.train.evaluate import Evaluation, emulator_pileup_draws, evaluate
from codesign.train.export import ExportResult
from codesign.train.loop import load_trained, open_dataset
from codesign.train.metrics import trigger_metrics
from codesign.train.physics_arrays import write_physics_arrays
from codesign.train.plots import roc_plot, turn_on_plot
from codesign.train.rundir import RunDir, write_json
from emulation.npz import write_npz

EVALUATION = "evaluation.npz"
TRIGGERS = ("pt1", "pt4")
PILEUP_DRAWS = "pileup_draws"  # RUN/pileup_draws/<split>-draw-<k>.npz: each draw's emulator outputs, reused


BOOTSTRAPS = 200  # Poisson-bootstrap replicas for the TPRs' statistical errors


def evaluate_run(run_dir: str | Path, exported: ExportResult, split: str = "test",
                 max_batches: int | None = None, pileup_draws: int = 0) -> dict[str, Any]:
    """Evaluate a finished run's model and its exported bundle on `split`; write RUN/metrics.json and RUN/plots.

    The emulator's TPRs get bootstrap errors, the background's effective events and the truth-level
    ceiling; with `pileup_draws`, also their spread over that many independent pile-up draws.
    """
    run = RunDir(Path(run_dir))
    model, config, spec, derived = load_trained(run)
    ds = open_dataset(config.data, spec)
    kept = None if max_batches is not None else kept_evaluation(run, exported.content_hash, ds, split)
    if kept is None:
        ev = evaluate(model, exported.bundle, ds, split, spec.detector.eta_max, config.batch_size, max_batches)
        agreement = ev.agreement.report()
    else:  # only pile-up draws are added: the frozen-overlay evaluation of this very bundle stands
        ev, agreement = kept
        print(f"frozen-overlay evaluation kept: {run.path(EVALUATION)} is of this bundle and dataset", flush=True)
    args = (ev.label, ev.process, ev.weight, ds.processes, ds.signal_processes, spec.trigger.fpr)
    metrics = {
        "run": run.root.name, "mode": config.mode, "split": split, "pileup": "frozen", "events": int(ev.label.size),
        "fpr_target": spec.trigger.fpr, "bundle_hash": exported.content_hash, "dataset_hash": ds.content_hash,
        "dataset_config": ds.config.to_json(),
        "bundle_thresholds_raw": exported.thresholds, "bundle_thresholds_fpr_val": exported.val_fpr,
        "float": trigger_metrics(ev.float_pt, *args),
        "emulator": trigger_metrics(ev.emulator_pt, *args, thresholds=exported.thresholds, truth=ev.truth_pt,
                                    bootstraps=BOOTSTRAPS, seed=config.seed),
        "v1_agreement": agreement,
    }
    if pileup_draws and max_batches is None:
        draws = emulator_pileup_draws(exported.bundle, ds, split, pileup_draws, config.batch_size,
                                      cache=run.path(PILEUP_DRAWS))
        metrics["emulator_pileup_draws"] = draw_spread(
            [trigger_metrics(d, *args, thresholds=exported.thresholds) for d in draws])
    write_json(run.path("metrics.json"), metrics)
    if kept is not None:
        return metrics
    write_npz(run.path(EVALUATION), evaluation_arrays(ev, ds.processes), dtype=None)
    plots = run.path("plots")
    plots.mkdir(exist_ok=True)
    roc_plot(ev, ds.processes, ds.signal_processes, spec.trigger.fpr, plots / "roc.png")
    turn_on_plot(ev, ds.processes, exported.thresholds, derived.formats["pt_calib"].lsb, plots / "turn_on.png")
    write_physics_arrays(run.root, exported.bundle, ds, split, spec.detector.eta_max, config.mode)
    return metrics


def kept_evaluation(run: RunDir, bundle_hash: str, ds: Dataset, split: str) -> tuple[Evaluation, dict] | None:
    """The frozen-overlay evaluation (arrays, V1 agreement) that an earlier full `evaluate_run` wrote for this
    bundle, dataset and split, when all its files are there; None otherwise."""
    files = [run.path(name) for name in ("metrics.json", EVALUATION, PHYSICS_ARRAYS)]
    if not all(f.is_file() for f in files):
        return None
    old = json.loads(files[0].read_text())
    events = sum(ds.count(split, p) for p in ds.trigger_processes())
    if (old.get("bundle_hash"), old.get("dataset_hash"), old.get("split"), old.get("events")) != (
            bundle_hash, ds.content_hash, split, events):
        return None
    with np.load(files[1]) as a:
        if list(a["processes"]) != list(ds.processes) or a["label"].size != events:
            return None
        return evaluation_of_arrays(a), old["v1_agreement"]


def draw_spread(per_draw: list[dict[str, dict]]) -> dict[str, dict]:
    """Per trigger and signal: the TPRs of every pile-up draw, their mean and standard deviation."""
    out: dict[str, dict] = {}
    for trig, entry in per_draw[0].items():
        out[trig] = {"draws": len(per_draw), "signals": {}}
        for s in entry["signals"]:
            cell = {}
            for key in ("tpr_at_fpr", "tpr_at_bundle_threshold"):
                v = [d[trig]["signals"][s][key] for d in per_draw]
                cell[key] = {"values": v, "mean": float(np.mean(v)),
                             "std": float(np.std(v, ddof=1)) if len(v) > 1 else float("nan")}
            out[trig]["signals"][s] = cell
    return out


def evaluation_arrays(ev: Evaluation, processes: list[str]) -> dict[str, np.ndarray]:
    """Per-event trigger quantities of both implementations, for reports (`codesign report --run`)."""
    arrays = {"processes": np.array(processes), "label": ev.label, "process": ev.process, "weight": ev.weight}
    for trig in TRIGGERS:
        arrays[f"float_{trig}"] = ev.float_pt[trig]
        arrays[f"emulator_{trig}"] = ev.emulator_pt[trig]
        arrays[f"truth_{trig}"] = ev.truth_pt[trig]
    return arrays


def evaluation_of_arrays(a: Mapping[str, np.ndarray]) -> Evaluation:
    """The inverse of `evaluation_arrays` (without the V1 agreement, which metrics.json keeps)."""
    return Evaluation(float_pt={t: a[f"float_{t}"] for t in TRIGGERS},
                      emulator_pt={t: a[f"emulator_{t}"] for t in TRIGGERS}, label=a["label"],
                      process=a["process"], weight=a["weight"],
                      truth_pt={t: a[f"truth_{t}"] for t in TRIGGERS}, agreement=None)


def summary_lines(metrics: dict[str, Any]) -> list[str]:
    """A short table: TPR at the FPR per signal and trigger (emulator), AUC, and the V1 agreement."""
    lines = [f"TPR at FPR {metrics['fpr_target']:g} on the {metrics['split']} split ({metrics['events']} events), "
             f"emulator on the exported bundle [QAT model]:"]
    emu, flt = metrics["emulator"], metrics["float"]
    for s in emu["pt1"]["signals"]:
        cells = []
        for t in ("pt1", "pt4"):
            e = emu[t]["signals"][s]
            error = f" +- {e['tpr_at_fpr_std']:.3f}" if "tpr_at_fpr_std" in e else ""
            ceiling = f" (truth {e['truth_tpr_at_fpr']:.3f})" if "truth_tpr_at_fpr" in e else ""
            cells.append(f"{t}: TPR {e['tpr_at_fpr']:.3f}{error} [{flt[t]['signals'][s]['tpr_at_fpr']:.3f}]{ceiling} "
                         f"AUC {e['auc']:.3f}")
        lines.append(f"  {s:10s} " + "   ".join(cells))
    ess = ", ".join(f"{t} {emu[t]['background_ess_above_threshold']:.1f}" for t in ("pt1", "pt4"))
    lines.append(f"background events above the thresholds (effective): {ess}")
    worst = min(v["fraction_identical"] for v in metrics["v1_agreement"].values())
    lines.append(f"V1 model vs emulator: every tensor >= {worst:.4%} identical "
                 f"(max |diff| {max(v['max_abs_diff_lsb'] for v in metrics['v1_agreement'].values())} LSB)")
    return lines
