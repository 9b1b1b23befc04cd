"""Reading pattern text files: a size limit, numbered lines, and one-line errors naming file and line."""

from __future__ import annotations

from pathlib import Path

from codesign.errors import InputError

MAX_BYTES = 512 << 20  # a build writes a few MB; a larger file is not a pattern file of ours


def bad(path: Path, line: int, what: str) -> InputError:
    """The error for a malformed pattern file: file, line (1-based) and what is wrong."""
    return InputError(f"pattern file {str(path)!r}: line {line}: {what}")


def read_lines(path: Path) -> list[str]:
    """The file's lines (without line ends); a missing, unreadable, huge, empty or non-text file is one error."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise InputError(f"pattern file {str(path)!r}: {size} bytes; expected at most {MAX_BYTES}")
        lines = path.read_bytes().decode("ascii").splitlines()
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[:exc.start].count(b"\n") + 1
        raise bad(path, line, "not ASCII text") from None
    except OSError as exc:
        raise InputError(f"pattern file {str(path)!r}: cannot read it ({exc.strerror})") from None
    if not lines:
        raise bad(path, 1, "empty file")
    return lines


def shown(text: str) -> str:
    """A line cut short for an error message."""
    return repr(text if len(text) <= 60 else text[:57] + "...")
