"""`codesign data ...`: generate, check and look at the physics datasets (Pythia 8 calorimeter images)."""

from __future__ import annotations

from pathlib import Path

import click

from codesign.data.configs import CONFIGS
from codesign.data.presets import PRESETS
from codesign.data.processes import HARD_PROCESSES, PROCESSES
from codesign.data.response import RESPONSES
from codesign.errors import InputError
from codesign.paths import DEFAULT_SPEC

_PRESET_HELP = "; ".join(f"{p.name} ({p.purpose})" for p in PRESETS.values())


@click.group("data")
def data() -> None:
    """Generate, verify and inspect physics datasets (HDF5 shards + dataset card)."""


@data.command("generate")
@click.option("--preset", default="smoke", show_default=True, help=_PRESET_HELP)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Dataset directory (created; a rerun skips complete shards).")
@click.option("--workers", type=click.IntRange(1, 1024), default=1, show_default=True, help="Local worker processes.")
@click.option("--dask-scheduler", "scheduler", default=None,
              help="Run shards on this dask.distributed scheduler (e.g. tcp://host:8786) instead.")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True)
@click.option("--spec", "spec_file", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_SPEC,
              show_default=True, help="Constraint spec giving the calorimeter geometry.")
@click.option("--processes", default=None,
              help=f"Comma-separated subset of {', '.join(HARD_PROCESSES)} (default: the signals and the background).")
@click.option("--config", "config_name", default="baseline", show_default=True,
              help="Physics configuration: " + "; ".join(f"{c.name} (background {c.background}, response {c.response})"
                                                           for c in CONFIGS.values()) + ".")
@click.option("--background", default=None,
              help="Override the configuration's background: " + ", ".join(
                  n for n, p in PROCESSES.items() if p.role == "background") + ".")
@click.option("--response", default=None, help=f"Override the calorimeter response: {', '.join(RESPONSES)}.")
def data_generate(preset: str, out: Path, workers: int, scheduler: str | None, seed: int, spec_file: Path,
                  processes: str | None, config_name: str, background: str | None, response: str | None) -> None:
    """Generate a dataset into OUT: Pythia 8 events -> calorimeter images, truth jets, pile-up pool."""
    from codesign.data.configs import get_config
    from codesign.data.generate import generate

    config = get_config(config_name, background, response)
    names = None if processes is None else [p.strip() for p in processes.split(",") if p.strip()]
    result = generate(out, preset=preset, seed=seed, workers=workers, scheduler=scheduler, processes=names,
                      spec=spec_file, config=config)
    card = result.card
    events = sum(p["events"] for p in card["processes"].values())
    click.echo(f"wrote {out} ({config.name}: background {config.background}, response {config.response}): "
               f"{events} events in {len(card['processes'])} processes + "
               f"{card['pileup']['events']} pile-up pool events; {len(result.generated)} shards generated, "
               f"{len(result.skipped)} already complete; content hash {card['content_hash']}")


@data.command("verify")
@click.argument("dataset_dir", type=click.Path(path_type=Path))
def data_verify(dataset_dir: Path) -> None:
    """Check DATASET_DIR completely: card, every shard's checksums and content hash."""
    from codesign.data.reader import Dataset

    ds = Dataset(dataset_dir)
    n = ds.verify()
    counts = ", ".join(f"{s} {ds.count(s)}" for s in ("train", "val", "test"))
    click.echo(f"{dataset_dir}: valid, {n} shards, {counts} events, content hash {ds.content_hash}")


@data.command("inspect")
@click.argument("dataset_dir", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="PNG to write.")
@click.option("--process", default=None, help="Process of the event shown (default: the first signal).")
@click.option("--event", type=int, default=0, show_default=True, help="Index of the event in that test split.")
def data_inspect(dataset_dir: Path, out: Path, process: str | None, event: int) -> None:
    """Plot one event (mu=0 vs pile-up, per layer, truth jets circled) and truth-jet distributions."""
    from codesign.data.plots import inspect_plot
    from codesign.data.reader import Dataset

    try:
        inspect_plot(Dataset(dataset_dir), out, process, event)
    except OSError as exc:
        raise InputError(f"--out {out}: cannot write ({exc.strerror or exc})") from None
    click.echo(f"wrote {out}")
