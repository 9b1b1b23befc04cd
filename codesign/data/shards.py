"""HDF5 shard files: atomic writing (temporary name, then rename), content hashing and checked reading.

An event shard holds one process's events: `image_mu0` float32 (N, 2, eta, phi) compressed,
`jets` float32 (N, 16, 4), `n_jets` int32, `weight` float32, `event_id` int64, and the frozen
pile-up overlay as CSR (`frozen_offsets` int64 (N+1), `frozen_pool_index` int32). A pool shard
holds soft-QCD events as sparse cells (`offsets` int64 (N+1), `cell` uint16, `et` float32).
Every dataset carries a Fletcher-32 checksum, so corrupted chunks fail to read.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import h5py
import numpy as np

from codesign.errors import InputError

SHARD_FORMAT = "codesign-shard/1"
EVENT_FIELDS = ("image_mu0", "jets", "n_jets", "weight", "event_id", "frozen_offsets", "frozen_pool_index")
POOL_FIELDS = ("offsets", "cell", "et")
IMAGE_CHUNK_EVENTS = 32  # 32 events x 25.6 kB fits h5py's default 1 MiB chunk cache
_TMP_MARK = ".tmp-"


class CorruptShardError(InputError):
    """A shard file that cannot be read back: truncated, damaged or not a shard at all."""


def shard_name(process: str, index: int) -> str:
    """File name of shard `index` of `process`."""
    return f"{process}_{index:04d}.h5"


def content_sha256(arrays: dict[str, np.ndarray]) -> str:
    """sha256 over the arrays' names, dtypes, shapes and bytes (independent of HDF5 layout)."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def write_shard(path: Path, arrays: dict[str, np.ndarray], attrs: dict[str, Any]) -> str:
    """Write a complete shard under a temporary name and rename it into place; returns its content hash."""
    digest = content_sha256(arrays)
    tmp = path.with_name(f"{path.name}{_TMP_MARK}{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        with h5py.File(tmp, "w") as f:
            for name, a in arrays.items():
                kw: dict[str, Any] = {"fletcher32": True}
                if a.ndim == 4:
                    kw.update(chunks=(min(IMAGE_CHUNK_EVENTS, max(len(a), 1)), *a.shape[1:]),
                              compression="gzip", compression_opts=4, shuffle=True)
                elif a.size:
                    kw.update(chunks=True, compression="gzip", compression_opts=4, shuffle=True)
                f.create_dataset(name, data=a, **kw)
            f.attrs.update({"format": SHARD_FORMAT, "content_sha256": digest, **attrs})
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return digest


def remove_stale_temporaries(directory: Path) -> int:
    """Delete shards left half-written by an interrupted run; returns how many."""
    stale = [p for p in directory.glob(f"*.h5{_TMP_MARK}*") if p.is_file()]
    for p in stale:
        p.unlink()
    return len(stale)


@contextmanager
def open_shard(path: Path) -> Iterator[h5py.File]:
    """Open a shard for reading; any HDF5 failure, now or while reading, becomes an InputError naming it."""
    if not path.is_file():
        raise InputError(f"shard {path} is missing")
    try:
        with h5py.File(path, "r") as f:
            if f.attrs.get("format") != SHARD_FORMAT:
                raise CorruptShardError(f"shard {path} is not a codesign shard (format {f.attrs.get('format')!r})")
            yield f
    except OSError as exc:
        raise CorruptShardError(f"shard {path} is truncated or corrupt ({_first_line(exc)})") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def shard_attrs(path: Path) -> dict[str, Any]:
    """The shard's attributes as plain Python values (checks that the file opens and its fields exist)."""
    with open_shard(path) as f:
        fields = EVENT_FIELDS if f.attrs.get("kind") == "events" else POOL_FIELDS
        missing = [n for n in fields if n not in f]
        if missing:
            raise CorruptShardError(f"shard {path} is truncated or corrupt (missing {', '.join(missing)})")
        return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in f.attrs.items()}


def read_all(path: Path) -> dict[str, np.ndarray]:
    """Every array of a shard (decompressing and checksumming all chunks)."""
    with open_shard(path) as f:
        return {name: f[name][()] for name in f}
