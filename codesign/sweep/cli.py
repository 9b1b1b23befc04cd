"""`codesign sweep`: the co-design loop over spec keys (train, export, build, gate each point; Pareto report)."""

from __future__ import annotations

from pathlib import Path

import click

from codesign.build.config import SIMULATORS
from codesign.paths import DEFAULT_SPEC, from_cwd
from codesign.sweep.config import SweepConfig, TRIGGERS
from codesign.train.config import MODES


@click.command("sweep")
@click.option("--spec", "spec_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Base constraint spec (default: the shipped constraints/hl-lhc-multijet.yaml).")
@click.option("--vary", multiple=True, metavar="KEY=V1,V2,...",
              help="A spec key and its values (repeat for more keys: their Cartesian product is swept), "
                   "e.g. precision.cnn.bits=8,10.")
@click.option("--points", "points_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A YAML list of points (mappings of spec key -> value) instead of --vary.")
@click.option("--data", "data_dir", type=click.Path(path_type=Path), required=True, help="Dataset directory.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Sweep directory (created; a rerun skips done points and resumes cut ones).")
@click.option("--train-steps", type=int, default=None, help="Optimiser steps per stage (default: the smoke preset's).")
@click.option("--from-run", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Fine-tune every point from this finished run (of the same dataset).")
@click.option("--mode", default="e2e", show_default=True, help=f"Training mode: {' or '.join(MODES)}.")
@click.option("--workers", type=click.IntRange(1, 256), default=1, show_default=True,
              help="Points run in parallel on this many local processes.")
@click.option("--dask-scheduler", "scheduler", default=None,
              help="Run the points on this dask.distributed scheduler instead (workers need the paths).")
@click.option("--events", type=int, default=20, show_default=True, help="Verification events (C simulation).")
@click.option("--rtl-events", type=int, default=2, show_default=True,
              help="Events driven through RTL simulation (latency, exactness).")
@click.option("--sim", "simulators", multiple=True, default=("verilator",), show_default=True,
              help=f"RTL simulator(s): {', '.join(SIMULATORS)}.")
@click.option("--yosys", is_flag=True, help="Resources from yosys for every point (minutes each) instead of the "
                                            "analytic estimate.")
@click.option("--objective", default=None, metavar="SIGNAL:TRIGGER",
              help=f"TPR on the Pareto fronts, TRIGGER one of {', '.join(TRIGGERS)} (default: the first signal, pt1).")
@click.option("--seed", type=click.IntRange(0, 2**31 - 1), default=0, show_default=True)
@click.option("--batch-size", type=int, default=128, show_default=True)
def sweep(spec_file: Path | None, vary: tuple[str, ...], points_file: Path | None, data_dir: Path, out: Path,
          train_steps: int | None, from_run: Path | None, mode: str, workers: int, scheduler: str | None,
          events: int, rtl_events: int, simulators: tuple[str, ...], yosys: bool, objective: str | None,
          seed: int, batch_size: int) -> None:
    """Vary spec keys; for each point train, export, build, gate latency and measure TPR; Pareto report."""
    from codesign.build.steps import CheckFailed
    from codesign.sweep.runner import run_sweep

    config = SweepConfig(spec=str(spec_file or from_cwd(DEFAULT_SPEC)), data=str(data_dir), out=str(out),
                         vary=tuple(vary), points=str(points_file) if points_file else None, mode=mode,
                         train_steps=train_steps, from_run=str(from_run) if from_run else None, seed=seed,
                         batch_size=batch_size, events=events, rtl_events=rtl_events, simulators=tuple(simulators),
                         yosys=yosys, objective=objective)
    doc = run_sweep(config, workers, scheduler, log=click.echo)
    click.echo(f"wrote {out / 'sweep.json'}, {out / 'sweep.csv'} and {out / 'sweep.html'}")
    bad = [f"#{r['index']} {r['status']}" + ("" if r["status"] == "failed" else " (not bit-exact)")
           for r in doc["points"] if r["status"] == "failed" or r.get("bit_exact") is False]
    if bad:
        raise CheckFailed(f"{len(bad)} of {len(doc['points'])} points: {', '.join(bad)} (see {out / 'sweep.json'})")
