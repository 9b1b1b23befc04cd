"""One sweep point, resumable: train (or fine-tune) -> export -> emulator TPR -> build (C-sim, RTL simulation)
-> latency gate and resources.

Each point has its own directory: spec.yaml and point.json (written by the sweep before it runs),
run/ (the training run), bundle/, tpr.json, build/, and result.json, the done marker: a rerun returns
it without running anything. A cut point resumes where it stopped (training from its last epoch,
the build from its last step). Run times go to timings.json, not into the result.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from codesign.build.config import BuildConfig
from codesign.build.steps import CheckFailed, run_build
from codesign.derived import DerivedParams, derive
from codesign.errors import InputError
from codesign.spec import load_spec
from codesign.sweep.config import TRIGGERS, SweepConfig
from codesign.sweep.points import Point
from codesign.sweep.table import RESOURCE_KINDS
from emulation.atomic import write_json
from emulation.jsoncheck import read_json

RESULT = "result.json"
FAILED = "failed.json"
TIMINGS = "timings.json"
BUILD_STEPS = ("events", "hls", "csim", "rtl", "rtl_sim")


@dataclass(frozen=True)
class PointTask:
    """What a worker needs to run one point (picklable): the sweep's config, the point, its directory."""

    config: SweepConfig
    point: Point
    directory: str
    reason: str | None  # why the point is infeasible (None: feasible)


@contextlib.contextmanager
def _timed(timings: dict[str, float], name: str) -> Iterator[None]:
    t0 = time.perf_counter()
    try:
        yield
    finally:
        timings[f"{name}_s"] = round(time.perf_counter() - t0, 2)


def _train_and_export(task: PointTask, d: Path, timings: dict[str, float], log: Callable[[str], None]):
    """The point's trained run and its bundle (each step skipped when its output is already there)."""
    from codesign.train.config import TrainConfig
    from codesign.train.export import export_run
    from codesign.train.loop import Trainer
    from codesign.train.rundir import RunDir
    from emulation.bundle import FirmwareBundle

    cfg = task.config
    train = TrainConfig(spec=str(d / "spec.yaml"), data=cfg.data, mode=cfg.mode, steps=cfg.train_steps,
                        seed=cfg.seed, batch_size=cfg.batch_size, init_from=cfg.from_run)
    with _timed(timings, "train"):
        run = RunDir(d / "run")
        if not (run.run_json.exists() and run.read()["status"] == "trained"):  # else finished: left alone
            Trainer.open(train, d / "run", log=log).train()
    with _timed(timings, "export"):
        if not (d / "bundle" / "manifest.json").exists():
            export_run(d / "run", d / "bundle")
        return FirmwareBundle.load(d / "bundle")


def _exactness(build: Path) -> dict[str, Any]:
    """Mismatching values of the C simulation and mismatching outputs of each RTL simulator (None: not run)."""
    from codesign.hls.steps import CSIM
    from codesign.rtl.steps import SIM_SUMMARY

    csim, rtl = build / CSIM / "summary.json", build / SIM_SUMMARY
    return {"csim_mismatches": read_json(csim, str(csim))["mismatches"] if csim.exists() else None,
            "rtl_mismatching_outputs": {sim: s["mismatching_outputs"] for sim, s in read_json(rtl, str(rtl)).items()}
            if rtl.exists() else None}


def _latency(build: Path, derived: DerivedParams) -> dict[str, Any]:
    """The check-latency gate on the build: measured cycles of the denoiser and the chain, blocks over budget."""
    from codesign.rtl.cli import check_built_from
    from codesign.rtl.latency import latency_rows, stored_latencies

    records = stored_latencies(build)
    if not records:
        return {"gate": None, "over_budget": [], "cycles": {}, "us": {}}
    check_built_from(build, spec_hash=derived.spec_hash)
    rows = latency_rows(derived, records)
    missing = [r.block for r in rows if r.budget_cycles is not None and r.measured_cycles is None]
    over = [r.block for r in rows if r.over]
    return {"gate": "fail" if over or missing else "pass", "over_budget": over + missing,
            "cycles": {r.block: r.measured_cycles for r in rows if r.block in ("denoiser", "chain")},
            "us": {r.block: round(r.measured_us, 4) for r in rows if r.block in ("denoiser", "chain")}}


def _resources(task: PointTask, results: dict[str, Any], bundle, derived: DerivedParams) -> dict[str, Any] | None:
    """LUT, FF, DSP, BRAM36 of the whole design: yosys when the sweep asks for it (None when the build stopped
    before synthesis), else the analytic estimate."""
    if task.config.yosys:
        if "synth" not in results:
            return None
        total = results["synth"]["yosys_total"]
        return {"from": "yosys", **{k: total.get(k, 0) for k in RESOURCE_KINDS}}
    from codesign.rtl.estimate import estimate
    from codesign.rtl.plan import make_plan

    return {"from": "estimate", **estimate(make_plan(bundle, derived))["total"]}


def _pipeline(task: PointTask, d: Path, timings: dict[str, float], log: Callable[[str], None]) -> dict[str, Any]:
    cfg = task.config
    spec = load_spec(d / "spec.yaml")
    derived = derive(spec)
    bundle = _train_and_export(task, d, timings, log)
    with _timed(timings, "tpr"):
        if not (d / "tpr.json").exists():
            from codesign.sweep.tpr import emulator_tpr

            write_json(d / "tpr.json", emulator_tpr(bundle, cfg.data, spec))
        tpr = read_json(d / "tpr.json", str(d / "tpr.json"))
    steps = BUILD_STEPS + (("synth",) if cfg.yosys else ())
    build = BuildConfig(spec=str(d / "spec.yaml"), bundle=str(d / "bundle"), target=spec.target.part,
                        out=str(d / "build"), n_events=cfg.events, data=cfg.data, seed=cfg.seed,
                        simulators=cfg.simulators, rtl_events=cfg.rtl_events, steps=steps)
    with _timed(timings, "build"):
        try:
            results = run_build(build, log=log).results
            error = None
        except CheckFailed as exc:
            results, error = {}, str(exc)
    exact = _exactness(d / "build")
    rtl = exact["rtl_mismatching_outputs"]
    mismatch = bool(exact["csim_mismatches"]) or any((rtl or {}).values())
    if error is not None and not mismatch:
        raise CheckFailed(error)  # a tool failed: no verdict on exactness
    return {"status": "done", "reason": error,
            "derived": {"bits_per_cell": derived.bits_per_cell, "levels": derived.levels,
                        "pixel_parallelism": derived.pixel_parallelism},
            "bundle_hash": bundle.content_hash(),
            "thresholds_raw": {t: int(v) for t, v in zip(TRIGGERS, bundle.trigger.thresholds)},
            "tpr": {trig: {s: v["tpr_at_fpr"] for s, v in entry["signals"].items()} for trig, entry in tpr.items()},
            "tpr_bundle_threshold": {trig: {s: v["tpr_at_bundle_threshold"] for s, v in entry["signals"].items()}
                                     for trig, entry in tpr.items()},
            "resources": _resources(task, results, bundle, derived),
            "latency": _latency(d / "build", derived),
            "bit_exact": not mismatch, "exactness": exact}


def run_point(task: PointTask) -> dict[str, Any]:
    """Run (or resume, or read back) one point; returns its result (status done, infeasible or failed)."""
    d = Path(task.directory)
    if (d / RESULT).exists():
        return read_json(d / RESULT, str(d / RESULT))
    head = {"id": task.point.id, "overrides": dict(task.point.overrides)}
    timings: dict[str, float] = {}
    if task.reason is not None:
        result = {**head, "status": "infeasible", "reason": task.reason}
    else:
        with (d / "point.log").open("a") as log_file, contextlib.redirect_stdout(log_file), \
                contextlib.redirect_stderr(log_file), _timed(timings, "total"):
            def log(line: str) -> None:
                print(line, file=log_file, flush=True)

            try:
                result = {**head, **_pipeline(task, d, timings, log)}
            except (InputError, CheckFailed) as exc:
                result = {**head, "status": "failed", "reason": str(exc).splitlines()[0]}
                write_json(d / FAILED, result)
                return result
    write_json(d / TIMINGS, timings)
    (d / FAILED).unlink(missing_ok=True)
    write_json(d / RESULT, result)
    return result
