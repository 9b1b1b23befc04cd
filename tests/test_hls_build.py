"""`codesign build` with the HLS steps, through the CLI: verified build, determinism, failures, bad input."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from codesign.bundles import random_bundle
from codesign.cli import main
from codesign.derived import derive
from codesign.hls.csynth import SKIP_REASON, find_hls_tool
from codesign.paths import DEFAULT_SPEC
from codesign.spec import load_spec
from helpers import require_compiler

STEPS = "events,hls,csim,csynth"


@pytest.fixture(scope="module", autouse=True)
def compiler():
    require_compiler("the HLS C simulation")


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("bundle") / "b"
    random_bundle(derive(load_spec(DEFAULT_SPEC)), 21).save(path)
    return path


def build(bundle_dir, out, *extra, steps=STEPS, target="xcvu13p"):
    args = ["build", "--spec", str(DEFAULT_SPEC), "--bundle", str(bundle_dir), "--out", str(out), "--events", "4",
            "--steps", steps]
    if target is not None:
        args += ["--target", target]
    return CliRunner().invoke(main, args + list(extra))


@pytest.fixture(scope="module")
def built(bundle_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("build") / "a"
    r = build(bundle_dir, out)
    assert r.exit_code == 0, r.output
    return out, r.output


def test_build_verifies_and_records(built):
    out, output = built
    assert "[csim] 4 events in" in output and "all steps passed" in output
    manifest = json.loads((out / "build.json").read_text())
    steps = manifest["steps"]
    assert [steps[s]["status"] for s in ("events", "hls", "csim", "csynth")] == ["done"] * 4
    csim = steps["csim"]["result"]
    assert csim["events"] == 4 and csim["mismatches"] == 0
    assert set(csim["outputs"]) >= {"et_dec", "seg_w", "et_pred", "seeds", "cluster_pt", "pt_calib", "pass_pt4"}
    assert json.loads((out / "hls/csim/mismatches.json").read_text()) == []
    assert "events_per_s" in json.loads((out / "hls/csim/timings.json").read_text())
    assert "events_per_s" not in json.dumps(manifest)  # timings stay out of build.json
    tcl = (out / "hls/build_prj.tcl").read_text()
    assert "set part xcvu13p-flga2577-2-e" in tcl and "set clock_period 2.77778" in tcl  # alias resolved; 360 MHz
    report = json.loads((out / "hls/csynth/report.json").read_text())
    if find_hls_tool() is None:
        assert report == {"status": "skipped", "reason": SKIP_REASON} == steps["csynth"]["result"]


def test_same_inputs_give_identical_files(built, bundle_dir, tmp_path):
    out, _ = built
    r = build(bundle_dir, tmp_path / "b", steps="events,hls")
    assert r.exit_code == 0, r.output
    files = sorted(p.relative_to(tmp_path / "b" / "hls") for p in (tmp_path / "b" / "hls").rglob("*") if p.is_file())
    assert len(files) >= 13
    for rel in files:
        assert (out / "hls" / rel).read_bytes() == (tmp_path / "b" / "hls" / rel).read_bytes(), rel
    a = json.loads((out / "build.json").read_text())["steps"]["hls"]["result"]
    b = json.loads((tmp_path / "b" / "build.json").read_text())["steps"]["hls"]["result"]
    assert a == b and set(a["files"]) == {str(f) for f in files}


def test_target_alias_reaches_the_tcl(bundle_dir, tmp_path):
    r = build(bundle_dir, tmp_path / "c", steps="events,hls", target="ku15p")
    assert r.exit_code == 0, r.output
    assert "set part xcku15p-ffve1760-2-e" in (tmp_path / "c" / "hls/build_prj.tcl").read_text()


def test_a_broken_rounding_fails_the_build(built, bundle_dir, tmp_path):
    """Mutation check: truncate instead of round in one requantisation -> csim mismatches, exit 1."""
    out = tmp_path / "m"
    shutil.copytree(built[0], out)
    cnn = out / "hls/firmware/cnn.h"
    text = cnn.read_text()
    assert "        h2[h] = acc;\n" in text
    cnn.write_text(text.replace("        h2[h] = acc;\n", "        h2[h] = ap_ufixed<10, 6>(acc);\n"))
    (out / "hls/csim/summary.json").unlink()  # the step's artefact is gone, so csim runs again
    r = build(bundle_dir, out, steps="csim")
    assert r.exit_code == 1 and "FAILED: C simulation disagrees with the emulator" in r.output, r.output
    mismatches = json.loads((out / "hls/csim/mismatches.json").read_text())
    assert mismatches and {"output", "event", "index", "emulator", "csim"} == set(mismatches[0])
    assert json.loads((out / "build.json").read_text())["steps"]["csim"]["status"] == "failed"


@pytest.mark.parametrize("case,fragment", [
    ("target", "unknown FPGA part (known:"),
    ("bundle", "content hash mismatch"),
    ("spec", "precision.cnn"),
    ("no_events", "needs the events step's output"),
])
def test_bad_input_is_one_line(bundle_dir, tmp_path, case, fragment):
    spec, bundle, target, steps = DEFAULT_SPEC, bundle_dir, "xcvu13p", STEPS
    if case == "target":
        target = "xc7z020"
    elif case == "bundle":
        bundle = tmp_path / "bundle"
        shutil.copytree(bundle_dir, bundle)
        manifest = json.loads((bundle / "manifest.json").read_text())
        manifest["provenance"]["seed"] += 1
        (bundle / "manifest.json").write_text(json.dumps(manifest))
    elif case == "spec":
        spec = tmp_path / "spec.yaml"
        spec.write_text(DEFAULT_SPEC.read_text().replace("weight_int_bits: 1", "weight_int_bits: one"))
    else:
        steps = "hls"
    r = CliRunner().invoke(main, ["build", "--spec", str(spec), "--bundle", str(bundle), "--target", target,
                                  "--out", str(tmp_path / "o"), "--events", "2", "--steps", steps])
    assert r.exit_code == 2, r.output
    errors = [line for line in r.output.splitlines() if not line.startswith("[")]  # "[step] ..." is the build log
    assert len(errors) == 1 and errors[0].startswith("error: ") and fragment in errors[0], r.output
