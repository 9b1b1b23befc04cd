"""`codesign export`: a trained run -> FirmwareBundle, trigger thresholds set with the emulator.

The thresholds are the smallest raw pt_calib values whose background rate (the dataset configuration's
background, generator-weighted where it is: docs/data.md), measured
with the bit-accurate emulator on the validation split (frozen pile-up), is at most the spec's
false-positive rate. Provenance records the spec, the dataset's content hash, the run, the seed
and the package versions; nothing volatile, so the same run always gives the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import numpy as np

from codesign import __version__
from codesign.data.reader import Dataset
from codesign.errors import InputError
from codesign.train.bundle_of_model import model_bundle
from codesign.train.config import TrainConfig
from codesign.train.loop import load_trained, open_dataset
from codesign.train.metrics import passing_rate, threshold_at_fpr
from codesign.train.rundir import RunDir
from emulation.bundle import FirmwareBundle, Provenance
from emulation.chain import run_chain_gev

PACKAGES = ("tensorflow-cpu", "qkeras", "tensorflow-probability", "numpy", "numba")


@dataclass(frozen=True)
class ExportResult:
    bundle: FirmwareBundle
    content_hash: str
    thresholds: dict[str, int]
    val_fpr: dict[str, float]  # emulator's (weighted) background rate at the thresholds, validation split


def provenance(config: TrainConfig, run: RunDir, spec_name: str, spec_hash: str, dataset_hash: str) -> Provenance:
    settings = {k: v for k, v in config.to_json().items() if k not in ("spec", "data", "mode", "seed") and v is not None}
    run_text = f"{run.root.name}: mode={config.mode} " + " ".join(f"{k}={v}" for k, v in settings.items())
    return Provenance(spec_name=spec_name, spec_hash=spec_hash, codesign_version=__version__, seed=config.seed,
                      source="export", dataset_hash=dataset_hash, run=run_text,
                      packages={p: version(p) for p in PACKAGES})


def emulator_trigger_values(bundle: FirmwareBundle, ds: Dataset, split: str,
                            batch_size: int = 256) -> dict[str, np.ndarray]:
    """pt1, pt4 (raw pt_calib) of the emulator over a split with frozen pile-up, with label, process and weight."""
    cols: dict[str, list[np.ndarray]] = {"pt1": [], "pt4": [], "label": [], "process": [], "weight": []}
    for batch in ds.batches(split, batch_size, processes=ds.trigger_processes(), pileup="frozen", shuffle=False):
        result = run_chain_gev(bundle, batch["image"])
        for k in ("pt1", "pt4"):
            cols[k].append(result[k])
        cols["label"].append(batch["label"])
        cols["process"].append(batch["process"])
        cols["weight"].append(batch["weight"].astype(np.float64))
    return {k: np.concatenate(v) for k, v in cols.items()}


def export_run(run_dir: str | Path, out: str | Path, data: str | Path | None = None) -> ExportResult:
    """Write the bundle of a finished run to `out` (atomically) and return it with its thresholds."""
    run = RunDir(Path(run_dir))
    run.config()
    run.check_model()
    model, config, spec, derived = load_trained(run)
    ds = open_dataset(data if data is not None else config.data, spec)
    want = run.read()["dataset_hash"]
    if ds.content_hash != want:
        raise InputError(f"dataset {str(ds.path)!r} (content hash {ds.content_hash[:12]}) is not the one run "
                         f"{str(run.root)!r} was trained on ({want[:12]}): pass that dataset with --data")
    prov = provenance(config, run, spec.name, spec.spec_hash(), ds.content_hash)
    raw_max = derived.formats["pt_calib"].raw_max
    draft = model_bundle(model, derived, np.zeros(2, np.int64), prov)
    values = emulator_trigger_values(draft, ds, "val")
    bkg = values["label"] == 0
    if values["weight"][bkg].sum() <= 0:
        raise InputError(f"dataset {str(ds.path)!r} has no weighted background in the val split: "
                         f"the trigger thresholds cannot be set")
    thresholds = {k: min(threshold_at_fpr(values[k][bkg], values["weight"][bkg], spec.trigger.fpr), raw_max)
                  for k in ("pt1", "pt4")}
    bundle = model_bundle(model, derived, np.array([thresholds["pt1"], thresholds["pt4"]]), prov)
    try:
        digest = bundle.save(out)
    except OSError as exc:
        raise InputError(f"--out {str(out)!r}: cannot write the bundle ({exc.strerror or exc})") from None
    rates = {k: passing_rate(values[k][bkg], t, values["weight"][bkg]) for k, t in thresholds.items()}
    return ExportResult(bundle=bundle, content_hash=digest, thresholds=thresholds, val_fpr=rates)
