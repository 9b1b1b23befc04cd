"""The RTL build steps (rtl, rtl_sim) and `codesign check-latency`: stored results, exit codes, failures."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner

from codesign.build.config import BuildConfig
from codesign.build.steps import CheckFailed, open_context, registered_steps
from codesign.bundles import random_bundle
from codesign.cli import main
from codesign.derived import derive
from codesign.paths import DEFAULT_SPEC
from codesign.spec import load_spec
from helpers import TIGHT_SPEC
from test_rtl_blocks import need_simulator


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("bundle") / "b"
    random_bundle(derive(load_spec(DEFAULT_SPEC)), 21).save(path)
    return path


def build(bundle_dir, out, steps: str, events: int = 2):
    return CliRunner().invoke(main, ["build", "--bundle", str(bundle_dir), "--out", str(out), "--events",
                                     str(events + 1), "--rtl-events", str(events), "--sim", "icarus",
                                     "--steps", steps])


def check_latency(spec, build_dir):
    return CliRunner().invoke(main, ["check-latency", "--spec", str(spec), "--build", str(build_dir)])


@pytest.fixture(scope="module")
def simulated(bundle_dir, tmp_path_factory):
    need_simulator("icarus")
    out = tmp_path_factory.mktemp("build") / "b"
    r = build(bundle_dir, out, "events,rtl,rtl_sim")
    assert r.exit_code == 0, r.output
    return out


def test_rtl_sim_stores_latency_mismatches_and_junit(simulated):
    sim = simulated / "rtl" / "sim_icarus"
    lat = json.loads((sim / "latency.json").read_text())
    assert lat["events"] == 2 and lat["simulator"] == "icarus"
    assert set(lat["blocks"]) == {"quantiser", "denoiser", "clusterer", "calibration", "trigger", "chain"}
    assert json.loads((sim / "mismatches.json").read_text()) == {}
    cases = ET.parse(sim / "results.xml").getroot().findall(".//testcase")
    assert len(cases) == 1 and not cases[0].findall("failure")
    manifest = json.loads((simulated / "build.json").read_text())
    result = manifest["steps"]["rtl_sim"]["result"]
    assert result["icarus"]["mismatching_outputs"] == []
    assert "sim_s" not in json.dumps(result)  # timings stay out of build.json
    assert manifest["steps"]["rtl"]["result"]["lint"] in ("clean", "skipped: verilator not on PATH")


def test_check_latency_passes_the_default_spec(simulated):
    r = check_latency(DEFAULT_SPEC, simulated)
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    denoiser = next(line for line in lines if line.startswith("denoiser"))
    assert denoiser.split()[1:3] == ["10", "3600"] and denoiser.endswith("ok")
    assert next(line for line in lines if line.startswith("chain")).endswith("ok")


def test_check_latency_fails_a_design_over_its_budget(simulated, tmp_path):
    """The stored measurement pushed past the default spec's budgets (3600 denoiser, 4320 chain cycles)."""
    import shutil

    over = tmp_path / "b"
    shutil.copytree(simulated, over)
    path = over / "rtl" / "sim_icarus" / "latency.json"
    lat = json.loads(path.read_text())
    lat["blocks"]["denoiser"]["last_out"] = 3700
    lat["blocks"]["chain"].update(first_out=4400, last_out=4400)
    path.write_text(json.dumps(lat))
    r = check_latency(DEFAULT_SPEC, over)
    assert r.exit_code == 1, r.output
    assert "OVER BUDGET" in r.stdout and "over budget: denoiser, chain" in r.stderr


def test_check_latency_refuses_a_build_of_another_spec(simulated):
    r = check_latency(TIGHT_SPEC, simulated)  # a P = 1 design of the default spec against the 2.5 us spec
    assert r.exit_code == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_check_latency_simulates_when_nothing_is_stored(bundle_dir, tmp_path):
    need_simulator("icarus")
    assert build(bundle_dir, tmp_path / "b", "events").exit_code == 0
    r = check_latency(DEFAULT_SPEC, tmp_path / "b")
    assert r.exit_code == 0, r.output
    assert "running its rtl and rtl_sim steps" in r.stderr
    assert (tmp_path / "b" / "rtl" / "sim_icarus" / "latency.json").exists()


@pytest.mark.parametrize("args,fragment", [
    (["--build", "/nonexistent/dir"], "not a directory"),
    (["--build", "{tmp}"], "build.json is missing"),
    (["--spec", "/nonexistent.yaml"], "nonexistent.yaml"),
])
def test_check_latency_bad_input(tmp_path, args, fragment):
    argv = ["check-latency", "--spec", str(DEFAULT_SPEC), "--build", str(tmp_path)]
    for flag, value in zip(args[::2], args[1::2]):
        argv[argv.index(flag) + 1] = value.format(tmp=tmp_path)
    r = CliRunner().invoke(main, argv)
    assert r.exit_code == 2 and fragment in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_rtl_sim_fails_on_a_mismatch(bundle_dir, tmp_path):
    """A wrong RTL (pT1 taken from the second slot) is caught: CheckFailed and mismatches.json name the output."""
    need_simulator("icarus")
    out = tmp_path / "b"
    assert build(bundle_dir, out, "events,rtl", events=4).exit_code == 0
    trg = out / "rtl" / "src" / "cs_trigger.v"
    text = trg.read_text()
    assert "o_pt1 <= npt0;" in text
    trg.write_text(text.replace("o_pt1 <= npt0;", "o_pt1 <= npt1;"))
    ctx = open_context(BuildConfig.load(out))
    step = {s.name: s for s in registered_steps()}["rtl_sim"]
    with pytest.raises(CheckFailed, match="pt1"):
        step.run(ctx)
    assert "pt1" in json.loads((out / "rtl" / "sim_icarus" / "mismatches.json").read_text())
