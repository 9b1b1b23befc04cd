"""Training a sweep point: from the seeded initial weights, or fine-tuned from a finished base run."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from codesign.train.finetune import copy_weights
from codesign.train.rundir import RunDir


def train_point(config, run_dir: Path, base: Path | None, log: Callable[[str], None]) -> None:
    """Train (or resume, or leave alone when finished) the point's run; a new run starts from `base`'s weights."""
    import tensorflow as tf

    from codesign.train.loop import Trainer, load_trained

    run = RunDir(Path(run_dir))
    if run.run_json.exists() and run.read()["status"] == "trained":
        return
    trainer = Trainer.open(config, Path(run_dir), log=log)
    if base is not None and tf.train.latest_checkpoint(str(run.path("ckpt", "last"))) is None:
        skipped = copy_weights(load_trained(RunDir(Path(base)))[0], trainer.model)
        log(f"fine-tuning from {base}" + (f"; seeded start kept for {', '.join(skipped)} (other shape)"
                                          if skipped else ""))
    trainer.train()
