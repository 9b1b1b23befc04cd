"""Soak: many events through the whole chain on Verilator with HDL-side stimulus and capture (tb_soak.v).

The testbench reads the quantiser codes with $readmemh and writes every cluster, calibrated pT,
decision and a per-event et_pred checksum to a text file, so the simulation runs at compiled
speed; this module builds it, runs it chunk by chunk and compares each chunk with the emulator.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from codesign.rtl.compare import compare_outputs
from codesign.rtl.plan import RtlPlan
from codesign.rtl.sim import require_simulator, sources_hash, tool_env
from codesign.rtl.stream import image_beats
from codesign.rtl.verilog import environment
from codesign.toolfail import run_tool, tool_failed, write_log
from emulation.atomic import write_text
from emulation.bundle import FirmwareBundle
from emulation.chain import run_chain

FIRST_BEAT_CYCLE = 4  # tb_soak releases reset at cycle 3 and drives beat 0 after edge 4
SOAK_ARGS = ["--binary", "--timing", "-Wno-fatal", "-O3", "--x-assign", "fast", "--x-initial", "fast",
             "-CFLAGS", "-std=c++20"]


@dataclass
class SoakTotals:
    """Accumulated over chunks: events, mismatching events per quantity, latency and speed."""

    events: int = 0
    mismatches: dict[str, int] = field(default_factory=dict)
    latency_cycles: set[int] = field(default_factory=set)
    cycles: int = 0
    sim_s: float = 0.0

    @property
    def cycles_per_s(self) -> float:
        return self.cycles / self.sim_s if self.sim_s else 0.0


def build_soak(plan: RtlPlan, sources: list[Path], build_dir: Path, max_events: int) -> Path:
    """Render tb_soak.v and compile it with Verilator --binary; returns the executable (rebuilt only on change)."""
    require_simulator("verilator")
    build_dir.mkdir(parents=True, exist_ok=True)
    tb = build_dir / "tb_soak.v"
    write_text(tb, environment().get_template("tb_soak.v.j2").render(plan=plan, max_events=max_events))
    exe = build_dir / "obj" / "tb_soak"
    stamp = build_dir / "built.txt"
    digest = sources_hash([*sources, tb]) + " ".join(SOAK_ARGS)
    if exe.exists() and stamp.exists() and stamp.read_text() == digest:
        return exe
    cmd = ["verilator", *SOAK_ARGS, "-Mdir", str(build_dir / "obj"), "--top-module", "tb_soak", "-o", "tb_soak",
           "-j", "2", *map(str, sources), str(tb)]
    with tool_env():
        run_tool(cmd, build_dir / "build.log", "verilator build of the soak testbench")
    stamp.write_text(digest)
    return exe


def pred_checksum(et_pred: np.ndarray) -> np.ndarray:
    """Per event: sum of et_pred * (2 * raster index + 1) mod 2^32 (odd weights: any single wrong pixel shows)."""
    n, h, w = et_pred.shape
    weights = 2 * np.arange(h * w, dtype=np.uint64) + 1
    return ((et_pred.reshape(n, -1).astype(np.uint64) * weights).sum(axis=1) % (1 << 32)).astype(np.int64)


def _parse(path: Path, n_out: int) -> dict[str, np.ndarray]:
    rows: dict[str, list[list[int]]] = {"C": [], "K": [], "D": [], "P": []}
    for line in path.read_text().splitlines():
        tag, *vals = line.split()
        rows[tag].append([int(v) for v in vals])
    clu = np.array(rows["C"], dtype=np.int64).reshape(-1, n_out, 4)
    dec = np.array(rows["D"], dtype=np.int64).reshape(-1, 5 + n_out)
    return {"cluster_pt": clu[:, :, 0], "cluster_ieta": clu[:, :, 1], "cluster_iphi": clu[:, :, 2],
            "n_clusters": clu[:, :, 3].sum(axis=1), "pt_calib": np.array(rows["K"], dtype=np.int64).reshape(-1, n_out),
            "pt1": dec[:, 1], "pt4": dec[:, 2], "pass_pt1": dec[:, 3].astype(bool), "pass_pt4": dec[:, 4].astype(bool),
            "sorted_pt": dec[:, 5:], "pred_checksum": np.array(rows["P"], dtype=np.int64).reshape(-1),
            "decision_cycle": dec[:, 0]}


def run_chunk(exe: Path, plan: RtlPlan, bundle: FirmwareBundle, et_raw: np.ndarray, work: Path,
              totals: SoakTotals) -> dict:
    """Simulate one chunk of raw E_T events, compare with the emulator, add to `totals`; returns the mismatches."""
    ref = run_chain(bundle, et_raw, keep=True)
    beats = image_beats(ref["codes"], plan.lanes, 0, plan.code_width).reshape(-1)
    digits = -(-plan.lanes * plan.n_layers * plan.code_width // 4)
    work.mkdir(parents=True, exist_ok=True)
    stim, out = work / "stim.hex", work / "out.txt"
    stim.write_text("".join(f"{int(b):0{digits}x}\n" for b in beats))
    out.unlink(missing_ok=True)
    n = len(et_raw)
    t0 = time.perf_counter()
    proc = subprocess.run([str(exe), f"+events={n}", f"+stim={stim}", f"+out={out}"], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0 or not out.exists():
        log = write_log(work / "sim.log", proc.args, proc.stdout, proc.stderr)
        raise tool_failed(f"soak simulation failed (exit code {proc.returncode})", log)
    got = _parse(out, plan.clusterer.n_out)
    expected = {k: ref[k] for k in ("cluster_pt", "cluster_ieta", "cluster_iphi", "n_clusters", "pt_calib", "pt1",
                                    "pt4", "pass_pt1", "pass_pt4", "sorted_pt")}
    expected["pred_checksum"] = pred_checksum(ref["et_pred"])
    mismatches = compare_outputs(expected, got, n)
    first = FIRST_BEAT_CYCLE + np.arange(len(got["decision_cycle"])) * plan.beats_per_event
    totals.events += n
    totals.latency_cycles.update(int(v) for v in got["decision_cycle"] - 1 - first)
    totals.cycles += int(got["decision_cycle"][-1]) if len(got["decision_cycle"]) else 0
    totals.sim_s += wall
    for name, rep in mismatches.items():
        totals.mismatches[name] = totals.mismatches.get(name, 0) + int(rep.get("count", n))
    return mismatches

