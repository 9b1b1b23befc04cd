"""The timing estimate of a build against the spec's clock: the stored record, the per-block table, the gate.

The record (rtl/synth/timing.json, written by the build's "timing" step) holds, per block, the
slowest register-to-register path of its yosys netlist (codesign/rtl/timing.py) with the delay
table it was computed with; `check-timing` compares it with a spec's clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from codesign.derived import BLOCKS, DerivedParams
from codesign.errors import InputError
from codesign.rtl.timing import Delays
from emulation.jsoncheck import get, read_json

TIMING_FILE = "rtl/synth/timing.json"
MODEL = ("levels-based estimate on the yosys netlist: clock-to-out + per LUT level (LUT + one net) + carry "
         "entry, per-bit propagation and sum output + DSP48E2 segments + setup + clock uncertainty; no placement")


@dataclass(frozen=True)
class TimingRow:
    """One line of the check-timing table."""

    block: str
    period_ns: float
    lut_levels: int
    carry_bits: int
    dsp: int
    clock_mhz: float

    @property
    def fmax_mhz(self) -> float:
        return 1000.0 / self.period_ns if self.period_ns > 0 else math.inf

    @property
    def margin_ns(self) -> float:
        return 1000.0 / self.clock_mhz - self.period_ns

    @property
    def misses(self) -> bool:
        return self.margin_ns < 0


def timing_record(blocks: dict[str, dict], delays: Delays) -> dict:
    """The JSON stored in rtl/synth/timing.json (deterministic: no run times)."""
    return {"model": MODEL, "family": delays.family, "speed_grade": delays.speed_grade,
            "delays_ns": dict(sorted(delays.ns.items())), "blocks": blocks}


def stored_timing(build_dir: Path) -> dict | None:
    """The build's timing record, checked block by block; None when the build has none."""
    path = Path(build_dir) / TIMING_FILE
    if not path.exists():
        return None
    where = f"{path} (delete it to estimate again)"
    record = read_json(path, f"build {str(build_dir)!r}")
    blocks = get(record, "blocks", "dict", where)
    for name in BLOCKS:
        if name not in blocks:
            raise InputError(f"{where}: blocks.{name}: missing; expected its estimated path")
        get(blocks[name], "period_ns", "number", f"{where}: blocks.{name}", lo=0)
        for key in ("lut_levels", "carry_bits", "dsp"):
            get(blocks[name], key, "count", f"{where}: blocks.{name}")
    return record


def timing_rows(derived: DerivedParams, record: dict) -> list[TimingRow]:
    """Estimated period per block against the spec's clock."""
    return [TimingRow(name, float(b["period_ns"]), b["lut_levels"], b["carry_bits"], b["dsp"], derived.clock_mhz)
            for name, b in ((n, record["blocks"][n]) for n in BLOCKS)]


def format_table(rows: list[TimingRow], clock_mhz: float) -> str:
    """The check-timing table: path composition, estimated period and Fmax, margin to the spec's clock."""
    lines = [f"timing at {clock_mhz:g} MHz ({1000.0 / clock_mhz:.3f} ns; estimated from the yosys netlists, "
             f"slowest register-to-register path per block)",
             f"{'block':12s} {'LUT levels':>10s} {'CARRY8':>7s} {'DSP':>4s} {'est. ns':>8s} {'est. MHz':>9s} "
             f"{'margin ns':>10s}  status"]
    for r in rows:
        lines.append(f"{r.block:12s} {r.lut_levels:10d} {math.ceil(r.carry_bits / 8):7d} {r.dsp:4d} "
                     f"{r.period_ns:8.3f} {r.fmax_mhz:9.1f} {r.margin_ns:+10.3f}  {'MISSES' if r.misses else 'ok'}")
    return "\n".join(lines)


def stored_vivado_timing(build_dir: Path) -> dict | None:
    """Vivado's routed timing summary stored by the synth step (rtl/synth/resources.json), when Vivado ran."""
    path = Path(build_dir) / "rtl" / "synth" / "resources.json"
    if not path.exists():
        return None
    vivado = get(read_json(path, f"build {str(build_dir)!r}"), "vivado", "dict", str(path))
    return vivado.get("timing") if isinstance(vivado.get("timing"), dict) else None
