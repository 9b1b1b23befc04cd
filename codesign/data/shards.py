"""HDF5 shard files: atomic writing (temporary name, then rename), content hashing and checked reading.

An event shard holds one process's events: `image_mu0` float32 (N, 2, eta, phi) compressed,
`jets` float32 (N, 16, 4), `n_jets` int32, `weight` float32, `event_id` int64, and the frozen
pile-up overlay as CSR (`frozen_offsets` int64 (N+1), `frozen_pool_index` int32). A pool shard
holds soft-QCD events as sparse cells (`offsets` int64 (N+1), `cell` uint16, `et` float32).
Every dataset carries a Fletcher-32 checksum, so corrupted chunks fail to read.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import h5py
import numpy as np

from codesign.errors import InputError

SHARD_FORMAT = "codesign-shard/1"
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


# dtype and shape of each dataset: "N" is the shard's n_events, "M" the entries of its CSR arrays,
# "image" the (layers, eta_bins, phi_bins) of its geometry, None any length
_LAYOUT = {
    "events": {"image_mu0": ("float32", ("N", "image")), "jets": ("float32", ("N", None, 4)),
               "n_jets": ("int32", ("N",)), "weight": ("float32", ("N",)), "event_id": ("int64", ("N",)),
               "frozen_offsets": ("int64", ("N+1",)), "frozen_pool_index": ("int32", (None,))},
    "pool": {"offsets": ("int64", ("N+1",)), "cell": ("uint16", ("M",)), "et": ("float32", ("M",))},
}
_CSR = {"events": ("frozen_offsets", "frozen_pool_index"), "pool": ("offsets", "cell")}
EVENT_FIELDS, POOL_FIELDS = tuple(_LAYOUT["events"]), tuple(_LAYOUT["pool"])


def _attr(f: h5py.File, path: Path, key: str, kind: type, expected: str) -> Any:
    """Attribute `key` of the shard as a Python value of `kind`; CorruptShardError naming it otherwise."""
    value = f.attrs.get(key)
    value = value.item() if isinstance(value, np.generic) else value
    if not isinstance(value, kind) or isinstance(value, bool):
        raise CorruptShardError(f"shard {path}: attribute {key} = {str(value)[:60]!r}; expected {expected}")
    return value


def _check_layout(f: h5py.File, path: Path) -> None:
    """Every dataset of the shard has the dtype and shape its attributes imply (nothing is read but offsets)."""
    kind = _attr(f, path, "kind", str, "events or pool")
    if kind not in _LAYOUT:
        raise CorruptShardError(f"shard {path}: attribute kind = {kind[:60]!r}; expected events or pool")
    n = _attr(f, path, "n_events", int, "a non-negative integer")
    try:
        geometry = json.loads(_attr(f, path, "geometry", str, "the geometry as JSON text"))
        image = (len(geometry["layers"]), int(geometry["eta_bins"]), int(geometry["phi_bins"]))
    except (ValueError, KeyError, TypeError, RecursionError):
        raise CorruptShardError(f"shard {path}: attribute geometry is not a JSON object with layers, eta_bins "
                                f"and phi_bins") from None
    csr_offsets, csr_values = _CSR[kind]
    sizes = {"N": n, "N+1": n + 1, "M": f[csr_values].shape[0] if isinstance(f.get(csr_values), h5py.Dataset) else -1}
    for name, (dtype, dims) in _LAYOUT[kind].items():
        ds = f.get(name)
        want = tuple(d for dim in dims for d in (image if dim == "image" else (sizes.get(dim, dim),)))
        shown = "(" + ", ".join("any" if d is None else str(d) for d in want) + ("," if len(want) == 1 else "") + ")"
        if not isinstance(ds, h5py.Dataset):
            raise CorruptShardError(f"shard {path}: {name} is missing or not a dataset; expected {dtype} {shown}")
        ok = ds.dtype == np.dtype(dtype) and len(ds.shape) == len(want) and all(
            w is None or w == d for w, d in zip(want, ds.shape))
        if not ok:
            raise CorruptShardError(f"shard {path}: {name} is {ds.dtype} {tuple(ds.shape)}; expected {dtype} {shown}")
    offsets = f[csr_offsets][()]
    if offsets[0] != 0 or offsets[-1] != f[csr_values].shape[0] or (np.diff(offsets) < 0).any():
        raise CorruptShardError(f"shard {path}: {csr_offsets} must rise from 0 to the length of {csr_values} "
                                f"({f[csr_values].shape[0]})")


def shard_attrs(path: Path) -> dict[str, Any]:
    """The shard's attributes as plain Python values (checks that the file opens and its datasets' layout)."""
    with open_shard(path) as f:
        _check_layout(f, path)
        return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in f.attrs.items()}


def read_all(path: Path) -> dict[str, np.ndarray]:
    """Every array of a shard (decompressing and checksumming all chunks)."""
    with open_shard(path) as f:
        return {name: f[name][()] for name in f}
