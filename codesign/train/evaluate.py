"""Run the QAT model and the bit-accurate emulator on the same events: trigger quantities and V1 agreement.

For each tensor of the chain both produce, the V1 report gives the fraction of identical values
and the largest difference in LSBs of the tensor's format (the model's float64 values are
converted to raw integers; they lie on the format's grid by construction).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from codesign.data.reader import Dataset
from codesign.train.fixed_tf import to_raw
from codesign.train.model import TriggerChain
from emulation.bundle import FirmwareBundle
from emulation.chain import ChainResult, run_chain_gev
from emulation.npz import write_npz

# Tensor compared -> format of its raw integers (None: already integers).
V1_TENSORS = {"codes": None, "et_dec": "et_dec", "seg_w": "seg_w", "et_pred": "et_pred", "seeds": None,
              "cluster_pt": "cluster_pt", "cluster_ieta": None, "cluster_iphi": None, "n_clusters": None,
              "pt_calib": "pt_calib", "pt1": "pt_calib", "pt4": "pt_calib"}
DECISIONS = ("pass_pt1", "pass_pt4")


def model_raw(out: dict[str, np.ndarray], bundle: FirmwareBundle) -> dict[str, np.ndarray]:
    """The model's V1 tensors as raw integers of the bundle's formats."""
    raw = {}
    for name, fmt in V1_TENSORS.items():
        v = np.asarray(out[name])
        raw[name] = v.astype(np.int64) if fmt is None else to_raw(v, bundle.formats[fmt])
    t1, t4 = (int(t) for t in bundle.trigger.thresholds)
    raw["pass_pt1"], raw["pass_pt4"] = raw["pt1"] >= t1, raw["pt4"] >= t4
    return raw


@dataclass
class Agreement:
    """Running per-tensor agreement counts between the model and the emulator."""

    identical: dict[str, int] = field(default_factory=dict)
    total: dict[str, int] = field(default_factory=dict)
    max_lsb: dict[str, int] = field(default_factory=dict)

    def add(self, model: dict[str, np.ndarray], emulator: ChainResult) -> None:
        for name in (*V1_TENSORS, *DECISIONS):
            a = np.asarray(model[name]).astype(np.int64)
            b = np.asarray(emulator[name]).astype(np.int64)
            diff = np.abs(a - b)
            self.identical[name] = self.identical.get(name, 0) + int((diff == 0).sum())
            self.total[name] = self.total.get(name, 0) + int(diff.size)
            self.max_lsb[name] = max(self.max_lsb.get(name, 0), int(diff.max(initial=0)))

    def report(self) -> dict[str, dict]:
        return {k: {"values": self.total[k], "fraction_identical": self.identical[k] / self.total[k],
                    "max_abs_diff_lsb": self.max_lsb[k]} for k in self.total}


@dataclass
class Evaluation:
    """Per-event trigger quantities of a split from both implementations, plus their agreement."""

    float_pt: dict[str, np.ndarray]  # pt1, pt4 raw pt_calib from the QAT model
    emulator_pt: dict[str, np.ndarray]  # the same from the emulator
    label: np.ndarray
    process: np.ndarray
    weight: np.ndarray
    truth_pt: dict[str, np.ndarray]  # leading and fourth truth-jet pT inside the calorimeter (0 if none)
    agreement: Agreement


def truth_pt(jets: np.ndarray, n_jets: np.ndarray, eta_max: float, rank: int) -> np.ndarray:
    """pT of the rank-th (0 = leading) truth jet with |eta| < eta_max, 0 when there are fewer."""
    inside = (np.arange(jets.shape[1])[None, :] < n_jets[:, None]) & (np.abs(jets[..., 1]) < eta_max)
    pts = np.where(inside, jets[..., 0], 0.0)
    return -np.sort(-pts, axis=1)[:, rank]


def evaluate(model: TriggerChain, bundle: FirmwareBundle, ds: Dataset, split: str, eta_max: float,
             batch_size: int = 128, max_batches: int | None = None) -> Evaluation:
    """Both implementations over `split` (signals and the dataset's background) with frozen pile-up, in dataset order."""
    agreement = Agreement()
    forward = model.evaluation_forward()
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("f1", "f4", "e1", "e4", "label", "process", "weight",
                                                         "t1", "t4")}
    for i, batch in enumerate(ds.batches(split, batch_size, processes=ds.trigger_processes(), pileup="frozen",
                                         shuffle=False)):
        if max_batches is not None and i >= max_batches:
            break
        out = model_raw({k: v.numpy() for k, v in forward(batch["image"]).items()}, bundle)
        emu = run_chain_gev(bundle, batch["image"], keep=True)
        agreement.add(out, emu)
        for key, value in (("f1", out["pt1"]), ("f4", out["pt4"]), ("e1", emu["pt1"]), ("e4", emu["pt4"]),
                           ("label", batch["label"]), ("process", batch["process"]), ("weight", batch["weight"]),
                           ("t1", truth_pt(batch["jets"], batch["n_jets"], eta_max, 0)),
                           ("t4", truth_pt(batch["jets"], batch["n_jets"], eta_max, 3))):
            cols[key].append(np.asarray(value))
    c = {k: np.concatenate(v) for k, v in cols.items()}
    return Evaluation(float_pt={"pt1": c["f1"], "pt4": c["f4"]}, emulator_pt={"pt1": c["e1"], "pt4": c["e4"]},
                      label=c["label"], process=c["process"], weight=c["weight"].astype(np.float64),
                      truth_pt={"pt1": c["t1"], "pt4": c["t4"]}, agreement=agreement)


def emulator_pileup_draws(bundle: FirmwareBundle, ds: Dataset, split: str, draws: int, batch_size: int = 128,
                          cache: Path | None = None) -> list[dict[str, np.ndarray]]:
    """The emulator's raw pt1 and pt4 of every event of `split` (dataset order) under `draws` independent pile-up draws.

    Draw k overlays fresh pile-up seeded by reader seed k (and the response drawn with it), so the
    spread over draws is the uncertainty that one frozen overlay hides. With `cache`, each draw is
    kept there (for this bundle and dataset), so that adding draws or resuming reuses finished ones.
    """
    out = []
    hashes = {"bundle_hash": bundle.content_hash(), "dataset_hash": ds.content_hash}
    for k in range(draws):
        path = cache / f"{split}-draw-{k}.npz" if cache is not None else None
        kept = _cached_draw(path, hashes) if path is not None else None
        if kept is not None:
            out.append(kept)
            continue
        start = time.monotonic()
        cols: dict[str, list[np.ndarray]] = {"pt1": [], "pt4": []}
        for batch in ds.batches(split, batch_size, processes=ds.trigger_processes(), pileup="fresh",
                                shuffle=False, seed=k):
            emu = run_chain_gev(bundle, batch["image"])
            cols["pt1"].append(np.asarray(emu["pt1"]))
            cols["pt4"].append(np.asarray(emu["pt4"]))
        draw = {t: np.concatenate(v) for t, v in cols.items()}
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.tmp")
            write_npz(tmp, {**draw, **{name: np.array(h) for name, h in hashes.items()}}, dtype=None)
            os.replace(tmp, path)
        print(f"pile-up draw {k + 1}/{draws}: {draw['pt1'].size} events in {time.monotonic() - start:.0f} s",
              flush=True)
        out.append(draw)
    return out


def _cached_draw(path: Path, hashes: dict[str, str]) -> dict[str, np.ndarray] | None:
    """A kept draw when it was made with the bundle and dataset of these content hashes, else None."""
    if not path.is_file():
        return None
    with np.load(path) as f:
        if any(str(f[k]) != v for k, v in hashes.items()):
            return None
        return {t: f[t] for t in ("pt1", "pt4")}
