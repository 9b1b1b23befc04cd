"""FirmwareBundle: lossless round trip, stable content hash, corrupt and mismatched bundles rejected."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from click.testing import CliRunner

from codesign.bundles import check_bundle_matches, random_bundle
from codesign.cli import main
from codesign.derived import derive
from codesign.errors import BundleError
from codesign.paths import DEFAULT_SPEC
from codesign.spec import load_spec, parse_spec
from emulation.bundle import FirmwareBundle, from_manifest
from helpers import TIGHT_SPEC, default_spec_dict

# The content hash of random_bundle(default spec, seed 0). It pins the hash definition: a change
# here means every existing bundle changes identity (bump emulation.bundle.BUNDLE_VERSION then).
GOLDEN_HASH = "4a3e24708192f6f04ea0500eff8771a9c4a873fdb4462c46e0db246316aab409"


@pytest.fixture(scope="module")
def derived():
    return derive(load_spec(DEFAULT_SPEC))


@pytest.fixture()
def saved(tmp_path, derived):
    b = random_bundle(derived, seed=0)
    b.save(tmp_path / "b")
    return tmp_path / "b"


def test_round_trip_is_lossless(saved, derived):
    original = random_bundle(derived, seed=0)
    loaded = FirmwareBundle.load(saved)
    assert loaded.geometry == original.geometry
    assert loaded.formats == original.formats
    assert loaded.provenance == original.provenance
    for name, arr in original.arrays().items():
        assert np.array_equal(loaded.arrays()[name], arr), name
        assert loaded.arrays()[name].shape == arr.shape
    assert loaded.content_hash() == original.content_hash()


def test_hash_is_stable_across_runs_and_processes(derived, tmp_path):
    assert random_bundle(derived, 0).content_hash() == GOLDEN_HASH
    code = ("from codesign.bundles import random_bundle; from codesign.derived import derive; "
            "from codesign.spec import load_spec; from codesign.paths import DEFAULT_SPEC; "
            "print(random_bundle(derive(load_spec(DEFAULT_SPEC)), 0).content_hash())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONHASHSEED": "123", "PATH": ""}).stdout.strip()
    assert out == GOLDEN_HASH
    assert random_bundle(derived, 1).content_hash() != GOLDEN_HASH


def test_saved_files_are_byte_identical(derived, tmp_path):
    random_bundle(derived, 3).save(tmp_path / "a")
    random_bundle(derived, 3).save(tmp_path / "b")
    for f in ("manifest.json", "arrays.npz"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()


def test_save_overwrites_atomically(derived, tmp_path):
    random_bundle(derived, 1).save(tmp_path / "b")
    random_bundle(derived, 2).save(tmp_path / "b")
    assert FirmwareBundle.load(tmp_path / "b").provenance.seed == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]


def _rewrite_manifest(path, edit):
    m = json.loads((path / "manifest.json").read_text())
    edit(m)
    (path / "manifest.json").write_text(json.dumps(m))


def _load_error(path) -> str:
    with pytest.raises(BundleError) as exc:
        FirmwareBundle.load(path)
    return str(exc.value)


def test_truncated_arrays_rejected(saved):
    data = (saved / "arrays.npz").read_bytes()
    (saved / "arrays.npz").write_bytes(data[: len(data) // 2])
    assert "truncated or corrupt" in _load_error(saved)


def test_missing_files_rejected(saved):
    (saved / "arrays.npz").unlink()
    assert "arrays.npz is missing" in _load_error(saved)
    (saved / "manifest.json").unlink()
    assert "manifest.json is missing" in _load_error(saved)


def test_garbage_manifest_rejected(saved):
    (saved / "manifest.json").write_text("{not json")
    assert "not valid JSON" in _load_error(saved)


def test_edited_array_fails_hash(saved):
    with np.load(saved / "arrays.npz") as z:
        arrays = {k: z[k] for k in z.files}
    arrays["trigger.thresholds"] = arrays["trigger.thresholds"] + 1
    np.savez(saved / "arrays.npz", **arrays)
    assert "content hash mismatch" in _load_error(saved)


def test_edited_manifest_fails_hash(saved):
    _rewrite_manifest(saved, lambda m: m["provenance"].update(seed=99))
    assert "content hash mismatch" in _load_error(saved)


@pytest.mark.parametrize("edit,fragment", [
    (lambda m: m.update(format="other"), "manifest format"),
    (lambda m: m.update(version=99), "version 99"),
    (lambda m: m.pop("geometry"), "manifest.geometry: missing"),
    (lambda m: m["formats"].update(conv_w={"width": 99, "int_bits": 1, "signed": True}), "formats.conv_w: fixed-point width 99"),
])
def test_bad_manifest_fields(saved, edit, fragment):
    _rewrite_manifest(saved, edit)
    assert fragment in _load_error(saved)


def _with(bundle, block, **fields):
    return dataclasses.replace(bundle, **{block: dataclasses.replace(getattr(bundle, block), **fields)})


def test_invariants(derived):
    b = random_bundle(derived, 0)
    lut = b.calibration.lut.copy()
    lut[2, 100] = lut[2, 99] - 1
    with pytest.raises(BundleError, match=r"calibration.lut is not monotone non-decreasing in cluster pT: "
                                          r"calibration.lut\[2, 100\]"):
        _with(b, "calibration", lut=lut).validate()
    thr = b.quantiser.thresholds.copy()
    thr[1, 5] = thr[1, 4] - 1
    with pytest.raises(BundleError, match="quantiser.thresholds is not monotone"):
        _with(b, "quantiser", thresholds=thr).validate()
    big = b.cnn.dense2_w.copy()
    big[0, 0] = 600
    with pytest.raises(BundleError, match=r"cnn.dense2_w has values .* outside ap_fixed<10,1>"):
        _with(b, "cnn", dense2_w=big).validate()
    with pytest.raises(BundleError, match="shape"):
        _with(b, "cnn", dense1_b=b.cnn.dense1_b[:5]).validate()
    with pytest.raises(BundleError, match="not an integer array"):
        _with(b, "trigger", thresholds=b.trigger.thresholds.astype(float)).validate()
    with pytest.raises(BundleError, match="window_mask"):
        mask = b.clusterer.window_mask.copy()
        mask[0, 4] = 0
        _with(b, "clusterer", window_mask=mask).validate()


def test_spec_mismatch(derived):
    b = random_bundle(derived, 0)
    check_bundle_matches(b, derived)
    check_bundle_matches(b, derive(load_spec(TIGHT_SPEC)))  # same numerics, different latency: fine
    s = default_spec_dict()
    s["precision"]["cnn"]["bits"] = 8
    s["name"] = "eight-bit"
    with pytest.raises(BundleError, match=r"does not match spec 'eight-bit': formats.conv_w is ap_fixed<10,1> "
                                          r"in the bundle, ap_fixed<8,1> in the spec"):
        check_bundle_matches(b, derive(parse_spec(s)))
    s = default_spec_dict()
    s["bandwidth"]["link_tbps"] = 1.024
    with pytest.raises(BundleError, match="formats.code"):
        check_bundle_matches(b, derive(parse_spec(s)))


def test_cli_bundle_errors_are_one_line(saved, tmp_path):
    (saved / "arrays.npz").write_bytes(b"PK\x03\x04garbage")
    r = CliRunner().invoke(main, ["bundle", "show", str(saved)])
    assert r.exit_code == 2 and r.output.startswith("error: bundle") and len(r.output.strip().splitlines()) == 1
    r = CliRunner().invoke(main, ["bundle", "show", str(tmp_path / "nothing")])
    assert r.exit_code == 2 and "not a directory" in r.output


def test_cli_random_and_show(tmp_path):
    out = tmp_path / "rb"
    r = CliRunner().invoke(main, ["bundle", "random", "--spec", str(DEFAULT_SPEC), "--seed", "0", "--out", str(out)])
    assert r.exit_code == 0 and GOLDEN_HASH in r.output
    r = CliRunner().invoke(main, ["bundle", "show", str(out), "--spec", str(TIGHT_SPEC)])
    assert r.exit_code == 0 and "valid" in r.output


def test_from_manifest_rejects_extra_array(saved):
    m = json.loads((saved / "manifest.json").read_text())
    with np.load(saved / "arrays.npz") as z:
        arrays = {k: z[k] for k in z.files}
    arrays["cnn.extra"] = np.zeros(3, dtype=np.int64)
    with pytest.raises(BundleError, match="unexpected array cnn.extra"):
        from_manifest(m, arrays)


def test_emulation_imports_without_tensorflow():
    code = ("import sys, emulation, emulation.bundle, emulation.fixed, emulation.semantics; "
            "bad = [m for m in ('tensorflow', 'keras', 'qkeras', 'codesign') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_npz_is_a_plain_zip(saved):
    with zipfile.ZipFile(saved / "arrays.npz") as zf:
        assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in zf.infolist())
