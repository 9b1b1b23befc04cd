"""The header every benchmark prints: date, machine and package versions (so a table can be compared)."""

from __future__ import annotations

import os
import platform
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def header(title: str, packages: tuple[str, ...]) -> str:
    """`# title, date UTC` and `# machine: ..., N cores; python X, pkg version, ...`."""
    def ver(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    versions = ", ".join(f"{p} {ver(p)}" for p in packages)
    return (f"# {title}, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC\n"
            f"# machine: {cpu_model()}, {os.cpu_count()} cores; python {platform.python_version()}, {versions}")
