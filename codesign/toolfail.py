"""An external tool (yosys, g++, a simulator) that failed: its own last lines and where its full log is."""

from __future__ import annotations

from pathlib import Path

from codesign.build.steps import CheckFailed

TAIL_LINES = 15


class ToolFailed(CheckFailed):
    """An external tool failed: reported as `FAILED:` with the tail of its log and the log's path, exit code 1."""


def log_tail(text: str, lines: int = TAIL_LINES) -> str:
    """The last non-empty `lines` lines of a tool's output, each cut at 300 characters."""
    kept = [ln[:300] for ln in text.splitlines() if ln.strip()][-lines:]
    return "\n".join(f"  | {ln}" for ln in kept)


def tool_failed(what: str, log: Path | None, output: str = "") -> ToolFailed:
    """The error for a failed tool run: `what`, the log's path, then the tail of the log (or of `output`)."""
    text = output
    if log is not None:
        try:
            text = Path(log).read_text(errors="replace") or output
        except OSError:
            pass
    where = f" (full log: {log})" if log is not None else ""
    tail = log_tail(text)
    return ToolFailed(f"{what}{where}" + (f"; its last lines:\n{tail}" if tail else "; it printed nothing"))
