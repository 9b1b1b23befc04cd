"""Shared test helpers: the default specs and a spec-dict factory."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

from codesign.paths import CONSTRAINTS_DIR, DEFAULT_SPEC

TIGHT_SPEC = CONSTRAINTS_DIR / "hl-lhc-multijet-2p5us.yaml"


def default_spec_dict() -> dict:
    """A fresh, mutable copy of the default spec's YAML document."""
    return copy.deepcopy(yaml.safe_load(Path(DEFAULT_SPEC).read_text()))


def write_spec(tmp_path: Path, data: dict, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
