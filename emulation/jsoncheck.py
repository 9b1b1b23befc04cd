"""Checked reading of the project's JSON files and of paths they name: one short line per problem.

Every reader of a file that a user (or a damaged disk) may have changed goes through these:
`read_json` turns every way of failing to read or parse into an `InputError` naming the file,
`get` checks one key's presence and type, `inside` keeps a stored relative path within its
folder. Values are shown cut short, so a huge input still gives a short message.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from emulation.errors import InputError

MAX_JSON_BYTES = 64 << 20  # no file of the project is near this; a larger one is not ours
_KINDS = {"int": "an integer", "count": "a non-negative integer", "number": "a finite number",
          "str": "a string", "bool": "true or false", "dict": "an object", "list": "a list",
          "hex": "a hexadecimal digest string"}


def shown(value: Any, limit: int = 60) -> str:
    """A short text for `value` in an error message (JSON-like, cut at `limit` characters)."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError, RecursionError):
        text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def read_json(path: Path, what: str, error: type[InputError] = InputError) -> Any:
    """Parse a JSON file; a missing, unreadable, huge or malformed file is one `error` naming `what` and the file."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_JSON_BYTES:
            raise error(f"{what}: {path} is {size} bytes; expected a JSON file under {MAX_JSON_BYTES} bytes")
        text = path.read_bytes().decode("utf-8")
        return json.loads(text)
    except FileNotFoundError:
        raise error(f"{what}: {path} is missing") from None
    except IsADirectoryError:
        raise error(f"{what}: {path} is a directory; expected a JSON file") from None
    except OSError as exc:
        raise error(f"{what}: {path} cannot be read ({exc.strerror or exc.__class__.__name__})") from None
    except UnicodeDecodeError:
        raise error(f"{what}: {path} is not UTF-8 text; expected JSON") from None
    except json.JSONDecodeError as exc:
        raise error(f"{what}: {path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    except RecursionError:
        raise error(f"{what}: {path} is nested too deeply; expected a flat JSON document") from None


def check(value: Any, kind: str, where: str, error: type[InputError] = InputError, lo: float | None = None) -> Any:
    """`value` if it is of `kind` (see _KINDS) and at least `lo`; else `error` naming `where`."""
    ok = {
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "count": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
        "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v),
        "str": lambda v: isinstance(v, str),
        "bool": lambda v: isinstance(v, bool),
        "dict": lambda v: isinstance(v, dict),
        "list": lambda v: isinstance(v, list),
        "hex": lambda v: isinstance(v, str) and len(v) == 64 and all(c in "0123456789abcdef" for c in v),
    }[kind](value)
    if not ok or (lo is not None and value < lo):
        expected = _KINDS[kind] + (f" >= {lo}" if lo is not None else "")
        raise error(f"{where} = {shown(value)}: expected {expected}")
    return value


def get(obj: Any, key: str, kind: str, where: str, error: type[InputError] = InputError,
        lo: float | None = None, optional: bool = False) -> Any:
    """obj[key] checked to be of `kind`; `where` names the file and the path of `obj` in it."""
    if not isinstance(obj, dict):
        raise error(f"{where} = {shown(obj)}: expected an object")
    if key not in obj:
        if optional:
            return None
        raise error(f"{where}.{key}: missing; expected {_KINDS[kind]}")
    if optional and obj[key] is None:
        return None
    return check(obj[key], kind, f"{where}.{key}", error, lo)


def inside(folder: Path, relative: Any, where: str, error: type[InputError] = InputError) -> Path:
    """folder / relative, refusing absolute paths and any that lead outside `folder` (through '..' or links)."""
    check(relative, "str", where, error)
    rel = Path(relative)
    if not relative or rel.is_absolute() or ".." in rel.parts:
        raise error(f"{where} = {shown(relative)}: expected a path inside {folder} (relative, without '..')")
    path = Path(folder) / rel
    try:
        real_folder = os.path.realpath(folder)
        real = os.path.realpath(path)
    except (OSError, RuntimeError):
        raise error(f"{where} = {shown(relative)}: cannot be resolved (a link loop?)") from None
    if os.path.commonpath([real_folder, real]) != real_folder:
        raise error(f"{where} = {shown(relative)}: leads outside {folder} (through a link)")
    return path
