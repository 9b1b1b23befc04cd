"""What codesign is: the package version and, when it runs from its git checkout, the commit."""

from __future__ import annotations

import subprocess
from functools import lru_cache
from pathlib import Path

from codesign import __version__


@lru_cache(maxsize=1)
def git_commit() -> str | None:
    """HEAD of the checkout codesign runs from ("+dirty" when tracked files have local changes);
    None for an installed wheel or when git is unavailable. Read once per process."""
    root = Path(__file__).resolve().parent.parent
    if not (root / ".git").exists():
        return None

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=True,
                              timeout=10).stdout.strip()

    try:
        head = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if dirty else "")


def version_string() -> str:
    """`0.1.0`, or `0.1.0 (git 6c26ad2e4f1c)` when run from a checkout."""
    commit = git_commit()
    return __version__ + (f" (git {commit[:12]}{'+dirty' if commit.endswith('+dirty') else ''})" if commit else "")


def provenance() -> dict[str, str | None]:
    """The version record builds and reports keep: package version and git commit (None when installed)."""
    return {"codesign_version": __version__, "git_commit": git_commit()}
