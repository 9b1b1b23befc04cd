"""`codesign data ...` through click: outputs, and one-line errors with exit code 2 on bad input."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from codesign.cli import main


def _run(*args: str):
    return CliRunner().invoke(main, list(args))


def _assert_input_error(result, message: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr


def test_generate_rerun_reports_complete_shards(tiny_dataset, tmp_path):
    out = tmp_path / "again"
    shutil.copytree(tiny_dataset, out)
    result = _run("data", "generate", "--preset", "tiny", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "0 shards generated, 11 already complete" in result.stdout
    assert json.loads((out / "card.json").read_text())["content_hash"] in result.stdout


def test_verify_and_inspect(tiny_dataset, tmp_path):
    result = _run("data", "verify", str(tiny_dataset))
    assert result.exit_code == 0 and "valid, 11 shards, train 80, val 20, test 100 events" in result.stdout
    png = tmp_path / "plots" / "event.png"
    result = _run("data", "inspect", str(tiny_dataset), "--out", str(png), "--process", "ttbar_had", "--event", "2")
    assert result.exit_code == 0, result.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 50_000


# --workers 0 and --seed -1 are click usage errors (test_malformed_inputs.test_click_usage_errors_keep_clicks_format)
@pytest.mark.parametrize("args, message", [
    (["--preset", "huge"], "preset 'huge': unknown (known: tiny, smoke, small, paper)"),
    (["--preset", "tiny", "--processes", "ggHH_4b,WW"], "process 'WW': unknown (known: ggHH_4b, vbfHH_4b"),
    (["--preset", "tiny", "--dask-scheduler", "nonsense://x"], "dask scheduler nonsense://x: cannot connect"),
])
def test_generate_bad_arguments(tmp_path, args, message):
    _assert_input_error(_run("data", "generate", "--out", str(tmp_path / "d"), *args), message)


def test_generate_unwritable_output(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    _assert_input_error(_run("data", "generate", "--preset", "tiny", "--out", str(blocker / "d")),
                        f"output directory {blocker / 'd'}: cannot create it")


def test_inspect_unknown_process_and_event(tiny_dataset, tmp_path):
    png = str(tmp_path / "x.png")
    _assert_input_error(_run("data", "inspect", str(tiny_dataset), "--out", png, "--process", "WW"),
                        "process 'WW': not in dataset")
    _assert_input_error(_run("data", "inspect", str(tiny_dataset), "--out", png, "--event", "999"),
                        "event 999: the test split of ggHH_4b has 20 events")


def test_missing_dataset(tmp_path):
    _assert_input_error(_run("data", "verify", str(tmp_path)), "no card.json")
    _assert_input_error(_run("data", "verify", str(tmp_path / "nope")), "not a directory")


def test_truncated_shard(tiny_dataset, tmp_path):
    out = tmp_path / "t"
    shutil.copytree(tiny_dataset, out)
    shard = out / "vbfHH_4b_0001.h5"
    shard.write_bytes(shard.read_bytes()[:3000])
    _assert_input_error(_run("data", "verify", str(out)), f"shard {shard} is truncated or corrupt")
    _assert_input_error(_run("data", "inspect", str(out), "--out", str(tmp_path / "x.png")),
                        f"shard {shard} is truncated or corrupt")


def test_missing_shard(tiny_dataset, tmp_path):
    out = tmp_path / "m"
    shutil.copytree(tiny_dataset, out)
    (out / "minbias_0000.h5").unlink()
    _assert_input_error(_run("data", "verify", str(out)), f"shard {out / 'minbias_0000.h5'} is missing")


def test_card_that_does_not_match_its_shards(tiny_dataset, tmp_path):
    out = tmp_path / "swap"
    shutil.copytree(tiny_dataset, out)
    shutil.copyfile(out / "ttbar_had_0000.h5", out / "ggHH_4b_0000.h5")
    _assert_input_error(_run("data", "verify", str(out)),
                        f"card does not match shard {out / 'ggHH_4b_0000.h5'}: process is 'ttbar_had' in the shard, "
                        "'ggHH_4b' in the card")


def test_hand_edited_card(tiny_dataset, tmp_path):
    out = tmp_path / "edit"
    shutil.copytree(tiny_dataset, out)
    card = json.loads((out / "card.json").read_text())
    card["processes"]["qcd"]["events"] = 1000
    (out / "card.json").write_text(json.dumps(card))
    _assert_input_error(_run("data", "verify", str(out)), "content hash does not match its contents")
    (out / "card.json").write_text("{not json")
    _assert_input_error(_run("data", "verify", str(out)), "card.json is not valid JSON")


def test_restamped_card_with_wrong_counts(tiny_dataset, tmp_path):
    from codesign.data.card import write_card

    out = tmp_path / "restamp"
    shutil.copytree(tiny_dataset, out)
    card = json.loads((out / "card.json").read_text())
    card["processes"]["qcd"]["events"] = 41
    card["processes"]["qcd"]["shards"][1]["n_events"] = 21
    write_card(out, {k: v for k, v in card.items() if k != "content_hash"})
    _assert_input_error(_run("data", "verify", str(out)),
                        f"card does not match shard {out / 'qcd_0001.h5'}: n_events is 20 in the shard, 21 in the card")
