"""Test vectors: the link map against the RTL's ports, the `patterns` build step, exact round trips, bad files."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from codesign.bundles import random_bundle
from codesign.cli import main
from codesign.derived import PRODUCT_REGISTER_STAGES, derive
from codesign.errors import InputError
from codesign.paths import DEFAULT_SPEC
from codesign.patterns import emp
from codesign.patterns.boarddata import FLAGS
from codesign.patterns.files import BOARD_WRITERS, FORMATS, boards, file_name
from codesign.patterns.linkmap import OUTPUTS, LinkMap
from codesign.patterns.reader import BOARD_READERS, read_events, read_linkmap
from codesign.patterns.replay import check_ports, idle_schedule, run_replay
from codesign.rtl.plan import make_plan
from codesign.spec import load_spec
from emulation.npz import read_npz
from helpers import TIGHT_SPEC, default_spec_dict, write_spec

EVENTS = 3


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("bundle") / "b"
    random_bundle(derive(load_spec(DEFAULT_SPEC)), 17).save(path)
    return path


def build(bundle_dir, out, rtl_events: int = EVENTS):
    return CliRunner().invoke(main, ["build", "--bundle", str(bundle_dir), "--out", str(out), "--events",
                                     str(EVENTS + 1), "--rtl-events", str(rtl_events), "--steps", "events,patterns"])


@pytest.fixture(scope="module")
def built(bundle_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("build") / "b"
    r = build(bundle_dir, out)
    assert r.exit_code == 0, r.output
    return out


@pytest.mark.parametrize("spec", [DEFAULT_SPEC, TIGHT_SPEC], ids=["P1", "P4"])
def test_link_map_matches_the_rtl_ports(spec):
    """P, widths and the cell -> (link, frame, bit) rule are those of the RTL's input stream."""
    s = load_spec(spec)
    d = derive(s)
    lm = LinkMap.of(s, d)
    check_ports(lm, make_plan(random_bundle(d, 1), d).params(), "test")
    p = d.pixel_parallelism
    assert (lm.in_width, lm.in_links, lm.beats_per_event) == (16 * p, 1, 3200 // p)
    assert (lm.out_width, lm.out_links) == (2 + 12 * 18, 4)
    figures = lm.to_json()
    assert figures["link_payload_gbps"] == 23.04 and figures["links_for_full_rate"] == 89
    assert figures["bx_per_event"] == -(-3200 // p // 9)
    for layer, eta, phi in [(0, 0, 0), (1, 0, 0), (1, 7, 63), (0, 49, 13), (1, 49, 62)]:
        codes = np.zeros((1, 2, 50, 64), dtype=np.int64)
        codes[0, layer, eta, phi] = 0xA5
        beats = lm.input_beats(codes)[0]
        link, frame, bit = lm.cell(layer, eta, phi)
        assert np.flatnonzero(beats).tolist() == [frame] and int(beats[frame]) == 0xA5 << (64 * link + bit)


def test_decision_frame_follows_the_latency_model(tmp_path):
    """Extra register stages (firmware.register_products, register_decision) move every decision as many frames later."""
    doc = default_spec_dict()
    doc["firmware"] = {"register_products": True}
    s = load_spec(write_spec(tmp_path, doc))
    d = derive(s)
    assert LinkMap.of(s, d).latency == 3564 + PRODUCT_REGISTER_STAGES == 3564 + d.cnn_extra_stages
    doc["firmware"] = {"register_products": True, "register_decision": True}  # and the trigger's register
    s = load_spec(write_spec(tmp_path, doc))
    assert LinkMap.of(s, derive(s)).latency == 3564 + PRODUCT_REGISTER_STAGES + 1


def test_step_writes_every_format_and_records_hashes(built):
    files = sorted(p.name for p in (built / "patterns").iterdir())
    expected = sorted(["linkmap.json"] + [file_name(s, f) for s in ("input", "output") for f in FORMATS])
    assert files == expected
    result = json.loads((built / "build.json").read_text())["steps"]["patterns"]["result"]
    assert result["events"] == EVENTS and result["frames"] == 2 * 3200 + 3564 + 1
    for name, rec in result["files"].items():
        data = (built / "patterns" / name).read_bytes()
        assert rec == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def test_pattern_files_are_byte_identical_across_builds(bundle_dir, built, tmp_path):
    r = build(bundle_dir, tmp_path / "again")
    assert r.exit_code == 0, r.output
    for path in (built / "patterns").iterdir():
        assert (tmp_path / "again" / "patterns" / path.name).read_bytes() == path.read_bytes(), path.name


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_round_trips_to_the_emulator_arrays(built, fmt):
    ref = read_npz(built / "events" / "reference.npz", "reference")
    codes, outputs = read_events(built / "patterns", fmt)
    assert codes.dtype == ref["codes"].dtype and np.array_equal(codes, ref["codes"][:EVENTS])
    for k in OUTPUTS:
        assert outputs[k].dtype == ref[k].dtype and np.array_equal(outputs[k], ref[k][:EVENTS]), k


@pytest.mark.parametrize("fmt", BOARD_WRITERS)
def test_board_data_round_trips_with_the_flags_of_its_format(built, fmt, tmp_path):
    lm = read_linkmap(built / "patterns")
    ref = read_npz(built / "events" / "reference.npz", "reference")
    written = boards(lm, lm.input_beats(ref["codes"][:2]), lm.output_records({k: ref[k][:2] for k in OUTPUTS}))
    carried = FORMATS[fmt][1]
    for side, board in written.items():
        path = tmp_path / file_name(side, fmt)
        path.write_text(BOARD_WRITERS[fmt](board))
        back = BOARD_READERS[fmt](path)
        assert back.same(board, carried), (side, fmt)
        assert not any(getattr(back, f).any() for f in FLAGS if f not in carried)
        assert board.valid.sum() == (2 * 3200 if side == "input" else 2 * 4)


def test_emp_and_apx_layout_is_demonstrator_tools(built):
    """Header and frame lines as L1Trigger/DemonstratorTools' writeEMPFileV2 / V1 / writeAPxFile print them."""
    d = built / "patterns"
    v2 = (d / "input_emp.txt").read_text().splitlines()
    assert v2[:5] == ["ID: codesign-input",
                      "Metadata: (strobe,) start of orbit, start of packet, end of packet, valid", "",
                      "      Link              000        ",
                      "Frame 0000    1101 000000000000ffff"]  # the all-maximum event: 8-bit codes 0xff, 0xff
    assert v2[5] == "Frame 0001    0001 000000000000ffff" and v2[4 + 3199] == "Frame 3199    0011 000000000000ffff"
    assert v2[4 + 3200].startswith("Frame 3200    0101 ")  # next event: start of packet, no start of orbit
    out = (d / "output_emp.txt").read_text().splitlines()
    assert out[3] == "      Link  " + "".join(f"            {i:03d}        " for i in range(4))
    assert out[4 + 3564].startswith("Frame 3564    1111 ") and out[4 + 3563].startswith("Frame 3563    0000 0000")
    v1 = (d / "input_empv1.txt").read_text().splitlines()
    assert v1[:4] == ["Board codesign-input", " Quad/Chan :         q00c0       ", "      Link :          000        ",
                      "Frame 0000 :   1v000000000000ffff"]
    ax = (d / "output_apx.txt").read_text().splitlines()
    assert ax[:2] == ["#Sideband ON", "#LinkLabel" + "".join(f"                LINK_{i:02d}    " for i in range(4))]
    assert ax[2] == "#BeginData" and ax[3 + 3564].startswith("0x0dec    0x0b 0x")
    assert (d / "input.hex").read_text().splitlines()[:2] == ["ffff", "ffff"]


def test_no_rtl_events_writes_only_the_link_map(bundle_dir, tmp_path):
    r = build(bundle_dir, tmp_path / "b", rtl_events=0)
    assert r.exit_code == 0, r.output
    assert [p.name for p in (tmp_path / "b" / "patterns").iterdir()] == ["linkmap.json"]
    result = json.loads((tmp_path / "b" / "build.json").read_text())["steps"]["patterns"]["result"]
    assert result["skipped"] == "rtl_events = 0" and result["files"].keys() == {"linkmap.json"}


def test_idle_schedule_of_frames():
    frames = np.array([[2, 3, 6], [7, 8, 9], [20, 22, 23]])
    s = idle_schedule(frames)
    assert s["gap"].tolist() == [2, 0, 10] and s["bubble"].tolist() == [[0, 0, 2], [0, 0, 0], [0, 1, 0]]


# --------------------------------------------------------------------------- bad files


def _edit(path, line: int, fn) -> None:
    """Replace line `line` (1-based) by fn(line); None deletes it."""
    lines = path.read_text().splitlines()
    new = fn(lines[line - 1])
    lines[line - 1:line] = [] if new is None else [new]
    path.write_text("\n".join(lines) + "\n")


# Frame f is on line f + 5 of an EMPv2 file, f + 4 of EMPv1 and APx files; input events are 3200 frames, the
# first decision is on frame 3564. name -> (file, line, edit (or the whole file's new content), format, message)
BAD = {
    "emp-metadata": ("input_emp.txt", 2, lambda s: "Metadata: none", "emp", "line 2: expected the metadata line"),
    "emp-frame-number": ("input_emp.txt", 6, lambda s: s.replace("0001", "0002", 1), "emp",
                         "line 6: expected 'Frame 0001' (frames numbered from 0)"),
    "emp-token": ("input_emp.txt", 5, lambda s: s.replace("1101", "1201"), "emp",
                  "line 5: link 0: '1201 000000000000ffff' is not a frame word"),
    "emp-word-count": ("output_emp.txt", 9, lambda s: s.rsplit("  ", 1)[0], "emp", "line 9: 3 words for 4 links"),
    "emp-valid-one-link": ("output_emp.txt", 3569, lambda s: s.replace("1111", "1110", 1), "emp",
                           "line 3569: valid on some links and not on others"),
    "emp-start-missing": ("input_emp.txt", 3205, lambda s: s.replace("0101", "0001", 1), "emp",
                          "line 3205: frame 3200: start flag missing"),
    "emp-orbit-twice": ("input_emp.txt", 3205, lambda s: s.replace("0101", "1101", 1), "emp",
                        "line 3205: frame 3200: orbit flag set"),
    "emp-high-bits": ("input_emp.txt", 7, lambda s: s.replace("0001 000000000000", "0001 000000000001", 1), "emp",
                      "line 7: bits above the 16-bit word are set on link 0"),
    "emp-short-event": ("input_emp.txt", 9604, lambda s: s.replace("0011 ", "0000 ", 1), "emp",
                        "line 9603: 9599 valid frames; expected a multiple of 3200"),
    "emp-links": ("input_emp.txt", 4, lambda s: s.replace("000", "001"), "emp", "links [1]; expected [0]"),
    "emp-empty": ("input_emp.txt", 0, "", "emp", "line 1: empty file"),
    "emp-no-frames": ("input_emp.txt", 0, "ID: x\n" + emp.METADATA + "\n\n Link  000\n", "emp", "line 4: no frames"),
    "emp-not-text": ("input_emp.txt", 0, b"ID: x\n\xff\n", "emp", "line 2: not ASCII text"),
    "empv1-token": ("input_empv1.txt", 4, lambda s: s.replace("1v", "1x"), "empv1",
                    "line 4: link 0: '1x000000000000ffff' is not"),
    "empv1-header": ("input_empv1.txt", 2, lambda s: "Quad :", "empv1",
                     "line 2: expected a line starting with 'Quad/Chan :'"),
    "apx-index": ("input_apx.txt", 5, lambda s: "0x0005" + s[6:], "apx", "line 5: frame index 5; expected 1"),
    "apx-hex": ("input_apx.txt", 4, lambda s: s.replace("0x03", "03"), "apx", "line 4: '03' is not a 0x-prefixed hex"),
    "apx-begin": ("input_apx.txt", 3, lambda s: "#Begin", "apx", "line 3: expected the '#BeginData' line"),
    "apx-columns": ("output_apx.txt", 10, lambda s: s + " 0x1", "apx", "line 10: 10 columns; expected 9"),
    "apx-labels": ("input_apx.txt", 2, lambda s: "#LinkLabel LINK_x", "apx", "line 2: expected LINK_<number> columns"),
    "hex-digits": ("input.hex", 3, lambda s: s + "0", "hex", "line 3: 'ffff0': expected 4 hex digits"),
    "hex-count": ("input.hex", 9600, lambda s: None, "hex", "line 9599: 9599 words; expected a multiple of 3200"),
    "hex-records": ("output.hex", 3, lambda s: None, "hex", "(hex): 3 input events but 2 output records"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_pattern_file_is_one_error_line(built, tmp_path, case):
    name, line, edit, fmt, message = BAD[case]
    d = tmp_path / "patterns"
    shutil.copytree(built / "patterns", d)
    path = d / name
    if line == 0:
        (path.write_bytes if isinstance(edit, bytes) else path.write_text)(edit)
    else:
        _edit(path, line, edit)
    with pytest.raises(InputError) as err:
        read_events(d, fmt)
    text = str(err.value)
    assert "\n" not in text and (f"pattern file {str(path)!r}" in text or f"patterns {str(d)!r}" in text), text
    assert message in text, text


def test_link_map_of_another_design_or_a_broken_one_is_refused(built, tmp_path):
    d4 = derive(load_spec(TIGHT_SPEC))
    with pytest.raises(InputError, match="link map lanes = 1, but the design has 4"):
        run_replay("verilator", tmp_path / "model", tmp_path / "tb", make_plan(random_bundle(d4, 1), d4).params(),
                   built / "patterns", "emp")
    d = tmp_path / "p"
    shutil.copytree(built / "patterns", d)
    (d / "input.hex").write_text("xyz\n")
    with pytest.raises(InputError, match="input.hex': line 1: 'xyz': expected 4 hex digits"):  # before any simulator
        run_replay("verilator", tmp_path / "model", tmp_path / "tb", {}, d, "hex")
    (d / "linkmap.json").write_text(json.dumps({"map": {"lanes": 1}}))
    with pytest.raises(InputError, match=r"linkmap.json.map.code_width: missing; expected a non-negative integer"):
        read_events(d, "hex")
    good = read_linkmap(built / "patterns").to_json()["map"]
    (d / "linkmap.json").write_text(json.dumps({"map": {**good, "lanes": "4"}}))
    with pytest.raises(InputError, match=r'linkmap.json.map.lanes = "4": expected a non-negative integer >= 1'):
        read_events(d, "hex")


def test_unknown_format_and_missing_file(built, tmp_path):
    with pytest.raises(InputError, match="pattern format 'vcd': expected one of emp, empv1, apx, hex"):
        read_events(built / "patterns", "vcd")
    d = tmp_path / "p"
    shutil.copytree(built / "patterns", d)
    (d / "output_apx.txt").unlink()
    with pytest.raises(InputError, match="output_apx.txt': cannot read it"):
        read_events(d, "apx")


# --------------------------------------------------------------------------- report


def test_report_shows_link_map_and_file_hashes(built, tmp_path):
    r = CliRunner().invoke(main, ["report", "--build", str(built), "--out", str(tmp_path / "r")])
    assert r.exit_code == 0, r.output
    doc = json.loads((tmp_path / "r" / "report.json").read_text())["patterns"]
    assert doc["events"] == EVENTS and doc["linkmap"]["input"]["links"] == 1 and doc["linkmap"]["output"]["links"] == 4
    recorded = json.loads((built / "build.json").read_text())["steps"]["patterns"]["result"]["files"]
    assert {f["file"]: f["sha256"] for f in doc["files"]} == {f"patterns/{k}": v["sha256"] for k, v in recorded.items()}
    assert {f["status"] for f in doc["files"]} == {"ok"}
    html = (tmp_path / "r" / "report.html").read_text()
    assert 'id="patterns"' in html and recorded["input_emp.txt"]["sha256"] in html and "eta * 64 + phi // 1" in html
    assert "Replay on the RTL: not done (no RTL simulation in this build)" in html


def test_report_flags_a_pattern_file_changed_after_the_build(bundle_dir, tmp_path):
    assert build(bundle_dir, tmp_path / "b", rtl_events=1).exit_code == 0
    with (tmp_path / "b" / "patterns" / "output.hex").open("a") as f:
        f.write("0" * 55 + "\n")
    (tmp_path / "b" / "patterns" / "input.hex").unlink()
    r = CliRunner().invoke(main, ["report", "--build", str(tmp_path / "b"), "--out", str(tmp_path / "r")])
    assert r.exit_code == 0, r.output
    files = json.loads((tmp_path / "r" / "report.json").read_text())["patterns"]["files"]
    status = {f["file"]: f["status"] for f in files}
    assert status["patterns/output.hex"] == "changed since the build" and status["patterns/input.hex"] == "missing"
    manifest = json.loads((tmp_path / "b" / "build.json").read_text())
    recorded = manifest["steps"]["patterns"]["result"]["files"]
    recorded["../build.json"] = recorded.pop("output.hex")
    (tmp_path / "b" / "build.json").write_text(json.dumps(manifest))
    r = CliRunner().invoke(main, ["report", "--build", str(tmp_path / "b"), "--out", str(tmp_path / "r2")])
    assert r.exit_code == 2 and "steps.patterns.result.file" in r.output and "expected a path inside" in r.output
