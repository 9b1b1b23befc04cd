"""`codesign emulate`: run the bit-accurate emulator over a dataset split and write results.h5.

Streams the data in batches (never holding the split in memory) and writes to a temporary file
that is renamed when complete, so a partial result never looks finished. With a dask scheduler,
each process of the dataset is emulated by its own task on the cluster; the rows come back in
the same order as a local run.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np
from tqdm import tqdm

from codesign.errors import InputError
from emulation.bundle import FirmwareBundle
from emulation.chain import OUTPUTS, run_chain
from emulation.fixed import from_float

# Per-event bookkeeping copied from the data batches next to the emulator outputs.
_META = ("event_id", "label", "process", "weight")
SPLITS = ("train", "val", "test")


def pileup_of(split: str) -> str:
    """Evaluation splits see the stored (frozen) pile-up; train gets a fresh overlay."""
    return "frozen" if split in ("val", "test") else "fresh"


def emulate_columns(bundle_dir: str, data_dir: str, split: str, processes: list[str] | None = None,
                    limit: int | None = None, batch_size: int = 256, progress: bool = False) -> dict[str, np.ndarray]:
    """Emulator outputs and bookkeeping of up to `limit` events of `split` (dataset order), as columns."""
    from codesign.data.reader import Dataset

    bundle, ds = FirmwareBundle.load(bundle_dir), Dataset(data_dir)
    total = ds.count(split) if processes is None else sum(ds.count(split, p) for p in processes)
    total = total if limit is None else min(total, limit)
    columns: dict[str, list[np.ndarray]] = {k: [] for k in OUTPUTS + _META}
    done = 0
    with tqdm(total=total, unit="ev", disable=not progress, desc="emulate") as bar:
        for batch in ds.batches(split, batch_size=batch_size, processes=processes, pileup=pileup_of(split),
                                shuffle=False):
            if done >= total:
                break
            take = min(len(batch["label"]), total - done)
            et_in = from_float(batch["image"][:take], bundle.formats["et_in"], what=f"dataset {data_dir}: cell E_T")
            result = run_chain(bundle, et_in)
            for k in OUTPUTS:
                columns[k].append(result[k])
            for k in _META:
                columns[k].append(np.asarray(batch[k][:take]))
            done += take
            bar.update(take)
    return {k: np.concatenate(v) if v else np.zeros(0) for k, v in columns.items()}


def _on_cluster(address: str, bundle_dir: Path, data_dir: Path, split: str, processes: list[str],
                limit: int | None, batch_size: int) -> dict[str, np.ndarray]:
    from codesign.cluster import connect

    with connect(address) as client:
        futures = [client.submit(emulate_columns, str(bundle_dir), str(data_dir), split, [p], limit, batch_size,
                                 pure=False) for p in processes]
        parts = client.gather(futures)
    columns = {k: np.concatenate([part[k] for part in parts]) for k in OUTPUTS + _META}
    return {k: v[:limit] for k, v in columns.items()}


def emulate_dataset(bundle_dir: Path, data_dir: Path, out: Path, split: str = "test", max_events: int | None = None,
                    batch_size: int = 256, scheduler: str | None = None, progress: bool = True) -> int:
    """Emulate `split` and write `out` (HDF5: one dataset per output column); returns the number of events."""
    from codesign.data.reader import Dataset

    if split not in SPLITS:
        raise InputError(f"split {split!r}: expected one of {', '.join(SPLITS)}")
    bundle, ds = FirmwareBundle.load(bundle_dir), Dataset(data_dir)
    if ds.count(split) == 0:
        raise InputError(f"dataset {str(data_dir)!r} has no events in split {split!r}")
    if scheduler:
        columns = _on_cluster(scheduler, bundle_dir, data_dir, split, ds.processes, max_events, batch_size)
    else:
        columns = emulate_columns(str(bundle_dir), str(data_dir), split, None, max_events, batch_size, progress)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.partial")
    with h5py.File(tmp, "w") as h5:
        for k, v in columns.items():
            h5.create_dataset(k, data=v, compression="gzip")
        n = len(columns["label"])
        h5.attrs.update(bundle_hash=bundle.content_hash(), dataset_hash=ds.card["content_hash"], split=split,
                        pileup=pileup_of(split), n_events=n, processes=np.array(ds.processes, dtype="S"))
    os.replace(tmp, out)
    return n
