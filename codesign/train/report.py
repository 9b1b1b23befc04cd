"""The results of a run: metrics.json (float model and emulator, V1 agreement), evaluation.npz and the trigger plots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from codesign.train.evaluate import Evaluation, evaluate
from codesign.train.export import ExportResult
from codesign.train.loop import load_trained, open_dataset
from codesign.train.metrics import trigger_metrics
from codesign.train.plots import roc_plot, turn_on_plot
from codesign.train.rundir import RunDir, write_json
from emulation.npz import write_npz

EVALUATION = "evaluation.npz"


def evaluate_run(run_dir: str | Path, exported: ExportResult, split: str = "test",
                 max_batches: int | None = None) -> dict[str, Any]:
    """Evaluate a finished run's model and its exported bundle on `split`; write RUN/metrics.json and RUN/plots."""
    run = RunDir(Path(run_dir))
    model, config, spec, derived = load_trained(run)
    ds = open_dataset(config.data, spec)
    ev = evaluate(model, exported.bundle, ds, split, spec.detector.eta_max, config.batch_size, max_batches)
    args = (ev.label, ev.process, ev.weight, ds.processes, ds.signal_processes, spec.trigger.fpr)
    metrics = {
        "run": run.root.name, "mode": config.mode, "split": split, "pileup": "frozen", "events": int(ev.label.size),
        "fpr_target": spec.trigger.fpr, "bundle_hash": exported.content_hash, "dataset_hash": ds.content_hash,
        "bundle_thresholds_raw": exported.thresholds, "bundle_thresholds_fpr_val": exported.val_fpr,
        "float": trigger_metrics(ev.float_pt, *args),
        "emulator": trigger_metrics(ev.emulator_pt, *args, thresholds=exported.thresholds),
        "v1_agreement": ev.agreement.report(),
    }
    write_json(run.path("metrics.json"), metrics)
    write_npz(run.path(EVALUATION), evaluation_arrays(ev, ds.processes), dtype=None)
    plots = run.path("plots")
    plots.mkdir(exist_ok=True)
    roc_plot(ev, ds.processes, ds.signal_processes, spec.trigger.fpr, plots / "roc.png")
    turn_on_plot(ev, ds.processes, exported.thresholds, derived.formats["pt_calib"].lsb, plots / "turn_on.png")
    return metrics


def evaluation_arrays(ev: Evaluation, processes: list[str]) -> dict[str, np.ndarray]:
    """Per-event trigger quantities of both implementations, for reports (`codesign report --run`)."""
    arrays = {"processes": np.array(processes), "label": ev.label, "process": ev.process, "weight": ev.weight}
    for trig in ("pt1", "pt4"):
        arrays[f"float_{trig}"] = ev.float_pt[trig]
        arrays[f"emulator_{trig}"] = ev.emulator_pt[trig]
        arrays[f"truth_{trig}"] = ev.truth_pt[trig]
    return arrays


def summary_lines(metrics: dict[str, Any]) -> list[str]:
    """A short table: TPR at the FPR per signal and trigger (emulator), AUC, and the V1 agreement."""
    lines = [f"TPR at FPR {metrics['fpr_target']:g} on the {metrics['split']} split ({metrics['events']} events), "
             f"emulator on the exported bundle [QAT model]:"]
    emu, flt = metrics["emulator"], metrics["float"]
    for s in emu["pt1"]["signals"]:
        cells = [f"{t}: TPR {emu[t]['signals'][s]['tpr_at_fpr']:.3f} [{flt[t]['signals'][s]['tpr_at_fpr']:.3f}] "
                 f"AUC {emu[t]['signals'][s]['auc']:.3f}" for t in ("pt1", "pt4")]
        lines.append(f"  {s:10s} " + "   ".join(cells))
    worst = min(v["fraction_identical"] for v in metrics["v1_agreement"].values())
    lines.append(f"V1 model vs emulator: every tensor >= {worst:.4%} identical "
                 f"(max |diff| {max(v['max_abs_diff_lsb'] for v in metrics['v1_agreement'].values())} LSB)")
    return lines
