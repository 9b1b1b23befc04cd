"""Starting a run from a finished run's weights (fine-tuning): the base run's checks and the weight copy."""

from __future__ import annotations

from pathlib import Path

from codesign.errors import InputError
from codesign.train.rundir import RunDir


def check_base_run(run_dir: Path, dataset_hash: str, data: str, option: str) -> None:
    """A base run must have finished training, on the same dataset (content hash compared); else bad input."""
    run = RunDir(Path(run_dir))
    doc = run.read()
    run.config()
    if doc["status"] != "trained":
        raise InputError(f"{option} {str(run_dir)!r} has not finished training (status {doc['status']!r}): "
                         f"finish it with codesign train first")
    if doc["dataset_hash"] != dataset_hash:
        raise InputError(f"{option} {str(run_dir)!r} was trained on dataset {doc['dataset_hash'][:12]}, not on "
                         f"--data {data!r} ({dataset_hash[:12]}): fine-tune from a run of the same dataset")
    run.check_model()


def copy_weights(source, target) -> list[str]:
    """Every variable of `target` takes the value of the same variable of `source` where the shapes agree
    (a quantiser of another level count keeps its seeded start); returns the names of those not copied."""
    src, dst = source.variables, target.variables
    if len(src) != len(dst):
        raise InputError(f"base run model has {len(src)} variables, this one {len(dst)}: not the same model")
    skipped = []
    for s, t in zip(src, dst):
        if s.shape == t.shape:
            t.assign(s)
        else:
            skipped.append(t.name)
    return skipped
