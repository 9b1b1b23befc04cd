"""Shared fixtures; tests/ is put on sys.path so tests can import helpers and reference_chain."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


# --------------------------------------------------------------------------- physics data


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    """The `tiny` preset (40 events per process, 300 pile-up pool events), generated once per session.

    Treat it as read-only: tests that damage or extend a dataset work on a copy.
    """
    from codesign.data.generate import generate

    out = tmp_path_factory.mktemp("data") / "tiny"
    generate(out, preset="tiny", seed=0, workers=1, progress=False)
    return out
