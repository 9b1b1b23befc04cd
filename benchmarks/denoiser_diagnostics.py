"""Benchmark: what each run's denoiser does, from its exported bundle with the emulator (firmware numbers).

Per run: the per-pixel MSE against the mu = 0 image on validation events with fresh pile-up (next
to predicting 0 and passing the input through), the segmentation weights w per layer (share
exactly 0, mean for cells of 0-1, 1-5, 5-20 and above 20 GeV), and the median cluster / truth and
calibrated / truth pT of the matched signal clusters (RUN/physics_arrays.npz). docs/physics.md uses
it to show which block makes a mode's trigger tail.

    .venv/bin/python benchmarks/denoiser_diagnostics.py --run runs/budget-small-paper/steps-2000/sequential \
        --run runs/budget-small-paper/steps-2000/e2e --events 512
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from machine import header

from codesign.data.reader import Dataset
from emulation.bundle import FirmwareBundle
from emulation.chain import run_chain_gev

CELL_BINS = ((0.0, 1.0), (1.0, 5.0), (5.0, 20.0), (20.0, np.inf))  # GeV of the decoded input cell
TRUTH_BINS = ((20, 40), (40, 80), (80, 150), (150, 400))  # GeV of the matched truth jet


def denoiser_numbers(bundle: FirmwareBundle, batches: list[dict]) -> dict:
    """Pixel MSE and segmentation weights of one bundle over the given batches."""
    f = bundle.formats
    squares, pixels = 0.0, 0
    w_all, et_all = [], []
    for b in batches:
        res = run_chain_gev(bundle, b["image"], keep=True)
        pred = np.ldexp(res["et_pred"].astype(np.float64), -f["et_pred"].frac_bits)
        squares += float(((pred - b["target"]) ** 2).sum())
        pixels += b["target"].size
        w_all.append(np.ldexp(res["seg_w"].astype(np.float64), -f["seg_w"].frac_bits))
        et_all.append(np.moveaxis(np.ldexp(res["et_dec"].astype(np.float64), -f["et_dec"].frac_bits), 1, -1))
    w, et = np.concatenate(w_all), np.concatenate(et_all)
    layers = []
    for layer in range(w.shape[-1]):
        wl, el = w[..., layer], et[..., layer]
        present = el > 0
        layers.append({"share_w_zero": float((wl[present] == 0).mean()),
                       "mean_w_by_cell_gev": {f"{lo:g}-{hi:g}": float(wl[present & (el >= lo) & (el < hi)].mean())
                                              if (present & (el >= lo) & (el < hi)).any() else None
                                              for lo, hi in CELL_BINS}})
    return {"pixel_mse": squares / pixels, "layers": layers}


def response_numbers(run: Path) -> dict:
    """Median cluster / truth and calibrated / truth pT per truth bin (RUN/physics_arrays.npz)."""
    with np.load(run / "physics_arrays.npz") as a:
        truth, cluster, calib = a["match_truth_pt"], a["match_cluster_pt"], a["match_pt_calib"]
    out = {}
    for lo, hi in TRUTH_BINS:
        s = (truth >= lo) & (truth < hi)
        out[f"{lo}-{hi}"] = {"matched": int(s.sum()),
                             "cluster_over_truth": float(np.median(cluster[s] / truth[s])) if s.any() else None,
                             "calibrated_over_truth": float(np.median(calib[s] / truth[s])) if s.any() else None}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, action="append", required=True, help="a finished run (repeat)")
    ap.add_argument("--events", type=int, default=512, help="validation events (fresh pile-up, reader seed 0)")
    ap.add_argument("--json", type=Path, help="also write the numbers here")
    args = ap.parse_args()
    if args.events < 1:
        ap.error(f"--events {args.events}: expected an integer >= 1")
    for run in args.run:
        for name in ("run.json", "bundle/manifest.json", "physics_arrays.npz"):
            if not (run / name).is_file():
                sys.exit(f"error: --run {run}: no {name} (not a finished, evaluated run)")
    data = {json.loads((run / "run.json").read_text())["config"]["data"] for run in args.run}
    if len(data) != 1:
        sys.exit(f"error: the runs were trained on different datasets ({', '.join(sorted(data))})")
    ds = Dataset(data.pop())
    batches = []
    for b in ds.batches("val", 128, processes=ds.trigger_processes(), pileup="fresh", shuffle=True, seed=0):
        batches.append({"image": np.asarray(b["image"]), "target": np.asarray(b["image_mu0"]).sum(axis=1)})
        if sum(len(x["image"]) for x in batches) >= args.events:
            break
    zero = sum(float((b["target"] ** 2).sum()) for b in batches) / sum(b["target"].size for b in batches)
    passed = (sum(float(((b["image"].sum(axis=1) - b["target"]) ** 2).sum()) for b in batches)
              / sum(b["target"].size for b in batches))
    numbers = {"events": sum(len(b["image"]) for b in batches), "pixel_mse_zero": zero, "pixel_mse_input": passed,
               "runs": {}}
    lines = [header("denoiser diagnostics (emulator on each bundle)", ("numpy", "numba")),
             f"# {numbers['events']} validation events with fresh pile-up; pixel MSE of predicting 0: {zero:.3f} GeV^2, "
             f"of the input itself: {passed:.3f} GeV^2",
             "| run | pixel MSE (GeV^2) | layer | share of non-empty cells with w = 0 | mean w, cells "
             + " / ".join(f"{lo:g}-{hi:g}" for lo, hi in CELL_BINS) + " GeV |", "|---|---|---|---|---|"]
    for run in args.run:
        entry = {**denoiser_numbers(FirmwareBundle.load(run / "bundle"), batches), "response": response_numbers(run)}
        numbers["runs"][str(run)] = entry
        for i, layer in enumerate(entry["layers"]):
            means = " / ".join("-" if v is None else f"{v:.3f}" for v in layer["mean_w_by_cell_gev"].values())
            lines.append(f"| {run} | {entry['pixel_mse']:.3f} | {i} | {layer['share_w_zero']:.3f} | {means} |")
    lines += ["", "| run | truth pT (GeV) | matched | median cluster / truth | median calibrated / truth |",
              "|---|---|---|---|---|"]
    for run, entry in numbers["runs"].items():
        for span, r in entry["response"].items():
            if r["matched"]:
                lines.append(f"| {run} | {span} | {r['matched']} | {r['cluster_over_truth']:.2f} | "
                             f"{r['calibrated_over_truth']:.2f} |")
    print("\n".join(lines))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(numbers, indent=1) + "\n")


if __name__ == "__main__":
    main()
