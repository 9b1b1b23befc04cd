"""Measured RTL latency against the spec's budgets: the stored record and the per-block table.

A block's latency is the number of clock cycles from its first input beat of an event to its
last output beat of that event (worst event); the chain's is from the first quantiser code
in to the trigger decision out. Both are measured by the cocotb testbench.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from codesign.derived import BLOCKS, DerivedParams
from codesign.errors import InputError
from emulation.jsoncheck import get, read_json

ROWS = (*BLOCKS, "chain")
LATENCY_FILE = "latency.json"


@dataclass(frozen=True)
class LatencyRow:
    """One line of the check-latency table."""

    block: str
    budget_us: float | None
    budget_cycles: int | None
    measured_cycles: int | None
    clock_mhz: float

    @property
    def measured_us(self) -> float | None:
        return None if self.measured_cycles is None else self.measured_cycles / self.clock_mhz

    @property
    def margin_cycles(self) -> int | None:
        if self.budget_cycles is None or self.measured_cycles is None:
            return None
        return self.budget_cycles - self.measured_cycles

    @property
    def over(self) -> bool:
        return self.margin_cycles is not None and self.margin_cycles < 0


def latency_record(simulator: str, events: int, lanes: int, blocks: dict[str, dict]) -> dict:
    """The JSON stored in rtl/sim_<sim>/latency.json (cycles only: deterministic)."""
    return {"simulator": simulator, "events": events, "pixel_parallelism": lanes,
            "definition": "cycles from a block's first input beat to its last output beat (worst event); "
                          "chain: first quantiser code in to trigger decision out",
            "blocks": {name: {"first_out": v["first_out"], "last_out": v["last_out"]}
                       for name, v in sorted(blocks.items())}}


def stored_latencies(build_dir: Path) -> dict[str, dict]:
    """Simulator -> stored latency record of a build (empty when the RTL was never simulated there)."""
    out = {}
    for path in sorted((build_dir / "rtl").glob(f"sim_*/{LATENCY_FILE}")):
        out[path.parent.name[len("sim_"):]] = _checked_record(read_json(path, f"build {str(build_dir)!r}"), path)
    return out


def _checked_record(record: object, path: Path) -> dict:
    """A latency record with every block's cycles a non-negative integer, first output no later than last."""
    where = f"{path} (delete it to re-simulate)"
    get(record, "events", "int", where, lo=1)
    get(record, "pixel_parallelism", "int", where, lo=1)
    blocks = get(record, "blocks", "dict", where)
    for name in ROWS:
        if name not in blocks:
            raise InputError(f"{where}: blocks.{name}: missing; expected its measured cycles")
        first = get(blocks[name], "first_out", "count", f"{where}: blocks.{name}")
        last = get(blocks[name], "last_out", "count", f"{where}: blocks.{name}")
        if last < first:
            raise InputError(f"{where}: blocks.{name}.last_out = {last}: expected at least first_out = {first}")
    return record


def latency_rows(derived: DerivedParams, records: dict[str, dict]) -> list[LatencyRow]:
    """Budget vs measured (worst over simulators) for every block and the chain.

    Records that cannot come from a design for this spec are refused: another pixel parallelism, or
    a denoiser or chain faster than streaming the event in (ceil(pixels / P) beats).
    """
    for sim, r in records.items():
        if r["pixel_parallelism"] != derived.pixel_parallelism:
            raise InputError(f"latency measured on {sim} is for P = {r['pixel_parallelism']}, the spec "
                             f"{derived.spec_name!r} derives P = {derived.pixel_parallelism}: the build is not of this spec")
        for name in ("denoiser", "chain"):
            if r["blocks"][name]["last_out"] < derived.streaming_cycles:
                raise InputError(f"latency measured on {sim}: {name} {r['blocks'][name]['last_out']} cycles is less "
                                 f"than the {derived.streaming_cycles} beats of one event: impossible, the record is damaged")
    rows = []
    for name in ROWS:
        values = [r["blocks"][name]["last_out"] for r in records.values()]
        budget = derived.budgets[name]
        rows.append(LatencyRow(name, budget.us, budget.cycles, max(values) if values else None, derived.clock_mhz))
    return rows


def format_table(rows: list[LatencyRow], clock_mhz: float) -> str:
    """The check-latency table: budget (us, cycles), measured (cycles, us at the spec clock), margin."""
    def cell(v, width: int, spec: str) -> str:
        return f"{'-' if v is None else format(v, spec):>{width}s}"

    lines = [f"latency at {clock_mhz:g} MHz (measured in RTL simulation)",
             f"{'block':12s} {'budget us':>10s} {'budget cyc':>11s} {'measured cyc':>13s} {'measured us':>12s} "
             f"{'margin cyc':>11s}  status"]
    for r in rows:
        status = ("OVER BUDGET" if r.over else "ok" if r.margin_cycles is not None
                  else "no budget" if r.measured_cycles is not None else "not measured")
        lines.append(f"{r.block:12s} {cell(r.budget_us, 10, 'g')} {cell(r.budget_cycles, 11, 'd')} "
                     f"{cell(r.measured_cycles, 13, 'd')} {cell(r.measured_us, 12, '.3f')} "
                     f"{cell(r.margin_cycles, 11, '+d')}  {status}")
    return "\n".join(lines)
