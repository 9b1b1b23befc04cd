"""Deterministic .npz files: equal arrays give equal bytes (fixed zip timestamps and order)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

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
