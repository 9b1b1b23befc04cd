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
    card = {"format": CARD_FORMAT, "seed": 0, "truth_jets": {"max_jets": 16},
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


# ---- datasets: shards (written directly, no Pythia: a few milliseconds)


def micro_dataset(tmp: Path, n: int = 16, pool: int = 8) -> Path:
    """A valid dataset of the default spec's geometry: one background, one signal process and a pile-up pool."""
    from codesign.data.card import write_card as write_dataset_card
    from codesign.data.detector import Geometry
    from codesign.data.shards import write_shard

    d = tmp / "micro"
    d.mkdir()
    g = Geometry(50, 64, 2.5)
    rng = np.random.default_rng(0)
    common = {"dataset_seed": 0, "first_event": 0, "pythia_seed": 1,
              "geometry": json.dumps(g.to_json(), sort_keys=True)}

    def shard(file: str, arrays: dict, **attrs) -> dict:
        digest = write_shard(d / file, arrays, {**common, **attrs})
        return {"file": file, "first_event": 0, "n_events": attrs["n_events"], "pythia_seed": 1,
                "content_sha256": digest}

    pool_arrays = {"offsets": np.arange(0, 3 * pool + 1, 3, dtype=np.int64),
                   "cell": rng.integers(0, g.n_cells, 3 * pool).astype(np.uint16),
                   "et": rng.random(3 * pool, dtype=np.float32)}
    card = {"format": CARD_FORMAT, "seed": 0, "geometry": g.to_json(), "truth_jets": {"max_jets": 16},
            "pileup": {"mu": 2.0, "events": pool, "process": "minbias",
                       "shards": [shard("minbias_0000.h5", pool_arrays, kind="pool", process="minbias",
                                        n_events=pool, mu=0.0, pool_size=0)]},
            "processes": {}}
    for code, (name, role) in enumerate((("qcd", "background"), ("ZH_nnbb", "signal"))):
        image = np.zeros((n, *g.image_shape), np.float32)
        image[:, 0, 25, 32] = rng.random(n, dtype=np.float32) * 100
        arrays = {"image_mu0": image, "jets": np.zeros((n, 16, 4), np.float32), "n_jets": np.zeros(n, np.int32),
                  "weight": np.ones(n, np.float32), "event_id": np.arange(n, dtype=np.int64),
                  "frozen_offsets": np.arange(0, 2 * n + 1, 2, dtype=np.int64),
                  "frozen_pool_index": rng.integers(0, pool, 2 * n).astype(np.int32)}
        entry = shard(f"{name}_0000.h5", arrays, kind="events", process=name, n_events=n, mu=2.0, pool_size=pool)
        card["processes"][name] = {"code": code, "role": role, "events": n, "shards": [entry]}
    write_dataset_card(d, card)
    return d


def edit_shard(path: Path, edit: Callable) -> None:
    import h5py

    with h5py.File(path, "r+") as f:
        edit(f)


def _replace(name: str, data) -> Callable:
    def edit(f) -> None:
        del f[name]
        if data is not None:
            f.create_dataset(name, data=data)
    return edit


def _set_attr(key: str, value) -> Callable:
    def edit(f) -> None:
        if value is None:
            del f.attrs[key]
        else:
            f.attrs[key] = value
    return edit


_SHARD_EDITS: dict[str, tuple[str, Callable, str]] = {
    "image-other-shape": ("qcd", _replace("image_mu0", np.zeros((16, 2, 50, 63), np.float32)), "image_mu0"),
    "image-float64": ("qcd", _replace("image_mu0", np.zeros((16, 2, 50, 64))), "expected float32 (16, 2, 50, 64)"),
    "image-too-few-events": ("ZH_nnbb", _replace("image_mu0", np.zeros((3, 2, 50, 64), np.float32)), "image_mu0"),
    "jets-3-columns": ("qcd", _replace("jets", np.zeros((16, 16, 3), np.float32)), "jets"),
    "n-jets-missing": ("qcd", _replace("n_jets", None), "n_jets is missing"),
    "event-id-a-group": ("qcd", lambda f: (f.__delitem__("event_id"), f.create_group("event_id")), "event_id"),
    "weight-2d": ("qcd", _replace("weight", np.ones((16, 1), np.float32)), "weight"),
    "frozen-offsets-short": ("qcd", _replace("frozen_offsets", np.arange(16, dtype=np.int64)), "frozen_offsets"),
    "frozen-offsets-falling": ("qcd", _replace("frozen_offsets", np.r_[0, 5, 3, np.arange(6, 34, 2)]
                                              .astype(np.int64)), "frozen_offsets must rise"),
    "pool-cell-int32": ("minbias", _replace("cell", np.zeros(24, np.int32)), "cell is int32"),
    "pool-et-short": ("minbias", _replace("et", np.zeros(5, np.float32)), "et is float32 (5,)"),
    "attr-kind-number": ("qcd", _set_attr("kind", 5), "attribute kind"),
    "attr-kind-unknown": ("qcd", _set_attr("kind", "photons"), "attribute kind"),
    "attr-n-events-string": ("qcd", _set_attr("n_events", "16"), "attribute n_events"),
    "attr-geometry-garbage": ("qcd", _set_attr("geometry", "{nope"), "attribute geometry"),
    "attr-geometry-missing": ("ZH_nnbb", _set_attr("geometry", None), "attribute geometry"),
    "attr-geometry-other": ("qcd", _set_attr("geometry", json.dumps(
        {"eta_bins": 50, "phi_bins": 64, "eta_max": 3.0, "layers": ["em", "had"]})), "different calorimeter"),
    "attr-format-missing": ("qcd", _set_attr("format", None), "not a codesign shard"),
    "attr-process-other": ("qcd", _set_attr("process", "ttbar"), "process is 'ttbar'"),
}
def _edited_micro(tmp: Path, file: str, edit: Callable) -> Path:
    d = micro_dataset(tmp)
    edit_shard(d / f"{file}_0000.h5", edit)
    return d


for _name, (_file, _edit, _frag) in _SHARD_EDITS.items():
    CASES[f"shard-{_name}"] = ((lambda tmp, file=_file, edit=_edit: ["data", "verify", str(_edited_micro(
        tmp, file, edit))]), _frag)


@case("shard-truncated", "truncated or corrupt")
def _(tmp):
    d = micro_dataset(tmp)
    p = d / "qcd_0000.h5"
    p.write_bytes(p.read_bytes()[:3000])
    return ["data", "verify", str(d)]


@case("shard-a-directory", "qcd_0000.h5 is missing")
def _(tmp):
    d = micro_dataset(tmp)
    (d / "qcd_0000.h5").unlink()
    (d / "qcd_0000.h5").mkdir()
    return ["data", "verify", str(d)]


@case("shard-pool-index-outside-the-pool", "frozen_pool_index holds")
def _(tmp):
    d = micro_dataset(tmp)
    edit_shard(d / "ZH_nnbb_0000.h5", _replace("frozen_pool_index", np.full(32, 8, np.int32)))
    return ["data", "inspect", str(d), "--out", str(tmp / "x.png")]


@case("shard-pool-cell-outside-the-calorimeter", "outside the calorimeter")
def _(tmp):
    d = micro_dataset(tmp)
    edit_shard(d / "minbias_0000.h5", _replace("cell", np.full(24, 60000, np.uint16)))
    return ["data", "inspect", str(d), "--out", str(tmp / "x.png")]


CASES.update({
    "card-truth-jets-missing": ((lambda tmp: ["data", "verify", str(write_card(
        tmp, lambda c: c.pop("truth_jets")))]), "truth_jets: missing"),
    "card-max-jets-string": ((lambda tmp: ["data", "verify", str(write_card(
        tmp, lambda c: c["truth_jets"].update(max_jets="16")))]), "truth_jets.max_jets"),
    "shard-jets-wider-than-the-card": ((lambda tmp: ["data", "verify", str(_edited_micro(
        tmp, "ZH_nnbb", _replace("jets", np.zeros((16, 20, 4), np.float32))))]), "truth_jets.max_jets is 16"),
    "card-three-layers": ((lambda tmp: ["data", "verify", str(write_card(
        tmp, lambda c: c["geometry"].update(layers=["em", "had", "hcal2"])))]), "geometry.layers"),
    "inspect-unknown-process": ((lambda tmp: ["data", "inspect", str(micro_dataset(tmp)), "--out", str(tmp / "x.png"),
                                              "--process", "WW"]), "process 'WW'"),
    "inspect-event-beyond": ((lambda tmp: ["data", "inspect", str(micro_dataset(tmp)), "--out", str(tmp / "x.png"),
                                           "--event", "999"]), "event 999"),
    "inspect-event-negative": ((lambda tmp: ["data", "inspect", str(micro_dataset(tmp)), "--out", str(tmp / "x.png"),
                                             "--event", "-1"]), "event -1"),
    "inspect-dataset-missing": ((lambda tmp: ["data", "inspect", str(tmp / "none"), "--out", str(tmp / "x.png")]),
                                "not a directory"),
})


@case("inspect-out-under-a-file", "--out")
def _(tmp):
    (tmp / "f").write_text("x")
    return ["data", "inspect", str(micro_dataset(tmp)), "--out", str(tmp / "f" / "x.png")]


# ---- crosscheck-hls4ml (every case fails before hls4ml is imported)
def _crosscheck(tmp: Path, bundle: Path | None = None, *extra: str) -> list[str]:
    return ["crosscheck-hls4ml", "--bundle", str(bundle or DEFAULT_BUNDLE), "--out", str(tmp / "hls"), *extra]


@case("crosscheck-bundle-garbage", "not valid JSON")
def _(tmp):
    b = good_bundle(tmp)
    (b / "manifest.json").write_text("{")
    return _crosscheck(tmp, b)


case("crosscheck-bundle-missing", "not a directory")(lambda tmp: _crosscheck(tmp, tmp / "none"))
case("crosscheck-json-in-missing-folder", "--json")(lambda tmp: _crosscheck(
    tmp, None, "--json", str(tmp / "none" / "r.json")))


@case("crosscheck-out-under-a-file", "--out")
def _(tmp):
    (tmp / "f").write_text("x")
    return ["crosscheck-hls4ml", "--bundle", str(DEFAULT_BUNDLE), "--out", str(tmp / "f" / "hls")]


# ---- training runs (train resumes them, export reads them): made by hand, no training
TRAIN_ARGS = ("--mode", "e2e", "--steps", "2", "--batch-size", "8")


def good_run(tmp: Path, status: str = "started", data: Path | None = None) -> Path:
    """A run directory as `codesign train` leaves it, for the micro dataset; a final model when `status` is trained."""
    from codesign import __version__
    from codesign.data.card import read_card
    from codesign.train.config import TrainConfig
    from codesign.train.rundir import RUN_FORMAT

    data = data or micro_dataset(tmp)
    run = tmp / "run"
    run.mkdir()
    spec = load_spec(DEFAULT_SPEC)
    shutil.copy(DEFAULT_SPEC, run / "spec.yaml")
    config = TrainConfig(spec=str(DEFAULT_SPEC), data=str(data), mode="e2e", steps=2, batch_size=8)
    (run / "run.json").write_text(json.dumps({
        "format": RUN_FORMAT, "config": config.to_json(), "spec_name": spec.name, "spec_hash": spec.spec_hash(),
        "dataset_hash": read_card(data)["content_hash"], "codesign_version": __version__, "status": status}))
    (run / "history.json").write_text(json.dumps([{"stage": "e2e", "stage_index": 0, "epoch": 0}]))
    write_checkpoint(run / "ckpt" / "last", manager=True)
    write_checkpoint(run / "ckpt" / "best", manager=True)
    if status == "trained":
        write_checkpoint(run / "model")
    return run


def write_checkpoint(folder: Path, manager: bool = False) -> None:
    """A small TensorFlow checkpoint: as CheckpointManager writes ckpt/*, or as RUN/model/weights."""
    import tensorflow as tf

    ckpt = tf.train.Checkpoint(v=tf.Variable(tf.zeros([64])))
    if manager:
        tf.train.CheckpointManager(ckpt, str(folder), max_to_keep=1).save()
    else:
        ckpt.write(str(folder / "weights"))


def _flip_data(folder: Path) -> None:
    data = next(folder.glob("*.data-*"))
    raw = bytearray(data.read_bytes())
    raw[8] ^= 0xFF
    data.write_bytes(bytes(raw))


def _run_case(edit: Callable[[Path], None], cmd: str = "train", status: str = "started"):
    def make(tmp):
        run = good_run(tmp, status)
        edit(run)
        if cmd == "export":
            return ["export", "--run", str(run), "--out", str(tmp / "bundle")]
        return ["train", "--data", str(tmp / "micro"), "--out", str(run), *TRAIN_ARGS]
    return make


def _run_json(edit: Callable[[dict], object]) -> Callable[[Path], None]:
    return lambda run: edit_json(run / "run.json", edit)


def _config(**kw) -> Callable[[Path], None]:
    return _run_json(lambda d: {**d, "config": {**d["config"], **kw}})


def _drop_config(key: str) -> Callable[[Path], None]:
    return _run_json(lambda d: {**d, "config": {k: v for k, v in d["config"].items() if k != key}})


_RUN_EDITS: dict[str, tuple[Callable[[Path], None], str]] = {
    "run-json-garbage": (lambda r: (r / "run.json").write_text('{"format": '), "run.json is not valid JSON"),
    "run-json-binary": (lambda r: (r / "run.json").write_bytes(b"\xff\xfe{"), "not UTF-8"),
    "run-json-list": (_run_json(lambda d: [d]), "expected a codesign-train-run/1"),
    "run-json-directory": (lambda r: ((r / "run.json").unlink(), (r / "run.json").mkdir()), "is a directory"),
    "run-json-deep": (lambda r: (r / "run.json").write_text("[" * 100000 + "]" * 100000), "nested too deeply"),
    "run-json-other-format": (_run_json(lambda d: {**d, "format": "x/2"}), "format = \"x/2\""),
    "run-json-no-config": (_run_json(lambda d: {k: v for k, v in d.items() if k != "config"}), "config: missing"),
    "run-json-config-string": (_run_json(lambda d: {**d, "config": "e2e"}), "run.json.config"),
    "run-json-spec-hash-number": (_run_json(lambda d: {**d, "spec_hash": 5}), "spec_hash = 5"),
    "run-json-dataset-hash-short": (_run_json(lambda d: {**d, "dataset_hash": "abc"}), "dataset_hash"),
    "run-json-status-missing": (_run_json(lambda d: {k: v for k, v in d.items() if k != "status"}), "status: missing"),
    "run-config-seed-string": (_config(seed="0"), "config.seed"),
    "run-config-batch-float": (_config(batch_size=8.0), "config.batch_size"),
    "run-config-steps-bool": (_config(steps=True), "config.steps"),
    "run-config-unknown-key": (_config(learning_rate=1.0), "config.learning_rate: unknown key"),
    "run-config-mode-missing": (_drop_config("mode"), "config.mode: missing"),
    "run-config-mode-unknown": (_config(mode="magic"), "config: --mode 'magic'"),
    "run-config-batch-zero": (_config(batch_size=0), "config: --batch-size 0"),
    "history-garbage": (lambda r: (r / "history.json").write_text("[{"), "history.json is not valid JSON"),
    "history-object": (lambda r: (r / "history.json").write_text("{}"), "expected a list of epochs"),
    "history-epoch-missing": (lambda r: (r / "history.json").write_text('[{"stage_index": 0}]'), "[0].epoch: missing"),
    "history-epoch-negative": (lambda r: (r / "history.json").write_text('[{"stage_index": 0, "epoch": -1}]'),
                               "[0].epoch = -1"),
    "history-a-directory": (lambda r: ((r / "history.json").unlink(), (r / "history.json").mkdir()), "is a directory"),
    "ckpt-last-state-garbage": (lambda r: (r / "ckpt" / "last" / "checkpoint").write_text("{{{"),
                                "ckpt/last has no readable checkpoint"),
    "ckpt-last-index-gone": (lambda r: next((r / "ckpt" / "last").glob("*.index")).unlink(),
                             "ckpt/last has no readable checkpoint"),
    "ckpt-last-data-flipped": (lambda r: _flip_data(r / "ckpt" / "last"), "ckpt/last is damaged"),
    "ckpt-best-data-truncated": (lambda r: next((r / "ckpt" / "best").glob("*.data-*")).write_bytes(b"x"),
                                 "ckpt/best is damaged"),
    "ckpt-best-a-file": (lambda r: (shutil.rmtree(r / "ckpt" / "best"), (r / "ckpt" / "best").write_text("x")),
                         "ckpt/best is not a directory"),
}
for _name, (_edit, _frag) in _RUN_EDITS.items():
    CASES[f"train-resume-{_name}"] = (_run_case(_edit), _frag)
for _name in ("run-json-garbage", "run-json-list", "run-json-no-config", "run-config-seed-string",
              "run-config-unknown-key", "run-json-dataset-hash-short"):
    CASES[f"export-{_name}"] = (_run_case(_RUN_EDITS[_name][0], "export", "trained"), _RUN_EDITS[_name][1])

CASES.update({
    "export-not-finished": (_run_case(lambda r: None, "export", "started"), "has not finished training"),
    "export-model-missing": (_run_case(lambda r: shutil.rmtree(r / "model"), "export", "trained"),
                             "model/weights.index is missing"),
    "export-model-a-file": (_run_case(lambda r: (shutil.rmtree(r / "model"), (r / "model").write_text("x")),
                                      "export", "trained"), "model/weights.index is missing"),
    "export-model-data-flipped": (_run_case(lambda r: _flip_data(r / "model"), "export", "trained"),
                                  "model/weights is damaged"),
    "export-model-index-garbage": (_run_case(lambda r: (r / "model" / "weights.index").write_bytes(b"junk"),
                                             "export", "trained"), "model/weights is damaged"),
    "export-spec-copy-edited": (_run_case(lambda r: (r / "spec.yaml").write_text(
        (r / "spec.yaml").read_text().replace("clock_mhz: 360", "clock_mhz: 240")), "export", "trained"),
        "the run directory was edited"),
    "export-spec-copy-garbage": (_run_case(lambda r: (r / "spec.yaml").write_text("name: [x"), "export", "trained"),
                                 "spec.yaml"),
})
case("export-run-missing", "not a directory")(lambda tmp: [
    "export", "--run", str(tmp / "none"), "--out", str(tmp / "b")])
case("export-not-a-run", "run.json is missing")(lambda tmp: ["export", "--run", str(tmp), "--out", str(tmp / "b")])


@case("train-out-is-a-file", "--out")
def _(tmp):
    (tmp / "f").write_text("x")
    return ["train", "--data", str(micro_dataset(tmp)), "--out", str(tmp / "f"), *TRAIN_ARGS]



# ---- sweep (every case fails before any point runs)
def _sweep(tmp: Path, *args: str, data: Path | None = None) -> list[str]:
    return ["sweep", "--data", str(data or micro_dataset(tmp)), "--out", str(tmp / "sweep"), "--train-steps", "2", *args]


for _name, _vary, _frag in [
    ("unknown-key", "precision.cnn.bitz=8,10", "precision.cnn.bitz: unknown key"),
    ("unknown-section", "precison.cnn.bits=8", "precison: unknown key"),
    ("key-through-a-value", "bandwidth.link_tbps.x=1", "bandwidth.link_tbps is a value, not a section"),
    ("wrong-type-string", "precision.cnn.bits=8,ten", 'precision.cnn.bits = "ten": expected an integer'),
    ("wrong-type-float", "precision.cnn.bits=8.5", "precision.cnn.bits = 8.5: expected an integer"),
    ("wrong-type-bool", "bandwidth.link_tbps=true", "bandwidth.link_tbps = true"),
    ("out-of-range", "precision.cnn.bits=8,40", "precision.cnn.bits = 40"),
    ("empty-product", "precision.cnn.bits=", "empty value list"),
    ("empty-value", "precision.cnn.bits=8,,10", "empty value list"),
    ("no-equals", "precision.cnn.bits", "expected KEY=V1,V2"),
    ("repeated-value", "precision.cnn.bits=8,8", "repeated"),
]:
    CASES[f"sweep-{_name}"] = ((lambda tmp, v=_vary: _sweep(tmp, "--vary", v)), _frag)
CASES.update({
    "sweep-nothing-to-sweep": ((lambda tmp: _sweep(tmp)), "nothing to sweep"),
    "sweep-vary-and-points": ((lambda tmp: _sweep(tmp, "--vary", "precision.cnn.bits=8", "--points",
                                                  str(DEFAULT_SPEC))), "not both"),
    "sweep-key-twice": ((lambda tmp: _sweep(tmp, "--vary", "precision.cnn.bits=8", "--vary", "precision.cnn.bits=10")),
                        "varied twice"),
    "sweep-points-missing": ((lambda tmp: _sweep(tmp, "--points", str(tmp / "none.yaml"))), "does not exist"),
    "sweep-points-not-a-list": ((lambda tmp: _sweep(tmp, "--points", str(DEFAULT_SPEC))), "expected a non-empty list"),
    "sweep-points-empty-list": ((lambda tmp: (tmp / "p.yaml").write_text("[]") and _sweep(
        tmp, "--points", str(tmp / "p.yaml"))), "expected a non-empty list"),
    "sweep-points-unknown-key": ((lambda tmp: (tmp / "p.yaml").write_text("- {precision.cnn.bitz: 8}\n") and _sweep(
        tmp, "--points", str(tmp / "p.yaml"))), "unknown key"),
    "sweep-mode-unknown": ((lambda tmp: _sweep(tmp, "--vary", "precision.cnn.bits=8", "--mode", "magic")), "--mode"),
    "sweep-train-steps-zero": ((lambda tmp: _sweep(tmp, "--vary", "precision.cnn.bits=8", "--train-steps", "0")),
                               "--train-steps 0"),
    "sweep-rtl-events-above-events": ((lambda tmp: _sweep(tmp, "--vary", "precision.cnn.bits=8", "--events", "2",
                                                          "--rtl-events", "3")), "--rtl-events 3"),
    "sweep-simulator-unknown": ((lambda tmp: _sweep(tmp, "--vary", "precision.cnn.bits=8", "--sim", "modelsim")),
                                "--sim 'modelsim'"),
    "sweep-objective-bad": ((lambda tmp: _sweep(tmp, "--vary", "precision.cnn.bits=8", "--objective", "ZH_nnbb")),
                            "expected SIGNAL:TRIGGER"),
    "sweep-objective-unknown-signal": ((lambda tmp: _sweep(tmp, "--vary", "precision.cnn.bits=8", "--objective",
                                                           "ggHH_4b:pt1")), "signal 'ggHH_4b' is not in dataset"),
    "sweep-data-missing": ((lambda tmp: _sweep(tmp, "--vary", "precision.cnn.bits=8", data=tmp / "none")),
                           "not a directory"),
    "sweep-base-spec-broken": ((lambda tmp: _sweep(tmp, "--vary", "precision.cnn.bits=8", "--spec", str(
        good_spec(tmp, text="name: [x\n")))), "not valid YAML"),
    "sweep-dask-scheduler-bad": ((lambda tmp: _sweep(tmp, "--vary", "precision.cnn.bits=8", "--dask-scheduler",
                                                     "nonsense://x")), "dask scheduler nonsense://x: cannot connect"),
    "sweep-base-run-not-finished": ((lambda tmp: _sweep(tmp, "--vary", "precision.cnn.bits=8", "--from-run", str(
        good_run(tmp, "started")), data=tmp / "micro")), "has not finished training"),
    "sweep-base-run-not-a-run": ((lambda tmp: _sweep(tmp, "--vary", "precision.cnn.bits=8", "--from-run", str(tmp))),
                                 "run.json is missing"),
})


@case("sweep-base-run-of-another-dataset", "was trained on dataset ffffffffffff, not on --data")
def _(tmp):
    run_dir = good_run(tmp, "trained")
    edit_json(run_dir / "run.json", lambda d: {**d, "dataset_hash": "f" * 64})
    return _sweep(tmp, "--vary", "precision.cnn.bits=8", "--from-run", str(run_dir), data=tmp / "micro")


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
                                  ["data", "generate", "--preset", "tiny", "--out", "x", "--seed", "-1"],
                                  ["crosscheck-hls4ml", "--bundle", "b", "--out", "o", "--seed", "-1"],
                                  ["emulate", "--bundle", "b", "--data", "d", "--out", "o", "--batch-size", "0"],
                                  ["train", "--data", "d", "--mode", "e2e", "--out", "o", "--pileup-draws", "-1"]])
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


def test_positive_controls_of_datasets_and_runs(tmp_path):
    """The micro dataset verifies and reads with frozen pile-up; the hand-made run passes every run check."""
    from codesign.data.reader import Dataset
    from codesign.train.rundir import RunDir

    run_dir = good_run(tmp_path, "trained")
    res = run(["data", "verify", str(tmp_path / "micro")])
    assert res.exit_code == 0, res.output
    ds = Dataset(tmp_path / "micro")
    assert min(ds.count(s) for s in ("train", "val", "test")) > 0 and ds.signal_processes and ds.background_processes
    assert next(ds.batches("test", 4, pileup="frozen"))["image"].shape == (4, 2, 50, 64)
    rd = RunDir(run_dir)
    assert rd.config().batch_size == 8
    rd.check_resume()
    rd.check_model()
    res = run(["sweep", "--data", str(tmp_path / "micro"), "--out", str(tmp_path / "sweep"), "--from-run", str(run_dir),
               "--vary", "precision.cnn.bits=6"])  # the sweep cases' inputs pass: one infeasible point, nothing to train
    assert res.exit_code == 0 and "infeasible" in res.output, res.output


def test_build_directory_works_from_another_working_directory(tmp_path, monkeypatch):
    b = good_build(tmp_path)
    elsewhere = tmp_path / "x" / "y"
    elsewhere.mkdir(parents=True)
    monkeypatch.chdir(elsewhere)
    res = run(["check-latency", "--spec", str(DEFAULT_SPEC), "--build", os.path.relpath(b, elsewhere)])
    assert res.exit_code == 0, res.output
    assert BuildConfig.load(Path(os.path.relpath(b, elsewhere))).spec.endswith("hl-lhc-multijet.yaml")
    assert Path(BuildConfig.load(b).spec).resolve() == DEFAULT_SPEC.resolve()
