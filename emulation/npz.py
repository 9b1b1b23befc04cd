"""Deterministic .npz files: equal arrays give equal bytes (fixed zip timestamps and order); checked reading."""

from __future__ import annotations

import io
import zipfile
import zlib
from pathlib import Path

import numpy as np

from emulation.errors import InputError

_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def write_npz(path: Path, arrays: dict[str, np.ndarray], dtype: str | None = "<i8") -> None:
    """Write arrays (cast to `dtype` unless None) into an .npz that np.load reads, byte-reproducibly."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, a in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.array(a, dtype=dtype, order="C"), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue())


MAX_ELEMENTS = 1 << 28  # 2 GiB of int64: far above any array of the project


def read_npz(path: Path, what: str, max_elements: int = MAX_ELEMENTS, kinds: str = "iub",
             error: type[InputError] = InputError) -> dict[str, np.ndarray]:
    """Read an .npz, checking every array's header (numeric dtype, a sane shape) before anything is allocated.

    A missing, truncated or corrupt file, an array of the wrong kind or one whose header declares
    more elements than `max_elements` or than its stored bytes hold is one `error` naming `what`.
    """
    path = Path(path)
    out: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                name = info.filename[:-4] if info.filename.endswith(".npy") else None
                if name is None:
                    raise error(f"{what}: {path} holds {info.filename!r}, expected only .npy arrays")
                with zf.open(info) as f:
                    version = np.lib.format.read_magic(f)
                    header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                              else np.lib.format.read_array_header_2_0)
                    shape, _fortran, dtype = header(f)
                    n = int(np.prod(shape, dtype=object)) if shape else 1
                    if dtype.kind not in kinds or dtype.hasobject:
                        raise error(f"{what}: {path} array {name} has dtype {dtype}, expected integers")
                    if n > max_elements or n * dtype.itemsize > info.file_size:
                        raise error(f"{what}: {path} array {name} declares shape {shape[:8]}, more than "
                                    f"{'its stored bytes hold' if n <= max_elements else f'{max_elements} elements'}")
                with zf.open(info) as f:
                    out[name] = np.lib.format.read_array(f, allow_pickle=False)
    except InputError:
        raise
    except FileNotFoundError:
        raise error(f"{what}: {path} is missing") from None
    except IsADirectoryError:
        raise error(f"{what}: {path} is a directory, expected an .npz file") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError, KeyError, zlib.error) as exc:
        raise error(f"{what}: {path} is truncated or corrupt ({exc.__class__.__name__})") from None
    return out
