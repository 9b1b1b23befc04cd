"""Dataset sizes: events per process, pile-up pool size and shard sizes for each named preset."""

from __future__ import annotations

from dataclasses import dataclass

from codesign.data.processes import HARD_PROCESSES, PROCESSES, SIGNAL_PROCESSES
from codesign.errors import InputError


@dataclass(frozen=True)
class Preset:
    """How many events each process gets and how they are cut into shards."""

    name: str
    signal_events: int        # per signal process
    background_events: int    # QCD multijet
    pool_events: int          # soft-QCD pile-up pool
    shard_events: int         # hard-process events per shard
    pool_shard_events: int    # pool events per shard
    purpose: str

    def events(self, process: str) -> int:
        """Events to generate for a hard process."""
        return self.background_events if PROCESSES[process].role == "background" else self.signal_events


PRESETS: dict[str, Preset] = {p.name: p for p in (
    Preset("tiny", 40, 40, 300, 20, 300, "unit tests, seconds"),
    Preset("smoke", 1500, 8000, 16000, 750, 4000, "demo and training tests, about 2 min on 2 cores"),
    Preset("small", 20000, 100000, 200000, 2500, 20000, "quick studies, about 15 min on 2 cores"),
    Preset("paper", 100000, 500000, 1000000, 5000, 25000, "the paper's sample sizes, about 2.4 CPU-hours"),
)}


def get_preset(name: str) -> Preset:
    """The preset called `name`, or an InputError listing the known ones."""
    try:
        return PRESETS[name]
    except KeyError:
        raise InputError(f"preset {name!r}: unknown (known: {', '.join(PRESETS)})") from None


def check_hard_processes(names: list[str] | None, background: str) -> list[str]:
    """The hard processes to generate (every signal and `background` when `names` is None), in the canonical order."""
    if names is None:
        return [*SIGNAL_PROCESSES, background]
    unknown = [n for n in names if n not in HARD_PROCESSES]
    if unknown:
        raise InputError(f"process {unknown[0]!r}: unknown (known: {', '.join(HARD_PROCESSES)})")
    if not names:
        raise InputError("no process selected (known: " + ", ".join(HARD_PROCESSES) + ")")
    return [n for n in HARD_PROCESSES if n in names]
