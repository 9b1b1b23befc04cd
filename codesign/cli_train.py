"""`codesign train` and `codesign export`: QAT of the whole chain and its firmware bundle."""

from __future__ import annotations

import os
from pathlib import Path

import click

from codesign.paths import DEFAULT_SPEC
from codesign.train.config import MODES, PRESETS, TrainConfig


@click.command("train")
@click.option("--spec", "spec_file", type=click.Path(path_type=Path), default=None,
              help="Constraint spec: image size, quantiser levels, fixed-point formats, FPR "
                   "(default: constraints/hl-lhc-multijet.yaml).")
@click.option("--data", "data_dir", type=click.Path(path_type=Path), required=True, help="Dataset directory.")
@click.option("--mode", required=True, help=f"Training mode: {' or '.join(MODES)}.")
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="Run directory (created; a rerun with the same settings resumes it).")
@click.option("--preset", default="smoke", show_default=True,
              help="Schedule preset: " + ", ".join(f"{k} ({v.steps} steps per stage, learning rate halved every "
                                                  f"{v.halving_steps})" for k, v in PRESETS.items()))
@click.option("--steps", type=int, default=None, help="Optimiser steps per stage (overrides the preset).")
@click.option("--epochs", type=int, default=None,
              help="Passes over the training split per stage, instead of --steps or the preset.")
@click.option("--lr-halving-steps", type=int, default=None,
              help="Halve the learning rate every this many steps (default: the preset's, or a quarter of the run).")
@click.option("--early-stopping", type=int, default=None,
              help="End a stage after this many validations (epochs) without improvement (default: off).")
@click.option("--background", default=None,
              help="Background process to train against, when the dataset holds more than one "
                   "(default: the dataset configuration's; evaluation always uses that one).")
@click.option("--init-from", "init_from", type=click.Path(path_type=Path), default=None,
              help="Start from the weights of this finished run on the same dataset (fine-tuning).")
@click.option("--seg-gradient-leak", type=float, default=0.0, show_default=True,
              help="Backward slope of the CNN's hard sigmoid outside its linear band (0 = the paper's: no "
                   "gradient there). An ablation: the forward, and so the firmware, does not change.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--batch-size", type=int, default=128, show_default=True)
@click.option("--max-steps-per-epoch", type=int, default=None,
              help="Cap training and validation batches per epoch (quick runs and tests).")
@click.option("--pileup-draws", type=click.IntRange(0, 1000), default=0, show_default=True,
              help="Also evaluate the emulator under this many independent pile-up draws of the test split.")
def train(spec_file: Path | None, data_dir: Path, mode: str, out: Path, preset: str, steps: int | None,
          epochs: int | None, lr_halving_steps: int | None, early_stopping: int | None, background: str | None,
          init_from: Path | None, seg_gradient_leak: float, seed: int, batch_size: int,
          max_steps_per_epoch: int | None, pileup_draws: int) -> None:
    """Train the chain (sequential or end-to-end), export RUN/bundle and evaluate it on the test split."""
    config = TrainConfig(spec=str(spec_file or os.path.relpath(DEFAULT_SPEC)), data=str(data_dir), mode=mode,
                         preset=preset, epochs=epochs, seed=seed, batch_size=batch_size,
                         max_steps_per_epoch=max_steps_per_epoch, steps=steps, lr_halving_steps=lr_halving_steps,
                         early_stopping=early_stopping, background=background,
                         init_from=str(init_from) if init_from is not None else None,
                         seg_gradient_leak=seg_gradient_leak)  # checked before TensorFlow loads
    from codesign.train.export import export_run
    from codesign.train.loop import Trainer
    from codesign.train.report import evaluate_run, summary_lines

    trainer = Trainer.open(config, out, log=click.echo)
    trainer.train()
    exported = export_run(out, out / "bundle")
    click.echo(f"wrote {out / 'bundle'} (content hash {exported.content_hash}; thresholds pT1 >= "
               f"{exported.thresholds['pt1']}, pT4 >= {exported.thresholds['pt4']} raw)")
    metrics = evaluate_run(out, exported, pileup_draws=pileup_draws)
    for line in summary_lines(metrics):
        click.echo(line)
    click.echo(f"wrote {out / 'metrics.json'} and {out / 'plots'}")


@click.command("export")
@click.option("--run", "run_dir", type=click.Path(path_type=Path), required=True, help="Trained run directory.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Bundle directory to write.")
@click.option("--data", "data_dir", type=click.Path(path_type=Path), default=None,
              help="The run's dataset, if it moved (its content hash must match).")
def export(run_dir: Path, out: Path, data_dir: Path | None) -> None:
    """Export a trained run to a FirmwareBundle; trigger thresholds at the spec's FPR (emulator, validation split)."""
    from codesign.train.export import export_run

    result = export_run(run_dir, out, data_dir)
    fpr = ", ".join(f"{k} >= {t} raw (validation FPR {result.val_fpr[k]:.2g})" for k, t in result.thresholds.items())
    click.echo(f"wrote {out} (content hash {result.content_hash}); thresholds {fpr}")


@click.command("evaluate")
@click.option("--run", "run_dir", type=click.Path(path_type=Path), required=True, help="Trained run directory.")
@click.option("--pileup-draws", type=click.IntRange(0, 1000), default=0, show_default=True,
              help="Also evaluate the emulator under this many independent pile-up draws of the test split.")
def evaluate(run_dir: Path, pileup_draws: int) -> None:
    """Re-export and re-evaluate a trained run: RUN/bundle, RUN/metrics.json (errors, ceilings, pile-up draws)."""
    from codesign.train.export import export_run
    from codesign.train.report import evaluate_run, summary_lines

    exported = export_run(run_dir, run_dir / "bundle")
    metrics = evaluate_run(run_dir, exported, pileup_draws=pileup_draws)
    for line in summary_lines(metrics):
        click.echo(line)
    click.echo(f"wrote {run_dir / 'metrics.json'}")
