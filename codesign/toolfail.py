"""An external tool (yosys, g++, a simulator) that failed: its own last lines and where its full log is."""

from __future__ import annotations

import subprocess
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


def write_log(log: Path, cmd: list[str], stdout: str, stderr: str) -> Path:
    """A tool's command line and output kept as its log (the folder is created)."""
    log = Path(log)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(f"$ {' '.join(map(str, cmd))}\n{stdout or ''}{stderr or ''}")
    return log


def run_tool(cmd: list[str], log: Path, what: str, **kwargs) -> subprocess.CompletedProcess:
    """Run an external tool, its output kept in `log`; a non-zero exit is `tool_failed` with the log's tail."""
    proc = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    write_log(log, cmd, proc.stdout, proc.stderr)
    if proc.returncode != 0:
        raise tool_failed(f"{what} failed (exit code {proc.returncode})", log)
    return proc
