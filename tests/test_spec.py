"""Spec validation: every malformed spec gives exit code 2 and one line naming key, value and expectation."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from codesign.cli import main
from helpers import TIGHT_SPEC, default_spec_dict, write_spec
from codesign.paths import DEFAULT_SPEC


def _set(d: dict, path: str, value) -> dict:
    keys = path.split(".")
    node = d
    for k in keys[:-1]:
        node = node[k]
    if value is _DELETE:
        del node[keys[-1]]
    else:
        node[keys[-1]] = value
    return d


_DELETE = object()

# (key path, new value, fragments that must appear in the one-line message)
MALFORMED = [
    ("name", "", ["name", "a name of letters"]),
    ("name", _DELETE, ["name", "missing required key"]),
    ("schema_version", 7, ["schema_version", "7"]),
    ("target.part", "xc7z020", ["target.part", "xc7z020", "unknown FPGA part", "xcvu13p"]),
    ("target.clock_mhz", -360, ["target.clock_mhz", "-360", "clock in MHz"]),
    ("target.clock_mhz", "fast", ["target.clock_mhz", '"fast"', "clock in MHz"]),
    ("detector.eta_bins", 49, ["detector.eta_bins", "49", "even"]),
    ("detector.phi_bins", 2.5, ["detector.phi_bins", "2.5", "integer"]),
    ("detector.layers", ["em"], ["detector.layers", "[em, had]"]),
    ("detector.eta_max", 0, ["detector.eta_max", "0", "coverage"]),
    ("detector.bunch_crossing_mhz", True, ["detector.bunch_crossing_mhz", "true"]),
    ("bandwidth.link_tbps", 0.1, ["bandwidth.link_tbps", "0.1", "bits per cell", "at least 1 bit"]),
    ("bandwidth.link_tbps", -2, ["bandwidth.link_tbps", "-2", "positive"]),
    ("bandwidth", _DELETE, ["bandwidth", "missing required section"]),
    ("latency.denoise_us", 0.001, ["latency.denoise_us", "cannot be met", "P = 32"]),
    ("latency.denoise_us", 20.0, ["latency.denoise_us", "20.0", "no larger than latency.chain_us"]),
    ("latency.chain_us", "12us", ["latency.chain_us", '"12us"', "microseconds"]),
    ("latency.pipeline_overhead", 2, ["latency.pipeline_overhead", "2", "fraction"]),
    ("latency.typo_us", 3.0, ["latency.typo_us", "unknown key"]),
    ("precision.input_et.lsb_gev", 0.01, ["precision.input_et.lsb_gev", "0.01", "power of two"]),
    ("precision.input_et.bits", 40, ["precision.input_et.bits", "40", "2..24"]),
    ("precision.cnn.bits", 2, ["precision.cnn.bits", "2", "4..24"]),
    ("precision.cnn.act_int_bits", 10, ["precision.cnn.act_int_bits", "10", "fewer integer bits"]),
    ("precision.cnn", _DELETE, ["precision.cnn", "missing required section"]),
    ("clusterer.window", 8, ["clusterer.window", "8", "odd window"]),
    ("clusterer.n_clusters", 3, ["clusterer.n_clusters", "3", "pT4"]),
    ("calibration.abs_eta_bins", 4, ["calibration.abs_eta_bins", "4", "divisor", "25"]),
    ("trigger.fpr", 0.0, ["trigger.fpr", "0.0", "false-positive rate"]),
    ("trigger.objects", ["pt1"], ["trigger.objects", "pt1"]),
    ("extra_section", {"a": 1}, ["extra_section", "unknown key"]),
]


@pytest.mark.parametrize("path,value,fragments", MALFORMED, ids=[m[0] + ":" + repr(m[1])[:12] for m in MALFORMED])
def test_malformed_spec_exit_code_and_message(tmp_path, path, value, fragments):
    spec = write_spec(tmp_path, _set(default_spec_dict(), path, value))
    for cmd in (["spec", "validate"], ["spec", "show"]):
        result = CliRunner().invoke(main, cmd + [str(spec)])
        assert result.exit_code == 2, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1, result.output
        assert lines[0].startswith("error: ")
        for frag in fragments:
            assert frag in lines[0], (frag, lines[0])
        assert "Traceback" not in result.output


@pytest.mark.parametrize("text,fragment", [
    ("name: [unclosed\n", "not valid YAML at line"),
    ("", "is empty"),
    ("- just\n- a list\n", "expected a mapping"),
])
def test_unparseable_spec_files(tmp_path, text, fragment):
    spec = tmp_path / "bad.yaml"
    spec.write_text(text)
    result = CliRunner().invoke(main, ["spec", "validate", str(spec)])
    assert result.exit_code == 2
    assert fragment in result.output and len(result.output.strip().splitlines()) == 1


def test_missing_spec_file(tmp_path):
    result = CliRunner().invoke(main, ["spec", "show", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_shipped_specs_validate():
    for spec in (DEFAULT_SPEC, TIGHT_SPEC):
        result = CliRunner().invoke(main, ["spec", "validate", str(spec)])
        assert result.exit_code == 0, result.output
        assert "valid" in result.output


def test_spec_hash_ignores_yaml_layout(tmp_path):
    from codesign.spec import load_spec

    d = default_spec_dict()
    a = write_spec(tmp_path, d, "a.yaml")
    b = tmp_path / "b.yaml"
    import yaml

    b.write_text("# comment\n" + yaml.safe_dump(d, sort_keys=True, default_flow_style=True))
    assert load_spec(a).spec_hash() == load_spec(b).spec_hash() == load_spec(DEFAULT_SPEC).spec_hash()
    d["trigger"]["fpr"] = 2e-3
    assert load_spec(write_spec(tmp_path, d, "c.yaml")).spec_hash() != load_spec(a).spec_hash()
