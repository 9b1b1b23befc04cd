"""Training a sweep point: from the seeded initial weights, or fine-tuned from a finished base run."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from codesign.errors import InputError
from codesign.train.rundir import RunDir


def check_base_run(run_dir: Path, dataset_hash: str, data: str) -> None:
    """A base run must have finished training, on the sweep's dataset (content hash compared); else bad input."""
    run = RunDir(Path(run_dir))
    doc = run.read()
    run.config()
    if doc["status"] != "trained":
        raise InputError(f"--from-run {str(run_dir)!r} has not finished training (status {doc['status']!r}): "
                         f"finish it with codesign train first")
    if doc["dataset_hash"] != dataset_hash:
        raise InputError(f"--from-run {str(run_dir)!r} was trained on dataset {doc['dataset_hash'][:12]}, not on "
                         f"--data {data!r} ({dataset_hash[:12]}): fine-tune from a run of the same dataset")
    run.check_model()


def copy_weights(source, target) -> list[str]:
    """Every variable of `target` takes the value of the same variable of `source` where the shapes agree
    (a quantiser of another level count keeps its seeded start); returns the names of those not copied."""
    src, dst = source.variables, target.variables
    if len(src) != len(dst):
        raise InputError(f"base run model has {len(src)} variables, the point's {len(dst)}: not the same model")
    skipped = []
    for s, t in zip(src, dst):
        if s.shape == t.shape:
            t.assign(s)
        else:
            skipped.append(t.name)
    return skipped


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
