"""Atomic file output: a reader never sees half a file, and an interrupted write never looks complete.

Files are written to a temporary name and renamed; directories are filled under a temporary
name and swapped into place. Used by every writer of the project (bundles, builds, reports).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator


def write_text(path: Path, text: str) -> None:
    """Write a text file atomically (temp name in the same directory, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(path: Path, obj: Any) -> None:
    """Write JSON (sorted keys, one-space indent, final newline) atomically."""
    write_text(path, json.dumps(obj, indent=1, sort_keys=True) + "\n")


@contextmanager
def replace_dir(path: Path) -> Iterator[Path]:
    """Yield a temporary directory; on success it replaces `path` (the old one is removed), on error it goes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        yield tmp
        tmp.chmod(0o755)
        old = path.with_name(f".{path.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        if path.exists():
            os.rename(path, old)
        os.rename(tmp, path)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
