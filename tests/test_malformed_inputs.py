"""Malformed input to every command: one `error:` line (exit 2) naming what is wrong, never a traceback.

Each case builds a damaged input from a good one (spec, bundle, dataset card, build directory,
run directory, output path) and runs the command on it in-process. Positive controls run the
same commands on the undamaged inputs, so a case fails because of its damage and nothing else.
Click's own usage errors (a bad option value) keep click's format: exit 2, `Error: ...`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from codesign.build.config import BuildConfig
from codesign.cli import main
from codesign.data.card import CARD_FORMAT, content_hash
from codesign.derived import derive
from codesign.paths import DEFAULT_BUNDLE, DEFAULT_SPEC
from codesign.rtl.latency import latency_record
from codesign.spec import load_spec
from emulation.bundle import FirmwareBundle, _canonical_json
from helpers import TIGHT_SPEC, default_spec_dict

GOOD_LATENCY = {"quantiser": (1, 3200), "denoiser": (80, 3279), "clusterer": (300, 3479), "calibration": (3, 12),
                "trigger": (2, 10), "chain": (3564, 3564)}


# --------------------------------------------------------------------------- good inputs


def good_spec(tmp: Path, edit: Callable[[dict], None] | None = None, text: str | None = None) -> Path:
    path = tmp / "spec.yaml"
    if text is not None:
        path.write_text(text)
        return path
    data = default_spec_dict()
    if edit:
        edit(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def good_bundle(tmp: Path) -> Path:
    path = tmp / "bundle"
    shutil.copytree(DEFAULT_BUNDLE, path)
    return path


def edit_manifest(bundle: Path, edit: Callable[[dict], None], rehash: bool = True) -> None:
    """Edit manifest.json; with `rehash` the content hash is recomputed, so only the edit itself is wrong."""
    m = json.loads((bundle / "manifest.json").read_text())
    edit(m)
    if rehash:
        doc = {k: m.get(k) for k in ("format", "version", "geometry", "formats", "provenance")}
        doc["arrays"] = m.get("arrays")
        m["content_hash"] = hashlib.sha256(_canonical_json(doc).encode()).hexdigest()
    (bundle / "manifest.json").write_text(json.dumps(m))


def rewrite_npz(bundle: Path, edit: Callable[[dict[str, bytes]], None]) -> None:
    with zipfile.ZipFile(bundle / "arrays.npz") as z:
        members = {n: z.read(n) for n in z.namelist()}
    edit(members)
    with zipfile.ZipFile(bundle / "arrays.npz", "w") as z:
        for n, data in members.items():
            z.writestr(n, data)


def npy(arr: np.ndarray, shape: tuple | None = None) -> bytes:
    import io

    buf = io.BytesIO()
    if shape is None:
        np.lib.format.write_array(buf, arr)
    else:  # a header that declares `shape`, followed by too little data
        np.lib.format.write_array_header_1_0(buf, {"descr": arr.dtype.str, "fortran_order": False, "shape": shape})
        buf.write(arr.tobytes())
    return buf.getvalue()


def good_card() -> dict:
    shard = {"file": "qcd_0000.h5", "first_event": 0, "n_events": 10, "pythia_seed": 1, "content_sha256": "0" * 64}
    card = {"format": CARD_FORMAT, "seed": 0,
            "geometry": {"eta_bins": 50, "phi_bins": 64, "eta_max": 2.5, "layers": ["em", "had"]},
            "pileup": {"mu": 10.0, "events": 10, "process": "minbias", "shards": [dict(shard, file="minbias_0000.h5")]},
            "processes": {"qcd": {"code": 0, "role": "background", "events": 10, "shards": [shard]}}}
    return card


def write_card(tmp: Path, edit: Callable[[dict], None] | None = None, rehash: bool = True) -> Path:
    d = tmp / "data"
    d.mkdir(exist_ok=True)
    card = good_card()
    if edit:
        edit(card)
    if rehash and isinstance(card, dict):
        card["content_hash"] = content_hash(card)
    (d / "card.json").write_text(json.dumps(card))
    return d


def good_build(tmp: Path, latency: dict | None = None, spec: Path = DEFAULT_SPEC) -> Path:
    """A build directory as `codesign build` leaves it after the rtl_sim step (no simulation needed)."""
    out = tmp / "build"
    (out / "rtl" / "sim_icarus").mkdir(parents=True)
    bundle = FirmwareBundle.load(DEFAULT_BUNDLE)
    cfg = BuildConfig(spec=str(spec), bundle=str(DEFAULT_BUNDLE), target="xcvu13p", out=str(out), n_events=2,
                      simulators=("icarus",), rtl_events=1)
    manifest = {"config": cfg.stored(out), "spec_hash": load_spec(spec).spec_hash(),
                "bundle_hash": bundle.content_hash(), "part": "xcvu13p-flga2577-2-e", "steps": {}}
    (out / "build.json").write_text(json.dumps(manifest))
    blocks = {k: {"first_out": a, "last_out": b} for k, (a, b) in (latency or GOOD_LATENCY).items()}
    record = latency_record("icarus", 1, derive(load_spec(spec)).pixel_parallelism, blocks)
    (out / "rtl" / "sim_icarus" / "latency.json").write_text(json.dumps(record))
    return out


def edit_json(path: Path, edit: Callable[[object], object]) -> None:
    path.write_text(json.dumps(edit(json.loads(path.read_text()))))


def _set(obj: dict, dotted: str, value) -> dict:
    *head, last = dotted.split(".")
    for k in head:
        obj = obj[k]
    obj[last] = value
    return obj


# --------------------------------------------------------------------------- cases
# Each case: id -> function(tmp) returning the argv, and a fragment the error line must contain.

CASES: dict[str, tuple[Callable[[Path], list[str]], str]] = {}


def case(name: str, fragment: str = ""):
    def deco(fn: Callable[[Path], list[str]]):
        CASES[name] = (fn, fragment)
        return fn
    return deco


def spec_case(name: str, fragment: str, edit=None, text: str | None = None, cmd: tuple[str, ...] = ("spec", "validate")):
    CASES[name] = (lambda tmp: [*cmd, str(good_spec(tmp, edit, text))], fragment)


# ---- specs: files
case("spec-missing", "does not exist")(lambda tmp: ["spec", "validate", str(tmp / "nope.yaml")])


@case("spec-through-a-file", "Not a directory")
def _(tmp):
    (tmp / "f").write_text("x")
    return ["spec", "show", str(tmp / "f" / "spec.yaml")]


@case("spec-symlink-loop", "symbolic links")
def _(tmp):
    os.symlink(tmp / "loop.yaml", tmp / "loop.yaml")
    return ["spec", "validate", str(tmp / "loop.yaml")]


spec_case("spec-empty", "is empty", text="")
spec_case("spec-binary", "not UTF-8", text="\udcff")  # replaced below by bytes
spec_case("spec-yaml-syntax", "not valid YAML", text="name: [unclosed\n")
spec_case("spec-tab-indent", "not valid YAML", text="target:\n\tpart: x\n")
spec_case("spec-duplicate-top-key", 'duplicate key "name"',
          text=DEFAULT_SPEC.read_text() + "\nname: second\n")
spec_case("spec-duplicate-nested-key", 'duplicate key "clock_mhz"',
          text=DEFAULT_SPEC.read_text().replace("clock_mhz: 360", "clock_mhz: 360\n  clock_mhz: 240"))
spec_case("spec-deep-list", "nested too deeply", text="name: " + "[" * 50000 + "]" * 50000 + "\n")
spec_case("spec-deep-mapping", "nested too deeply", text="a: " + "{a: " * 50000 + "1" + "}" * 50000 + "\n")
spec_case("spec-top-list", "expected a mapping", text="- 1\n- 2\n")
spec_case("spec-top-scalar", "expected a mapping", text="42\n")
spec_case("spec-huge-file", "expected a YAML spec under", text="# " + "x" * (1 << 21) + "\n")
spec_case("spec-unhashable-key", "not a plain value", text="? [a, b]\n: 1\n")
spec_case("spec-alias-bomb", "expected",
          text="a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
               "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nname: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n")
# ---- specs: values
for key, value, frag in [
    ("name", "../../x", "name ="), ("name", "a/b", "name ="), ("name", "/tmp/abs", "name ="), ("name", "x" * 300, "name ="),
    ("name", 12, "name ="), ("name", ".hidden", "name ="),
    ("target.clock_mhz", "fast", "target.clock_mhz"), ("target.clock_mhz", -1, "target.clock_mhz"),
    ("target.clock_mhz", float("nan"), "target.clock_mhz"), ("target.clock_mhz", float("inf"), "target.clock_mhz"),
    ("target.part", "no-such-fpga", "target.part"), ("target.part", ["xcvu13p"], "target.part"),
    ("detector.eta_bins", 50.0, "detector.eta_bins"), ("detector.eta_bins", True, "detector.eta_bins"),
    ("detector.eta_bins", 49, "detector.eta_bins"), ("detector.phi_bins", 10**9, "detector.phi_bins"),
    ("detector.layers", ["had", "em"], "detector.layers"), ("detector.extra", 1, "unknown key"),
    ("bandwidth.link_tbps", 0.0001, "bandwidth.link_tbps"), ("bandwidth.link_tbps", "2", "bandwidth.link_tbps"),
    ("latency.denoise_us", 0.0001, "latency.denoise_us"), ("latency.denoise_us", 20, "latency.denoise_us"),
    ("latency.pipeline_overhead", -0.1, "latency.pipeline_overhead"),
    ("precision.cnn.bits", 99, "precision.cnn.bits"), ("precision.cnn.weight_int_bits", 10, "weight_int_bits"),
    ("precision.input_et.lsb_gev", 0.03, "lsb_gev"), ("precision.input_et.lsb_gev", -0.5, "lsb_gev"),
    ("precision.input_et.bits", "16", "precision.input_et.bits"),
    ("clusterer.window", 8, "clusterer.window"), ("clusterer.window", 99, "clusterer.window"),
    ("clusterer.n_clusters", 3, "clusterer.n_clusters"), ("calibration.abs_eta_bins", 7, "abs_eta_bins"),
    ("trigger.fpr", 0.9, "trigger.fpr"), ("trigger.objects", ["pt2"], "trigger.objects"),
    ("schema_version", 2, "schema_version"), ("x" * 5000, 1, "unknown key"),
]:
    spec_case(f"spec-value-{key[:30]}={str(value)[:12]}", frag, edit=lambda d, k=key, v=value: _set(d, k, v))


def _small(d: dict) -> None:
    d["detector"].update(eta_bins=8, phi_bins=8)
    d["clusterer"] = {"window": 3, "n_clusters": 64}
    d["calibration"]["abs_eta_bins"] = 1
    d["bandwidth"]["link_tbps"] = 8 * 40e6 * 128 / 1e12


spec_case("spec-64-clusters-on-8x8", "clusterer.n_clusters = 64", edit=_small)
spec_case("spec-missing-section", "target: missing required section", edit=lambda d: d.pop("target"))
spec_case("spec-missing-key", "precision.cnn.bits: missing", edit=lambda d: d["precision"]["cnn"].pop("bits"))
spec_case("spec-show-bad-value", "target.clock_mhz", edit=lambda d: _set(d, "target.clock_mhz", "x"),
          cmd=("spec", "show", "--json"))
spec_case("spec-for-bundle-random", "detector.eta_bins", edit=lambda d: _set(d, "detector.eta_bins", 7),
          cmd=("bundle", "random", "--out", "/nonexistent-not-used", "--spec"))

# ---- bundles
_BUNDLE_EDITS: dict[str, tuple[Callable[[Path], None], str]] = {
    "manifest-missing": (lambda b: (b / "manifest.json").unlink(), "manifest.json is missing"),
    "manifest-directory": (lambda b: ((b / "manifest.json").unlink(), (b / "manifest.json").mkdir()), "is a directory"),
    "manifest-garbage": (lambda b: (b / "manifest.json").write_text("{not json"), "not valid JSON"),
    "manifest-binary": (lambda b: (b / "manifest.json").write_bytes(b"\xff\xfe\x00"), "not UTF-8"),
    "manifest-list": (lambda b: (b / "manifest.json").write_text("[]"), "not a JSON object"),
    "manifest-deep": (lambda b: (b / "manifest.json").write_text("[" * 100000 + "]" * 100000), "nested too deeply"),
    "manifest-version": (lambda b: edit_manifest(b, lambda m: m.update(version=99)), "version 99"),
    "manifest-format": (lambda b: edit_manifest(b, lambda m: m.update(format="x")), "manifest format"),
    "seed-string": (lambda b: edit_manifest(b, lambda m: m["provenance"].update(seed="7")), "provenance.seed"),
    "seed-float": (lambda b: edit_manifest(b, lambda m: m["provenance"].update(seed=7.0)), "provenance.seed"),
    "spec-hash-number": (lambda b: edit_manifest(b, lambda m: m["provenance"].update(spec_hash=5)), "spec_hash"),
    "provenance-unknown-key": (lambda b: edit_manifest(b, lambda m: m["provenance"].update(extra=1)), "unknown key"),
    "packages-not-strings": (lambda b: edit_manifest(b, lambda m: m["provenance"].update(packages={"a": 1})),
                             "packages.a"),
    "geometry-float": (lambda b: edit_manifest(b, lambda m: m["geometry"].update(eta_bins=50.0)), "geometry.eta_bins"),
    "geometry-string": (lambda b: edit_manifest(b, lambda m: m["geometry"].update(phi_bins="64")), "geometry.phi_bins"),
    "geometry-missing": (lambda b: edit_manifest(b, lambda m: m.pop("geometry")), "geometry: missing"),
    "geometry-huge": (lambda b: edit_manifest(b, lambda m: m["geometry"].update(eta_bins=10**6, phi_bins=10**6)),
                      "pixels"),
    "format-width-string": (lambda b: edit_manifest(b, lambda m: m["formats"]["et_in"].update(width="16")),
                            "formats.et_in"),
    "format-int-bits-huge": (lambda b: edit_manifest(b, lambda m: m["formats"]["et_in"].update(int_bits=10**40)),
                             "int_bits"),
    "format-missing": (lambda b: edit_manifest(b, lambda m: m["formats"].pop("conv_acc")), "formats.conv_acc"),
    "hash-not-hex": (lambda b: edit_manifest(b, lambda m: m.update(content_hash="zz"), rehash=False), "content_hash"),
    "hash-mismatch": (lambda b: edit_manifest(b, lambda m: m["provenance"].update(seed=99), rehash=False),
                      "content hash mismatch"),
    "npz-missing": (lambda b: (b / "arrays.npz").unlink(), "arrays.npz is missing"),
    "npz-garbage": (lambda b: (b / "arrays.npz").write_bytes(b"PK\x03\x04garbage"), "truncated or corrupt"),
    "npz-truncated": (lambda b: (b / "arrays.npz").write_bytes((b / "arrays.npz").read_bytes()[:500]),
                      "truncated or corrupt"),
    "npz-huge-shape": (lambda b: rewrite_npz(b, lambda z: z.update({"trigger.thresholds.npy": npy(
        np.zeros(2, np.int64), shape=(10**12,))})), "declares shape"),
    "npz-float-array": (lambda b: rewrite_npz(b, lambda z: z.update({"trigger.thresholds.npy": npy(
        np.zeros(2, np.float64))})), "dtype"),
    "npz-extra-array": (lambda b: rewrite_npz(b, lambda z: z.update({"x.y.npy": npy(np.zeros(2, np.int64))})),
                        "unexpected array"),
    "npz-missing-array": (lambda b: rewrite_npz(b, lambda z: z.pop("trigger.thresholds.npy")), "trigger.thresholds"),
    "npz-not-npy-member": (lambda b: rewrite_npz(b, lambda z: z.update({"readme.txt": b"hi"})), "readme.txt"),
}
for _name, (_edit, _frag) in _BUNDLE_EDITS.items():
    def _bundle_case(tmp, edit=_edit):
        b = good_bundle(tmp)
        edit(b)
        return ["bundle", "show", str(b)]
    CASES[f"bundle-{_name}"] = (_bundle_case, _frag)

case("bundle-missing", "not a directory")(lambda tmp: ["bundle", "show", str(tmp / "none")])


@case("bundle-is-a-file", "not a directory")
def _(tmp):
    (tmp / "f").write_text("x")
    return ["bundle", "show", str(tmp / "f")]


@case("bundle-for-another-spec", "does not match spec")
def _(tmp):
    spec = good_spec(tmp, lambda d: _set(d, "precision.cnn.bits", 12))
    return ["bundle", "show", str(good_bundle(tmp)), "--spec", str(spec)]


@case("bundle-random-out-under-a-file", "/f")
def _(tmp):
    (tmp / "f").write_text("x")
    return ["bundle", "random", "--out", str(tmp / "f" / "b")]


@case("bundle-random-out-unwritable", "")
def _(tmp):
    ro = tmp / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    if os.access(ro, os.W_OK):  # root ignores permissions: write below /proc instead
        return ["bundle", "random", "--out", "/proc/codesign-test/b"]
    return ["bundle", "random", "--out", str(ro / "b")]


# ---- datasets and cards
_CARD_EDITS: dict[str, tuple[Callable[[dict], None], str, bool]] = {
    "geometry-missing": (lambda c: c.pop("geometry"), "geometry: missing", True),
    "eta-bins-string": (lambda c: c["geometry"].update(eta_bins="50"), "geometry.eta_bins", True),
    "events-string": (lambda c: c["processes"]["qcd"].update(events="10"), "processes.qcd.events", True),
    "events-negative": (lambda c: c["processes"]["qcd"].update(events=-1), "processes.qcd.events", True),
    "n-events-float": (lambda c: c["processes"]["qcd"]["shards"][0].update(n_events=1.5), "n_events", True),
    "shard-escapes": (lambda c: c["processes"]["qcd"]["shards"][0].update(file="../../etc/passwd"), "inside", True),
    "shard-absolute": (lambda c: c["processes"]["qcd"]["shards"][0].update(file="/etc/passwd"), "inside", True),
    "pool-shard-escapes": (lambda c: c["pileup"]["shards"][0].update(file="../x.h5"), "pileup.shards[0].file", True),
    "shards-not-list": (lambda c: c["processes"]["qcd"].update(shards={}), "shards", True),
    "role-unknown": (lambda c: c["processes"]["qcd"].update(role="both"), "role", True),
    "processes-empty": (lambda c: c.update(processes={}), "processes is empty", True),
    "mu-string": (lambda c: c["pileup"].update(mu="high"), "pileup.mu", True),
    "seed-negative": (lambda c: c.update(seed=-3), "seed", True),
    "sha-short": (lambda c: c["processes"]["qcd"]["shards"][0].update(content_sha256="abc"), "content_sha256", True),
    "wrong-format": (lambda c: c.update(format="other/9"), "not a codesign dataset card", True),
    "hash-edited": (lambda c: c.update(seed=5), "content hash", False),
}
for _name, (_edit, _frag, _rehash) in _CARD_EDITS.items():
    CASES[f"card-{_name}"] = ((lambda tmp, e=_edit, r=_rehash: ["data", "verify", str(write_card(tmp, e, r))]), _frag)


@case("card-not-json", "not valid JSON")
def _(tmp):
    d = write_card(tmp)
    (d / "card.json").write_text("{")
    return ["data", "verify", str(d)]


@case("card-is-directory", "")
def _(tmp):
    d = tmp / "data"
    (d / "card.json").mkdir(parents=True)
    return ["data", "verify", str(d)]


@case("card-deep", "nested too deeply")
def _(tmp):
    d = write_card(tmp)
    (d / "card.json").write_text("[" * 100000 + "]" * 100000)
    return ["data", "verify", str(d)]


case("dataset-missing", "not a directory")(lambda tmp: ["data", "verify", str(tmp / "none")])
case("dataset-no-card", "no card.json")(lambda tmp: ["data", "verify", str(tmp)])
case("emulate-card-escapes", "inside")(lambda tmp: [
    "emulate", "--bundle", str(DEFAULT_BUNDLE), "--out", str(tmp / "r.h5"),
    "--data", str(write_card(tmp, lambda c: c["processes"]["qcd"]["shards"][0].update(file="../o.h5")))])
case("emulate-bad-bundle", "not a directory")(lambda tmp: [
    "emulate", "--bundle", str(tmp / "none"), "--data", str(write_card(tmp)), "--out", str(tmp / "r.h5")])

# ---- build (fresh and resumed)
case("build-bundle-missing", "not a directory")(lambda tmp: [
    "build", "--bundle", str(tmp / "none"), "--out", str(tmp / "b")])
case("build-spec-bad", "target.clock_mhz")(lambda tmp: [
    "build", "--spec", str(good_spec(tmp, lambda d: _set(d, "target.clock_mhz", 0))), "--out", str(tmp / "b")])
case("build-target-unknown", "--target")(lambda tmp: ["build", "--target", "no-such-part", "--out", str(tmp / "b")])
case("build-sim-unknown", "--sim")(lambda tmp: ["build", "--sim", "modelsim", "--out", str(tmp / "b")])
case("build-steps-unknown", "--steps")(lambda tmp: ["build", "--steps", "events,fly", "--out", str(tmp / "b")])
case("build-events-zero", "--events")(lambda tmp: ["build", "--events", "0", "--out", str(tmp / "b")])


@case("build-out-under-a-file", "")
def _(tmp):
    (tmp / "f").write_text("x")
    return ["build", "--out", str(tmp / "f" / "b"), "--steps", "events"]


@case("build-resume-damaged-build-json", "build.json is not valid JSON")
def _(tmp):
    (tmp / "b").mkdir()
    (tmp / "b" / "build.json").write_text('{"config": ')
    return ["build", "--out", str(tmp / "b"), "--steps", "events"]


@case("build-resume-build-json-list", "expected an object")
def _(tmp):
    (tmp / "b").mkdir()
    (tmp / "b" / "build.json").write_text("[1, 2]")
    return ["build", "--out", str(tmp / "b"), "--steps", "events"]


@case("build-resume-steps-not-object", "steps")
def _(tmp):
    b = good_build(tmp)
    edit_json(b / "build.json", lambda m: {**m, "steps": [1]})
    return ["build", "--out", str(b), "--steps", "events"]


# ---- check-latency
def _latency_case(edit: Callable[[object], object]):
    def make(tmp):
        b = good_build(tmp)
        edit_json(b / "rtl" / "sim_icarus" / "latency.json", edit)
        return ["check-latency", "--spec", str(DEFAULT_SPEC), "--build", str(b)]
    return make


def _block(name: str, **kw):
    def edit(r):
        r["blocks"][name].update(kw)
        return r
    return edit


CASES.update({
    "latency-list": (_latency_case(lambda r: [r]), "expected an object"),
    "latency-negative-cycles": (_latency_case(_block("chain", last_out=-5, first_out=-5)), "blocks.chain"),
    "latency-string-cycles": (_latency_case(_block("denoiser", last_out="3279")), "blocks.denoiser.last_out"),
    "latency-float-cycles": (_latency_case(_block("denoiser", last_out=3279.5)), "blocks.denoiser.last_out"),
    "latency-last-before-first": (_latency_case(_block("clusterer", first_out=4000)), "last_out"),
    "latency-missing-block": (_latency_case(lambda r: (r["blocks"].pop("chain"), r)[1]), "blocks.chain: missing"),
    "latency-blocks-missing": (_latency_case(lambda r: {k: v for k, v in r.items() if k != "blocks"}), "blocks"),
    "latency-impossible-fast": (_latency_case(_block("chain", first_out=10, last_out=100)), "impossible"),
    "latency-other-p": (_latency_case(lambda r: {**r, "pixel_parallelism": 4}), "P = 4"),
    "latency-zero-events": (_latency_case(lambda r: {**r, "events": 0}), "events"),
})


@case("latency-garbage", "not valid JSON")
def _(tmp):
    b = good_build(tmp)
    (b / "rtl" / "sim_icarus" / "latency.json").write_text("\x00garbage")
    return ["check-latency", "--spec", str(DEFAULT_SPEC), "--build", str(b)]


case("check-latency-build-missing", "not a directory")(lambda tmp: [
    "check-latency", "--spec", str(DEFAULT_SPEC), "--build", str(tmp / "none")])
case("check-latency-not-a-build", "build.json is missing")(lambda tmp: [
    "check-latency", "--spec", str(DEFAULT_SPEC), "--build", str(tmp)])
case("check-latency-other-spec", "another spec")(lambda tmp: [
    "check-latency", "--spec", str(TIGHT_SPEC), "--build", str(good_build(tmp))])


def _build_json_case(edit: Callable[[dict], object], cmd: str = "check-latency"):
    def make(tmp):
        b = good_build(tmp)
        edit_json(b / "build.json", edit)
        if cmd == "report":
            return ["report", "--build", str(b), "--out", str(tmp / "rep")]
        return ["check-latency", "--spec", str(DEFAULT_SPEC), "--build", str(b)]
    return make


CASES.update({
    "build-json-garbage-hash": (_build_json_case(lambda m: {**m, "spec_hash": "x"}), "spec_hash"),
    "build-json-no-spec-hash": (_build_json_case(lambda m: {k: v for k, v in m.items() if k != "spec_hash"}),
                                "spec_hash: missing"),
    "build-json-list": (_build_json_case(lambda m: [m]), "expected an object"),
    "build-json-config-events-string": (_build_json_case(lambda m: {**m, "config": {**m["config"], "n_events": "x"}}),
                                        "n_events"),
    "build-json-config-unknown-key": (_build_json_case(lambda m: {**m, "config": {**m["config"], "zz": 1}}),
                                      "unknown key"),
    "build-json-config-missing": (_build_json_case(lambda m: {k: v for k, v in m.items() if k != "config"}),
                                  "config"),
    "report-build-json-garbage-hash": (_build_json_case(lambda m: {**m, "bundle_hash": 7}, "report"), "bundle_hash"),
    "report-other-bundle": (_build_json_case(lambda m: {**m, "bundle_hash": "ab" * 32}, "report"), "another bundle"),
    "report-other-spec": (_build_json_case(lambda m: {**m, "spec_hash": "cd" * 32}, "report"), "another spec"),
    "report-spec-gone": (_build_json_case(lambda m: {**m, "config": {**m["config"], "spec": "gone.yaml"}}, "report"),
                         "does not exist"),
    "report-csim-result-missing-keys": (_build_json_case(lambda m: {**m, "steps": {"csim": {
        "status": "done", "result": {"events": 3}}}}, "report"), "steps.csim.result.outputs"),
})


@case("report-not-a-build", "build.json is missing")
def _(tmp):
    return ["report", "--build", str(tmp), "--out", str(tmp / "rep")]


@case("report-mismatches-garbage", "not valid JSON")
def _(tmp):
    b = good_build(tmp)
    (b / "rtl" / "sim_icarus" / "mismatches.json").write_text("{{")
    return ["report", "--build", str(b), "--out", str(tmp / "rep")]


@case("report-run-missing", "")
def _(tmp):
    return ["report", "--build", str(good_build(tmp)), "--run", str(tmp / "norun"), "--out", str(tmp / "rep")]


@case("report-run-metrics-garbage", "metrics.json")
def _(tmp):
    run = tmp / "run"
    run.mkdir()
    (run / "metrics.json").write_text("nope")
    return ["report", "--build", str(good_build(tmp)), "--run", str(run), "--out", str(tmp / "rep")]


@case("report-out-under-a-file", "")
def _(tmp):
    (tmp / "f").write_text("x")
    return ["report", "--build", str(good_build(tmp)), "--out", str(tmp / "f" / "rep")]


# --------------------------------------------------------------------------- the test


def run(argv: list[str]):
    return CliRunner().invoke(main, argv, catch_exceptions=True)


def assert_one_error_line(result, fragment: str) -> None:
    out = result.output
    assert "Traceback" not in out, out[-3000:]
    assert result.exit_code == 2, (result.exit_code, out[-2000:], repr(result.exception))
    lines = out.strip().splitlines()
    errors = [ln for ln in lines if ln.startswith("error: ")]
    assert len(errors) == 1 and errors[0] == lines[-1], out[-2000:]
    assert len(errors[0]) <= 2000
    assert fragment in errors[0], (fragment, errors[0])


@pytest.mark.parametrize("name", sorted(CASES))
def test_malformed_input_gives_one_error_line(tmp_path, name):
    make, fragment = CASES[name]
    if name == "spec-binary":
        argv = ["spec", "validate", str(tmp_path / "bin.yaml")]
        (tmp_path / "bin.yaml").write_bytes(b"name: \xff\xfe\n")
    else:
        argv = make(tmp_path)
    assert_one_error_line(run(argv), fragment)


def test_there_are_at_least_100_cases_over_every_command():
    assert len(CASES) >= 100
    commands = {tuple(x for x in name.split("-")[:1]) for name in CASES}
    assert len(commands) >= 8


@pytest.mark.parametrize("argv", [["bundle", "random", "--seed", "-1", "--out", "x"], ["spec", "validate", "/"],
                                  ["build", "--seed", "-2"], ["data", "generate", "--preset", "tiny", "--out", "x",
                                                               "--workers", "0"],
                                  ["emulate", "--bundle", "b", "--data", "d", "--out", "o", "--batch-size", "0"]])
def test_click_usage_errors_keep_clicks_format(argv):
    result = run(argv)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "Error: Invalid value" in result.output or "is a directory" in result.output


def test_positive_controls(tmp_path):
    """The undamaged inputs pass, so every case above fails because of its own damage."""
    assert run(["spec", "validate", str(good_spec(tmp_path))]).exit_code == 0
    assert run(["bundle", "show", str(good_bundle(tmp_path))]).exit_code == 0
    b = good_build(tmp_path)
    res = run(["check-latency", "--spec", str(DEFAULT_SPEC), "--build", str(b)])
    assert res.exit_code == 0, res.output
    from codesign.data.card import read_card

    assert read_card(write_card(tmp_path))["seed"] == 0


def test_build_directory_works_from_another_working_directory(tmp_path, monkeypatch):
    b = good_build(tmp_path)
    elsewhere = tmp_path / "x" / "y"
    elsewhere.mkdir(parents=True)
    monkeypatch.chdir(elsewhere)
    res = run(["check-latency", "--spec", str(DEFAULT_SPEC), "--build", os.path.relpath(b, elsewhere)])
    assert res.exit_code == 0, res.output
    assert BuildConfig.load(Path(os.path.relpath(b, elsewhere))).spec.endswith("hl-lhc-multijet.yaml")
    assert Path(BuildConfig.load(b).spec).resolve() == DEFAULT_SPEC.resolve()
