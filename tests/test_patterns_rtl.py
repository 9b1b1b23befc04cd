"""The pattern files proven against the RTL: the chain driven from a build's input file reproduces its output file.

The design is test_rtl_blocks' adversarial P = 1 chain (its simulator models are cached under
build/rtl_tests); the pattern files come from `codesign build --steps events,patterns` with the
same bundle. A corrupted output file must make the run fail. A build that simulates the RTL
replays its own EMP files (here on Icarus), and fails when they differ.
"""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from click.testing import CliRunner

from codesign.bundles import random_bundle
from codesign.cli import main
from codesign.derived import derive
from codesign.paths import DEFAULT_SPEC
from codesign.patterns.replay import TOP, run_replay
from codesign.report import collect
from codesign.rtl.sim import TbResult, build_model
from codesign.spec import load_spec
from test_rtl_blocks import Design, need_simulator

EVENTS = 3
OUTPUT_FRAMES = [3564, 3200 + 3564, 2 * 3200 + 3564]  # of each event's decision; on line frame + 5 of an EMPv2 file


@pytest.fixture(scope="module")
def design():
    return Design(DEFAULT_SPEC)


@pytest.fixture(scope="module")
def patterns(design, tmp_path_factory):
    root = tmp_path_factory.mktemp("patterns")
    design.bundle.save(root / "bundle")
    r = CliRunner().invoke(main, ["build", "--bundle", str(root / "bundle"), "--out", str(root / "b"), "--events",
                                  str(EVENTS), "--rtl-events", str(EVENTS), "--steps", "events,patterns"])
    assert r.exit_code == 0, r.output
    return root / "b" / "patterns"


def replay(design, sim: str, directory, fmt: str, tb_dir):
    need_simulator(sim)
    model = design.root / f"{sim}-{TOP}"
    build_model(sim, design.sources, TOP, model)
    return run_replay(sim, model, tb_dir, design.plan.params(), directory, fmt)


@pytest.mark.parametrize("sim, fmt", [("verilator", "emp"), ("verilator", "hex")])  # Icarus: the build's replay below
def test_rtl_reproduces_the_output_file(design, patterns, tmp_path, sim, fmt):
    res = replay(design, sim, patterns, fmt, tmp_path / "tb")
    assert res.passed, res.mismatches
    assert res.latency["chain"] == {"events": EVENTS, "first_out": 3564, "last_out": 3564}
    with np.load(tmp_path / "tb" / "captured.npz") as z:
        assert z["pt1"].shape == (EVENTS,)
        if fmt != "hex":  # framed formats: every decision on the frame the output file puts it
            assert z["output_frame"].tolist() == OUTPUT_FRAMES


def test_corrupted_output_file_fails_on_the_rtl(design, patterns, tmp_path):
    """Last decision: the lowest bit of pT1 flipped; second decision: moved one frame earlier. Both are caught."""
    shutil.copytree(patterns, tmp_path / "p")
    path = tmp_path / "p" / "output_emp.txt"
    lines = path.read_text().splitlines()
    i, prefix = OUTPUT_FRAMES[2] + 5 - 1, f"Frame {OUTPUT_FRAMES[2]:04d}    0111 "
    assert lines[i].startswith(prefix)
    word = lines[i][len(prefix):len(prefix) + 16]  # link 0: pass_pt1, pass_pt4, then pT1 from bit 2
    lines[i] = prefix + f"{int(word, 16) ^ 4:016x}" + lines[i][len(prefix) + 16:]
    i = OUTPUT_FRAMES[1] + 5 - 1
    lines[i - 1], lines[i] = lines[i - 1][:10] + lines[i][10:], lines[i][:10] + lines[i - 1][10:]
    path.write_text("\n".join(lines) + "\n")
    res = replay(design, "verilator", tmp_path / "p", "emp", tmp_path / "tb")
    assert not res.passed and sorted(res.mismatches) == ["output_frame", "pt1"]
    assert res.mismatches["pt1"]["first"][0]["index"] == [2]
    assert res.mismatches["output_frame"]["first"] == [{"index": [1], "expected": OUTPUT_FRAMES[1] - 1,
                                                         "got": OUTPUT_FRAMES[1]}]
    assert ET.parse(res.results_xml).getroot().findall(".//failure")


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    """A build through rtl_sim and patterns on Icarus (2 events, random bundle): the step replays its own files."""
    need_simulator("icarus")
    root = tmp_path_factory.mktemp("replay")
    random_bundle(derive(load_spec(DEFAULT_SPEC)), 5).save(root / "bundle")
    r = CliRunner().invoke(main, ["build", "--bundle", str(root / "bundle"), "--out", str(root / "b"), "--events", "2",
                                  "--rtl-events", "2", "--sim", "icarus", "--steps", "events,rtl,rtl_sim,patterns"])
    assert r.exit_code == 0, r.output
    return root / "b"


def test_build_replays_its_pattern_files_on_the_rtl(simulated):
    result = json.loads((simulated / "build.json").read_text())["steps"]["patterns"]["result"]
    assert result["replay"] == {"simulator": "icarus", "format": "emp", "mismatches": 0}
    with np.load(simulated / "rtl" / "sim_icarus" / "patterns_tb" / "captured.npz") as z:
        assert z["output_frame"].tolist() == [3564, 3200 + 3564]
    assert collect.patterns(collect.load(simulated, []))["replay"] == result["replay"]  # what the report shows


def test_build_fails_when_the_rtl_differs_from_its_pattern_files(simulated, tmp_path, monkeypatch):
    """The replay's verdict is the step's: a mismatch is FAILED, exit 1, recorded in build.json."""
    import codesign.patterns.steps as steps

    b = tmp_path / "b"
    shutil.copytree(simulated, b)
    shutil.copytree(simulated.parent / "bundle", tmp_path / "bundle")
    failed = TbResult(passed=False, mismatches={"pt1": {"count": 1}}, latency={}, cycles=0, sim_s=0.0,
                      results_xml=b / "x.xml")
    monkeypatch.setattr(steps, "run_replay", lambda *a, **k: failed)
    monkeypatch.setattr(steps, "build_model", lambda *a, **k: 0.0)
    manifest = json.loads((b / "build.json").read_text())
    manifest["steps"]["patterns"]["input_hash"] = "stale"
    (b / "build.json").write_text(json.dumps(manifest))
    r = CliRunner().invoke(main, ["build", "--bundle", str(tmp_path / "bundle"), "--out", str(b), "--events", "2",
                                  "--rtl-events", "2", "--sim", "icarus", "--steps", "events,rtl,rtl_sim,patterns"])
    assert r.exit_code == 1 and "the RTL on icarus differs from the output pattern file (pt1)" in r.output, r.output
    assert json.loads((b / "build.json").read_text())["steps"]["patterns"]["status"] == "failed"
