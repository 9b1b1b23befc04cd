"""The build orchestrator: config, resumable steps, the events step, argument errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from codesign.bundles import random_bundle
from codesign.cli import main
from codesign.derived import derive
from codesign.paths import DEFAULT_SPEC
from codesign.spec import load_spec
from emulation.chain import run_chain


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("bundle") / "b"
    random_bundle(derive(load_spec(DEFAULT_SPEC)), 11).save(path)
    return path


def _build(bundle_dir, out, *extra):
    return CliRunner().invoke(main, ["build", "--bundle", str(bundle_dir), "--out", str(out), "--target", "xcvu13p",
                                     "--events", "6", "--steps", "events", *extra])


def test_events_step_and_resume(bundle_dir, tmp_path):
    r = _build(bundle_dir, tmp_path / "a")
    assert r.exit_code == 0, r.output
    manifest = json.loads((tmp_path / "a" / "build.json").read_text())
    assert manifest["steps"]["events"]["status"] == "done"
    assert manifest["part"] == "xcvu13p-flga2577-2-e"
    with np.load(tmp_path / "a" / "events" / "events.npz") as z:
        et = z["et_in"]
    assert et.shape == (6, 2, 50, 64) and (et[0] == 65535).all() and (et[1] == 0).all()
    from emulation.bundle import FirmwareBundle

    with np.load(tmp_path / "a" / "events" / "reference.npz") as z:
        assert np.array_equal(z["pt1"], run_chain(FirmwareBundle.load(bundle_dir), et)["pt1"])
    r = _build(bundle_dir, tmp_path / "a")
    assert "up to date, skipped" in r.output
    # same inputs -> byte-identical artefacts
    assert _build(bundle_dir, tmp_path / "b").exit_code == 0
    for f in ("events/events.npz", "events/reference.npz", "build.json"):
        a = (tmp_path / "a" / f).read_bytes()
        b = (tmp_path / "b" / f).read_bytes()
        if f == "build.json":
            a, b = a.replace(b"/a", b"/b"), b
        assert a == b, f
    # another selection of steps keeps what is done: events is neither rerun nor forgotten
    r = CliRunner().invoke(main, ["build", "--bundle", str(bundle_dir), "--out", str(tmp_path / "a"), "--target",
                                  "xcvu13p", "--events", "6", "--steps", "events,hls"])
    assert r.exit_code == 0 and "[events] up to date, skipped" in r.output, r.output
    assert set(json.loads((tmp_path / "a" / "build.json").read_text())["steps"]) == {"events", "hls"}
    r = _build(bundle_dir, tmp_path / "a")
    assert set(json.loads((tmp_path / "a" / "build.json").read_text())["steps"]) == {"events", "hls"}


@pytest.mark.parametrize("args,fragment", [
    (["--target", "xc7a35t"], "unknown FPGA part (known:"),
    (["--steps", "nope"], "unknown step"),
    (["--sim", "modelsim"], "unknown simulator"),
    (["--events", "0"], "expected at least 1"),
])
def test_bad_arguments(bundle_dir, tmp_path, args, fragment):
    r = _build(bundle_dir, tmp_path / "x", *args)
    assert r.exit_code == 2 and fragment in r.output and len(r.output.strip().splitlines()) == 1, r.output


def test_bad_bundle_and_spec(tmp_path, bundle_dir):
    r = CliRunner().invoke(main, ["build", "--bundle", str(tmp_path), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "manifest.json is missing" in r.output
    spec = tmp_path / "s.yaml"
    spec.write_text(DEFAULT_SPEC.read_text().replace("bits: 10 ", "bits: 8 "))
    r = CliRunner().invoke(main, ["build", "--spec", str(spec), "--bundle", str(bundle_dir), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "does not match spec" in r.output, r.output


def test_defaults_build_the_committed_bundle(tmp_path, monkeypatch):
    """`codesign build --target xcvu13p` works out of the box: default spec, default bundle, build/<spec>."""
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(main, ["build", "--target", "xcvu13p", "--events", "2", "--steps", "events"])
    assert r.exit_code == 0, r.output
    manifest = json.loads((tmp_path / "build" / "hl-lhc-multijet" / "build.json").read_text())
    from codesign.paths import DEFAULT_BUNDLE
    from emulation.bundle import FirmwareBundle

    assert manifest["bundle_hash"] == FirmwareBundle.load(DEFAULT_BUNDLE).content_hash()
