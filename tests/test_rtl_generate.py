"""Verilog generation: deterministic files, lint-clean on Verilator -Wall, Icarus-clean, plan and stream invariants."""

from __future__ import annotations

import dataclasses
import subprocess

import numpy as np
import pytest
from click.testing import CliRunner

from codesign.bundles import random_bundle
from codesign.cli import main
from codesign.derived import derive
from codesign.errors import InputError
from codesign.paths import DEFAULT_SPEC
from codesign.rtl.lint import lint
from codesign.rtl.plan import make_plan, signed_bits
from codesign.rtl.stream import beats_image, image_beats
from codesign.rtl.verilog import MODULES, TOP, render_sources, write_sources
from codesign.spec import load_spec
from helpers import TIGHT_SPEC
from test_rtl_blocks import need_simulator


@pytest.fixture(scope="module", params=[DEFAULT_SPEC, TIGHT_SPEC], ids=["P1", "P4"])
def design(request, tmp_path_factory):
    d = derive(load_spec(request.param))
    bundle = random_bundle(d, 3)
    plan = make_plan(bundle, d)
    return bundle, d, plan, write_sources(plan, tmp_path_factory.mktemp("src"))


def test_sources_are_deterministic_and_follow_the_bundle(design, tmp_path):
    bundle, d, plan, paths = design
    again = write_sources(make_plan(bundle, d), tmp_path)
    assert [p.name for p in paths] == [f"{m}.v" for m in MODULES]
    for a, b in zip(paths, again):
        assert a.read_bytes() == b.read_bytes(), a.name
    other = render_sources(make_plan(random_bundle(d, 4), d))
    assert other["cs_cnn_pixel.v"] != paths[1].read_text()  # constants come from the bundle
    assert other["cs_cnn.v"] == paths[2].read_text()  # the streaming structure does not


def test_plan_widths_hold_every_accumulator(design):
    bundle, d, plan, _ = design
    assert plan.lanes == d.pixel_parallelism
    act_max = (1 << plan.cnn.act_width) - 1
    for dense in plan.cnn.dense[1:]:  # inputs are activations in [0, act_max]
        w = np.array(dense.weights, dtype=np.int64)
        b = np.array(dense.bias, dtype=np.int64)
        lo = (np.minimum(w, 0).sum(axis=1) * act_max + b).min()
        hi = (np.maximum(w, 0).sum(axis=1) * act_max + b).max()
        assert -(1 << (dense.acc_width - 1)) <= lo and hi < 1 << (dense.acc_width - 1)
        assert signed_bits(int(lo), int(hi)) <= dense.acc_width
    assert plan.cnn.window.out_rot == plan.clusterer.window.in_rot
    assert plan.clusterer.window.rows == d.window // 2


def test_verilator_lint_wall_is_clean(design, tmp_path):
    need_simulator("verilator")
    assert lint(design[3], TOP, tmp_path / "lint.log") == "clean", (tmp_path / "lint.log").read_text()


def test_icarus_compiles_without_warnings(design, tmp_path):
    need_simulator("icarus")
    proc = subprocess.run(["iverilog", "-g2012", "-Wall", "-o", str(tmp_path / "top.vvp"), *map(str, design[3])],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stderr.strip() == "", proc.stderr


def test_stream_packing_round_trip():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 1 << 16, size=(3, 2, 5, 8))
    for lanes, rot in ((1, 0), (2, 1), (4, 1), (8, 0)):
        beats = image_beats(img, lanes, rot, 16)
        assert beats.shape == (3, 5 * 8 // lanes)
        assert np.array_equal(beats_image(beats, lanes, rot, 16, 2, 5), img)
    # beat k of a row carries phi group (rot + k) mod G, lane l of channel c at bits (l*C + c)*width
    b = image_beats(img, 2, 1, 16)
    assert int(b[0, 0]) & 0xFFFF == img[0, 0, 0, 2] and (int(b[0, 0]) >> 48) & 0xFFFF == img[0, 1, 0, 3]


def test_unsupported_parallelism_is_a_clear_error():
    d = derive(load_spec(DEFAULT_SPEC))
    bundle = random_bundle(d, 0)
    with pytest.raises(InputError, match="at least 2 pixel groups"):
        make_plan(bundle, dataclasses.replace(d, pixel_parallelism=64))


def test_rtl_step_is_byte_identical(tmp_path):
    bundle_dir = tmp_path / "bundle"
    random_bundle(derive(load_spec(DEFAULT_SPEC)), 2).save(bundle_dir)
    for out in ("a", "b"):
        r = CliRunner().invoke(main, ["build", "--bundle", str(bundle_dir), "--out", str(tmp_path / out),
                                      "--events", "2", "--steps", "events,rtl"])
        assert r.exit_code == 0, r.output
    for m in MODULES:
        assert (tmp_path / "a" / "rtl" / "src" / f"{m}.v").read_bytes() == \
            (tmp_path / "b" / "rtl" / "src" / f"{m}.v").read_bytes()
    design = [(tmp_path / out / "rtl" / "design.json").read_bytes() for out in ("a", "b")]
    assert design[0] == design[1]
