"""`codesign emulate`: run the bit-accurate emulator over a dataset split and write results.h5.

Streams the data in batches (never holding the split in memory), writes to a temporary file
and renames it when complete, so a partial result never looks finished.
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


def emulate_dataset(bundle: FirmwareBundle, data_dir: Path, out: Path, split: str = "test",
                    max_events: int | None = None, batch_size: int = 256, progress: bool = True) -> int:
    """Emulate every event of `split` (frozen pile-up) and write `out`; returns the number of events."""
    from codesign.data.reader import Dataset  # the data package pulls in h5py readers only

    ds = Dataset(data_dir)
    if split not in ("train", "val", "test"):
        raise InputError(f"split {split!r}: expected train, val or test")
    total = ds.count(split)
    if max_events is not None:
        total = min(total, max_events)
    if total == 0:
        raise InputError(f"dataset {str(data_dir)!r} has no events in split {split!r}")
    pileup = "frozen" if split in ("val", "test") else "fresh"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.partial")
    et_in = bundle.formats["et_in"]
    done = 0
    with h5py.File(tmp, "w") as h5, tqdm(total=total, unit="ev", disable=not progress, desc="emulate") as bar:
        columns: dict[str, list[np.ndarray]] = {k: [] for k in OUTPUTS + _META}
        for batch in ds.batches(split, batch_size=batch_size, pileup=pileup, shuffle=False):
            take = min(len(batch["label"]), total - done)
            result = run_chain(bundle, from_float(batch["image"][:take], et_in))
            for k in OUTPUTS:
                columns[k].append(result[k])
            for k in _META:
                columns[k].append(np.asarray(batch[k][:take]))
            done += take
            bar.update(take)
            if done >= total:
                break
        for k, parts in columns.items():
            h5.create_dataset(k, data=np.concatenate(parts), compression="gzip")
        h5.attrs.update(bundle_hash=bundle.content_hash(), dataset_hash=ds.card["content_hash"], split=split,
                        pileup=pileup, n_events=done, processes=np.array(ds.processes, dtype="S"))
    os.replace(tmp, out)
    return done
