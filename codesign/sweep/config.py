"""The sweep configuration: a typed, serialisable description of one `codesign sweep`."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from codesign.build.config import SIMULATORS
from codesign.errors import InputError
from codesign.train.config import MODES

TRIGGERS = ("pt1", "pt4")


@dataclass(frozen=True)
class SweepConfig:
    """What a sweep runs: the base spec, the varied keys or listed points, and the per-point pipeline settings."""

    spec: str
    data: str
    out: str
    vary: tuple[str, ...] = ()  # each "KEY=V1,V2,..." as given on the command line
    points: str | None = None  # a YAML file listing points (mappings of spec key -> value) instead of --vary
    mode: str = "e2e"
    train_steps: int | None = None  # optimiser steps per stage (None: the smoke preset's)
    from_run: str | None = None  # fine-tune every point from this finished run
    seed: int = 0
    batch_size: int = 128
    events: int = 20  # verification events of the C simulation (dataset test split)
    rtl_events: int = 2  # of which driven through the RTL simulation (latency, exactness)
    simulators: tuple[str, ...] = ("verilator",)
    yosys: bool = False  # resources from yosys per point (slow) instead of the analytic estimate
    objective: str | None = None  # "SIGNAL:TRIGGER" on the Pareto fronts (default: the first signal, pt1)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise InputError(f"--mode {self.mode!r}: expected one of {', '.join(MODES)}")
        for name, value, lo in (("--train-steps", self.train_steps, 1), ("--seed", self.seed, 0),
                                ("--batch-size", self.batch_size, 1), ("--events", self.events, 1),
                                ("--rtl-events", self.rtl_events, 1)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < lo):
                raise InputError(f"{name} {value}: expected an integer >= {lo}")
        if self.rtl_events > self.events:
            raise InputError(f"--rtl-events {self.rtl_events}: expected at most --events = {self.events}")
        bad = [s for s in self.simulators if s not in SIMULATORS]
        if bad or not self.simulators:
            raise InputError(f"--sim {bad[0] if bad else ''!r}: expected one or more of {', '.join(SIMULATORS)}")
        if bool(self.vary) == (self.points is not None):
            raise InputError("nothing to sweep: give --vary KEY=V1,V2,... (repeatable) or --points FILE.yaml, not both"
                             if self.vary else "nothing to sweep: give --vary KEY=V1,V2,... or --points FILE.yaml")
        if self.objective is not None:
            signal, _, trigger = self.objective.partition(":")
            if not signal or trigger not in TRIGGERS:
                raise InputError(f"--objective {self.objective!r}: expected SIGNAL:TRIGGER with TRIGGER one of "
                                 f"{', '.join(TRIGGERS)} (e.g. ggHH_4b:pt1)")

    def point_settings(self) -> dict[str, Any]:
        """The settings every point's results depend on (not where the sweep runs or writes)."""
        where = ("spec", "data", "out", "vary", "points", "objective")
        return {k: v for k, v in self.to_json().items() if k not in where}

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
