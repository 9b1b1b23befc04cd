"""The dataset card (card.json): what was generated, how, and a content hash over all of it.

The hash covers everything except `content_hash`, `versions` and `provenance` (timestamps, host,
timings), so the same seed and settings give the same hash on any machine.
"""

from __future__ import annotations

import hashlib
import json
import os
from importlib import metadata
from pathlib import Path
from typing import Any

from codesign.data.detector import N_LAYERS
from codesign.errors import InputError
from emulation.jsoncheck import get, inside, read_json, shown

CARD_NAME = "card.json"
CARD_FORMAT = "codesign-dataset/1"
UNHASHED_KEYS = ("content_hash", "versions", "provenance")
_VERSIONED = ("codesign", "pythia8mc", "fastjet", "awkward", "numpy", "h5py", "dask", "distributed")


def content_hash(card: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of the card's hashed part."""
    hashed = {k: v for k, v in card.items() if k not in UNHASHED_KEYS}
    return hashlib.sha256(json.dumps(hashed, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that shape the generated events."""
    return {name: metadata.version(name) for name in _VERSIONED}


def write_card(directory: Path, card: dict[str, Any]) -> dict[str, Any]:
    """Stamp the content hash into `card` and write it atomically; returns the stamped card."""
    card = {**card, "content_hash": content_hash(card)}
    tmp = directory / f".{CARD_NAME}.tmp-{os.getpid()}"
    tmp.write_text(json.dumps(card, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, directory / CARD_NAME)
    return card


def read_card(directory: Path) -> dict[str, Any]:
    """Load and check a dataset card: parseable, the right format, and its content hash intact."""
    path = directory / CARD_NAME
    if not directory.is_dir():
        raise InputError(f"dataset {directory}: not a directory")
    if not path.is_file():
        raise InputError(f"dataset {directory}: no {CARD_NAME} (not generated, or generation did not finish)")
    card = read_json(path, f"dataset {directory}")
    if not isinstance(card, dict) or card.get("format") != CARD_FORMAT:
        raise InputError(f"card {path}: not a codesign dataset card (expected format {CARD_FORMAT})")
    if card.get("content_hash") != content_hash(card):
        raise InputError(f"card {path}: content hash does not match its contents (edited or damaged)")
    check_card(card, directory)
    return card


def _shards(entry: dict[str, Any], directory: Path, where: str) -> None:
    for i, s in enumerate(get(entry, "shards", "list", where)):
        w = f"{where}.shards[{i}]"
        inside(directory, get(s, "file", "str", w), f"{w}.file")
        get(s, "first_event", "count", w)
        get(s, "n_events", "count", w)
        get(s, "content_sha256", "hex", w)


def check_card(card: dict[str, Any], directory: Path) -> None:
    """Every key the reader uses is there with its type; every shard path stays inside the dataset folder."""
    where = f"card {directory / CARD_NAME}"
    g = get(card, "geometry", "dict", where)
    get(g, "eta_bins", "int", f"{where}: geometry", lo=1)
    get(g, "phi_bins", "int", f"{where}: geometry", lo=1)
    get(g, "eta_max", "number", f"{where}: geometry", lo=0)
    layers = get(g, "layers", "list", f"{where}: geometry")
    if len(layers) != N_LAYERS or not all(isinstance(x, str) for x in layers):
        raise InputError(f"{where}: geometry.layers = {shown(layers)}: expected {N_LAYERS} layer names")
    get(card, "seed", "count", where)
    get(get(card, "truth_jets", "dict", where), "max_jets", "int", f"{where}: truth_jets", lo=1)
    pileup = get(card, "pileup", "dict", where)
    get(pileup, "mu", "number", f"{where}: pileup", lo=0)
    get(pileup, "events", "count", f"{where}: pileup")
    get(pileup, "process", "str", f"{where}: pileup")
    _shards(pileup, directory, f"{where}: pileup")
    processes = get(card, "processes", "dict", where)
    if not processes:
        raise InputError(f"{where}: processes is empty; expected at least one process")
    for name, entry in processes.items():
        w = f"{where}: processes.{str(name)[:40]}"
        get(entry, "code", "count", w)
        get(entry, "events", "count", w)
        role = get(entry, "role", "str", w)
        if role not in ("signal", "background"):
            raise InputError(f"{w}.role = {shown(role)}: expected signal or background")
        _shards(entry, directory, w)
