"""`codesign sweep`: plan the points, run the ones not done (in parallel), write sweep.json, sweep.csv and the report.

OUT/points/<id>/   one directory per point (see run_point); <id> hashes the point's overrides, so a
                   rerun, or a sweep with more values, reuses every point already done
OUT/sweep.json     every point's result and its place on the Pareto fronts (deterministic)
OUT/sweep.csv      one row per point;  OUT/timings.json  run times;  OUT/sweep.html  the report
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path
from typing import Any, Callable

from codesign.data.reader import Dataset
from codesign.errors import InputError
from codesign.spec import load_spec
from codesign.sweep.config import SweepConfig
from codesign.sweep.dispatch import run_points
from codesign.sweep.points import Point, PointSpec, parse_vary, product, read_points, resolve
from codesign.sweep.report import write_report
from codesign.sweep.run_point import RESULT, TIMINGS, PointTask, run_point
from codesign.sweep.table import csv_text, document
from emulation.atomic import write_json, write_text
from emulation.jsoncheck import read_json


def _points(config: SweepConfig) -> list[Point]:
    return product(parse_vary(config.vary)) if config.vary else read_points(Path(config.points))


def _objective(config: SweepConfig, ds: Dataset) -> tuple[str, str]:
    """(signal, trigger) on the Pareto fronts: --objective, else the dataset's first signal and pt1."""
    if config.objective is None:
        return ds.signal_processes[0], "pt1"
    signal, _, trigger = config.objective.partition(":")
    if signal not in ds.signal_processes:
        raise InputError(f"--objective {config.objective!r}: signal {signal!r} is not in dataset {config.data!r} "
                         f"(signals: {', '.join(ds.signal_processes)})")
    return signal, trigger


def _prepare(out: Path, settings: dict[str, Any], point: Point, ps: PointSpec, config: SweepConfig) -> PointTask:
    """The point's directory with point.json and spec.yaml; a directory run with other settings is refused."""
    d = out / "points" / point.id
    record = json.loads(json.dumps({"overrides": [list(kv) for kv in point.overrides], "settings": settings}))
    if (d / "point.json").exists():
        old = read_json(d / "point.json", str(d / "point.json"))
        if old != record:
            changed = [k for k in settings if old.get("settings", {}).get(k) != settings[k]] or ["overrides"]
            raise InputError(f"sweep point {str(d)!r} was run with {changed[0]} = "
                             f"{old.get('settings', {}).get(changed[0])!r}, not {settings.get(changed[0])!r}: "
                             f"use another --out, or delete that point's directory to rerun it")
    else:
        d.mkdir(parents=True, exist_ok=True)
        write_text(d / "spec.yaml", ps.text())
        write_json(d / "point.json", record)
    return PointTask(config=config, point=point, directory=str(d.resolve()), reason=ps.reason)


def run_sweep(config: SweepConfig, workers: int = 1, scheduler: str | None = None,
              log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run (or resume) the sweep; returns the sweep.json document."""
    t0 = time.perf_counter()
    base = load_spec(config.spec)
    ds = Dataset(config.data)
    if config.from_run is not None:
        from codesign.train.finetune import check_base_run

        check_base_run(Path(config.from_run), ds.content_hash, config.data, "--from-run")
    objective = _objective(config, ds)
    points = _points(config)
    specs = resolve(Path(config.spec), points)
    out = Path(config.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"--out {config.out!r}: cannot create the sweep directory ({exc.strerror})") from None
    absolute = dataclasses.replace(config, data=os.path.abspath(config.data), out=os.path.abspath(config.out),
                                   from_run=config.from_run and os.path.abspath(config.from_run))
    settings = absolute.point_settings()
    tasks = [_prepare(out, settings, p, s, absolute) for p, s in zip(points, specs)]
    results: dict[str, dict[str, Any]] = {}
    todo = []
    for t in tasks:
        if (Path(t.directory) / RESULT).exists():
            results[t.point.id] = run_point(t)
        else:
            todo.append(t)
    log(f"sweep {out}: {len(points)} points, {len(points) - len(todo)} already done, {len(todo)} to run"
        + (f" on {scheduler}" if scheduler else f" on {min(workers, max(len(todo), 1))} worker(s)"))
    for result in run_points(run_point, todo, workers, scheduler):
        results[result["id"]] = result
        log(f"point {result['id']} ({', '.join(f'{k}={v}' for k, v in result['overrides'].items())}): "
            f"{result['status']}" + (f": {result['reason']}" if result.get("reason") else ""))
    rows = [{"index": i, **results[p.id], "overrides": dict(p.overrides)} for i, p in enumerate(points)]  # keys as given
    header = {"spec": {"name": base.name, "hash": base.spec_hash()}, "dataset_hash": ds.content_hash,
              "signals": list(ds.signal_processes), "settings": config.point_settings(),
              "vary": list(config.vary), "points_file": config.points}
    doc = document(header, rows, objective)
    write_json(out / "sweep.json", doc)
    write_text(out / "sweep.csv", csv_text(doc))
    write_json(out / "timings.json", {"wall_s_this_run": round(time.perf_counter() - t0, 2), "workers": workers,
                                      "scheduler": scheduler, "points": {
                                          p.id: read_json(f, str(f)) if (f := out / "points" / p.id / TIMINGS).exists()
                                          else None for p in points}})
    write_report(doc, out / "sweep.html")
    return doc
