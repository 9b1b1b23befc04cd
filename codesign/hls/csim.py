"""C simulation of the generated project: compile with g++ against ap_types, run, compare with the emulator.

Each translation unit is compiled to an object named by the hash of its inputs (flags, source and
every firmware header), so projects for the same spec share the compiled kernel and testbench and
a new bundle recompiles only parameters.cpp.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from codesign.hls.project import EVENTS_FILE
from codesign.toolchain import CXXFLAGS, ap_types_dir, cxx
from codesign.toolfail import run_tool, tool_failed, write_log

SOURCES = ("firmware/trigger_top.cpp", "firmware/parameters.cpp", "tb/csim_tb.cpp")
EXE = "csim_tb"
MISMATCH_LIMIT = 20  # mismatches listed per output (all are counted)


class CsimError(RuntimeError):
    """The C simulation's output is missing or malformed (a failed compiler or run is `ToolFailed`, with its log)."""


@dataclass(frozen=True)
class CsimRun:
    """Outputs of one C simulation (raw integers shaped like the emulator's) and its timings."""

    outputs: dict[str, np.ndarray]
    compile_s: float
    run_s: float


def _object_key(project: Path, source: str) -> str:
    h = hashlib.sha256()
    h.update(" ".join((cxx(), *CXXFLAGS, str(ap_types_dir()))).encode())
    for path in [project / source, *sorted((project / "firmware").glob("*.h"))]:
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:24]


def compile_csim(project: Path, work: Path, cache: Path | None = None) -> Path:
    """Compile the testbench and firmware of `project` into work/csim_tb (objects reused from `cache`)."""
    project, work = Path(project), Path(work)
    cache = Path(cache) if cache is not None else work / "obj"
    cache.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    include = [f"-I{ap_types_dir()}", f"-I{project / 'firmware'}"]
    objects, jobs = [], []
    for source in SOURCES:
        obj = cache / f"{Path(source).stem}-{_object_key(project, source)}.o"
        objects.append(obj)
        if not obj.exists():
            tmp = obj.with_name(f".{obj.name}.{os.getpid()}.tmp")
            cmd = [cxx(), *CXXFLAGS, *include, "-c", str(project / source), "-o", str(tmp)]
            jobs.append((cmd, tmp, obj, subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                                         text=True)))
    failed = None
    for cmd, tmp, obj, proc in jobs:
        out, err = proc.communicate()
        if proc.returncode != 0:
            log = write_log(work / f"{obj.stem}.compile.log", cmd, out, err)
            failed = failed or tool_failed(f"C++ compilation of {Path(cmd[-3]).name} failed (exit code "
                                           f"{proc.returncode})", log)
            tmp.unlink(missing_ok=True)
        else:
            os.replace(tmp, obj)
    if failed:
        raise failed
    exe = work / EXE
    run_tool([cxx(), *map(str, objects), "-o", str(exe)], work / "link.log", "linking the C simulation")
    return exe


def run_csim(exe: Path, events_file: Path, out_dir: Path) -> None:
    """Run the testbench on an events file, writing one <output>.dat per output into out_dir."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    run_tool([str(exe), str(events_file), str(out_dir)], out_dir / "csim.log", "the C simulation")


def read_outputs(out_dir: Path, shapes: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    """Read the testbench's output files as int64 arrays of the given shapes (events first)."""
    got = {}
    for name, shape in shapes.items():
        path = Path(out_dir) / f"{name}.dat"
        if not path.is_file():
            raise CsimError(f"C simulation wrote no {path.name}")
        values = np.array(path.read_text().split(), dtype=np.int64)
        if values.size != int(np.prod(shape)):
            raise CsimError(f"C simulation wrote {values.size} values to {path.name}, expected {int(np.prod(shape))} "
                            f"(shape {shape})")
        got[name] = values.reshape(shape)
    return got


def simulate(project: Path, work: Path, shapes: dict[str, tuple[int, ...]], cache: Path | None = None) -> CsimRun:
    """Compile and run the C simulation of `project` on its tb_data events; returns its outputs and timings."""
    work = Path(work)
    t0 = time.perf_counter()
    exe = compile_csim(project, work, cache)
    t1 = time.perf_counter()
    out_dir = work / "out"
    run_csim(exe, Path(project) / EVENTS_FILE, out_dir)
    t2 = time.perf_counter()
    return CsimRun(outputs=read_outputs(out_dir, shapes), compile_s=t1 - t0, run_s=t2 - t1)


def compare(reference: dict[str, np.ndarray], got: dict[str, np.ndarray],
            limit: int = MISMATCH_LIMIT) -> tuple[list[dict], dict[str, int]]:
    """Element-wise exact comparison: the first `limit` mismatches of each output, and counts per output."""
    listed: list[dict] = []
    counts: dict[str, int] = {}
    for name in sorted(got):
        want = np.asarray(reference[name]).astype(np.int64)
        bad = np.argwhere(want != got[name])
        counts[name] = int(len(bad))
        for idx in bad[:limit]:
            pos = tuple(int(i) for i in idx)
            listed.append({"output": name, "event": pos[0], "index": list(pos[1:]),
                           "emulator": int(want[pos]), "csim": int(got[name][pos])})
    return listed, counts
