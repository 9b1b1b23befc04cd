"""Soak benchmark: N events through the generated chain on Verilator vs the emulator, zero mismatches expected.

Stimulus and capture live in the HDL testbench (firmware/templates/tb_soak.v.j2), so Verilator runs
at compiled speed; events are synthetic pile-up-like images plus jets (the build's generator)
with an all-maximum event and an empty event at the start of every chunk. Prints a JSON summary.

    .venv/bin/python benchmarks/rtl_soak.py --events 10000 [--spec constraints/hl-lhc-multijet.yaml]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from codesign.build.events import synthetic_events
from codesign.bundles import random_bundle
from codesign.derived import derive
from codesign.paths import DEFAULT_SPEC
from codesign.rtl.plan import make_plan
from codesign.rtl.soak import SoakTotals, build_soak, run_chunk
from codesign.rtl.verilog import write_sources
from codesign.spec import load_spec
from emulation.bundle import FirmwareBundle


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def soak(spec: Path, bundle: FirmwareBundle | None, events: int, chunk: int, seed: int, work: Path,
         log=_log) -> dict:
    """Run the soak; returns the summary (mismatching elements per output, latency, speed)."""
    d = derive(load_spec(spec))
    bundle = bundle or random_bundle(d, seed)
    plan = make_plan(bundle, d)
    sources = write_sources(plan, work / "src")
    t0 = time.perf_counter()
    exe = build_soak(plan, sources, work / "build", chunk)
    build_s = time.perf_counter() - t0
    totals = SoakTotals()
    g = bundle.geometry
    start = time.perf_counter()
    for i, first in enumerate(range(0, events, chunk)):
        n = min(chunk, events - first)
        et = synthetic_events(n, seed * 100003 + i, (g.n_layers, g.eta_bins, g.phi_bins), bundle.formats["et_in"])
        bad = run_chunk(exe, plan, bundle, et, work / "run", totals)
        log(f"chunk {i}: events {first}..{first + n - 1}, mismatching outputs {sorted(bad) or 'none'}, "
            f"{totals.cycles_per_s:,.0f} cycles/s so far")
    return {"spec": d.spec_name, "lanes": plan.lanes, "events": totals.events,
            "mismatches": totals.mismatches, "chain_latency_cycles": sorted(totals.latency_cycles),
            "cycles": totals.cycles, "sim_s": round(totals.sim_s, 2), "cycles_per_s": round(totals.cycles_per_s),
            "build_s": round(build_s, 1), "total_s": round(time.perf_counter() - start + build_s, 1),
            "machine": f"{platform.machine()}, {platform.processor() or platform.system()}",
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=10000)
    ap.add_argument("--chunk", type=int, default=500)
    ap.add_argument("--spec", type=Path, default=DEFAULT_SPEC)
    ap.add_argument("--bundle", type=Path, default=None, help="bundle directory (default: random bundle of --seed)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", type=Path, default=Path(__file__).resolve().parent.parent / "build" / "rtl_soak")
    args = ap.parse_args()
    bundle = FirmwareBundle.load(args.bundle) if args.bundle else None
    summary = soak(args.spec, bundle, args.events, args.chunk, args.seed, args.work / args.spec.stem)
    print(json.dumps(summary, indent=1))
    return 0 if not summary["mismatches"] and summary["events"] == args.events else 1


if __name__ == "__main__":
    sys.exit(main())
