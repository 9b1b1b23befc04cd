"""`codesign sweep` on the tiny dataset: a trained point and an infeasible one, the tables, resume and determinism,
a failed point, the report in headless Chromium, points on local processes and on a dask LocalCluster."""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from codesign.cli import main
from codesign.data.reader import Dataset
from codesign.derived import derive
from codesign.rtl.estimate import estimate
from codesign.rtl.plan import make_plan
from codesign.spec import load_spec
from emulation.bundle import FirmwareBundle
from emulation.chain import run_chain_gev

FAST = ["--train-steps", "2", "--events", "2", "--rtl-events", "1", "--sim", "icarus"]


def sweep(*args: str):
    return CliRunner().invoke(main, ["sweep", *args], catch_exceptions=False)


@pytest.fixture(scope="module")
def swept(tiny_dataset, tmp_path_factory):
    """CNN bits 6 (infeasible: the spec's 6 bias integer bits need more) and 8 (trained, exported, built)."""
    out = tmp_path_factory.mktemp("sweep") / "s"
    r = sweep("--data", str(tiny_dataset), "--out", str(out), "--vary", "precision.cnn.bits=6,8", *FAST)
    assert r.exit_code == 0, r.output
    return out


def _doc(out):
    return json.loads((out / "sweep.json").read_text())


def test_every_point_is_recorded_with_its_spec_resources_latency_and_exactness(swept):
    doc = _doc(swept)
    infeasible, done = doc["points"]
    assert infeasible["status"] == "infeasible" and "precision.cnn.bias_int_bits" in infeasible["reason"]
    assert infeasible["dominated"] == {"dsp": None, "lut": None, "latency": None}
    assert done["status"] == "done" and done["overrides"] == {"precision.cnn.bits": 8}
    point = swept / "points" / done["id"]
    spec = load_spec(point / "spec.yaml")
    assert spec.precision.cnn.bits == 8 and spec.precision.cnn.bias_int_bits == 6
    derived = derive(spec)
    assert done["derived"] == {"bits_per_cell": 8, "levels": 256, "pixel_parallelism": 1}
    bundle = FirmwareBundle.load(point / "bundle")
    assert bundle.formats["conv_w"].width == 8 and done["bundle_hash"] == bundle.content_hash()
    assert done["resources"] == {"from": "estimate", **estimate(make_plan(bundle, derived))["total"]}
    assert done["bit_exact"] is True and done["exactness"]["csim_mismatches"] == 0
    assert done["exactness"]["rtl_mismatching_outputs"] == {"icarus": []}
    lat = done["latency"]
    assert lat["gate"] == "pass" and lat["over_budget"] == []
    assert lat["cycles"]["chain"] <= derived.budgets["chain"].cycles
    assert lat["us"]["chain"] == round(lat["cycles"]["chain"] / 360, 4)
    assert done["dominated"] == {"dsp": False, "lut": False, "latency": False}  # alone on every front


def test_tpr_is_the_emulators_at_the_fpr_threshold_of_the_test_split(swept, tiny_dataset):
    """Brute force: the smallest pT1 threshold whose weighted QCD rate is at most the FPR, then the signal's share."""
    doc = _doc(swept)
    done = doc["points"][1]
    point = swept / "points" / done["id"]
    bundle = FirmwareBundle.load(point / "bundle")
    fpr = load_spec(point / "spec.yaml").trigger.fpr
    ds = Dataset(tiny_dataset)
    pt1, label, proc, weight = [], [], [], []
    for b in ds.batches("test", 64, pileup="frozen", shuffle=False):
        pt1.append(run_chain_gev(bundle, b["image"])["pt1"])
        label.append(b["label"]), proc.append(b["process"]), weight.append(b["weight"])
    pt1, label, proc, weight = map(np.concatenate, (pt1, label, proc, weight))
    bkg = label == 0
    threshold = next(t for t in range(int(pt1.max()) + 2)
                     if weight[bkg][pt1[bkg] >= t].sum() / weight[bkg].sum() <= fpr)
    for signal in doc["signals"]:
        sig = pt1[proc == ds.processes.index(signal)]
        assert done["tpr"]["pt1"][signal] == pytest.approx((sig >= threshold).mean(), abs=0)
    assert doc["objective"] == {"signal": doc["signals"][0], "trigger": "pt1"}


def test_csv_has_one_row_per_point(swept):
    rows = list(csv.DictReader((swept / "sweep.csv").open()))
    doc = _doc(swept)
    assert [r["status"] for r in rows] == ["infeasible", "done"]
    assert [r["precision.cnn.bits"] for r in rows] == ["6", "8"]
    done, point = rows[1], doc["points"][1]
    assert [done[k] for k in ("levels", "pixel_parallelism", "latency_gate", "bit_exact")] == ["256", "1", "pass", "True"]
    assert int(done["dsp"]) == point["resources"]["dsp"]
    assert int(done["chain_cycles"]) == point["latency"]["cycles"]["chain"]
    assert float(done[f"tpr_pt1_{doc['signals'][0]}"]) == point["tpr"]["pt1"][doc["signals"][0]]
    assert rows[0]["reason"].startswith("precision.cnn.bias_int_bits") and rows[0]["dsp"] == ""


def test_a_rerun_skips_done_points_and_writes_the_same_sweep_json(swept, tiny_dataset):
    before = (swept / "sweep.json").read_bytes()
    log = (swept / "points" / _doc(swept)["points"][1]["id"] / "point.log").read_text()
    r = sweep("--data", str(tiny_dataset), "--out", str(swept), "--vary", "precision.cnn.bits=6,8", *FAST)
    assert r.exit_code == 0 and "2 already done, 0 to run" in r.output, r.output
    assert (swept / "sweep.json").read_bytes() == before
    assert (swept / "points" / _doc(swept)["points"][1]["id"] / "point.log").read_text() == log
    assert "wall_s_this_run" in json.loads((swept / "timings.json").read_text())  # timings live apart


def test_a_cut_point_resumes_after_its_last_finished_step(swept, tiny_dataset, tmp_path):
    """Cut after training: the rerun exports and measures again, trains nothing, and finds every build step done."""
    out = tmp_path / "s"
    shutil.copytree(swept, out)
    doc = _doc(swept)
    point = out / "points" / doc["points"][1]["id"]
    for gone in ("result.json", "tpr.json", "point.log"):
        (point / gone).unlink()
    shutil.rmtree(point / "bundle")
    r = sweep("--data", str(tiny_dataset), "--out", str(out), "--vary", "precision.cnn.bits=6,8", *FAST)
    assert r.exit_code == 0 and "1 already done, 1 to run" in r.output, r.output
    log = (point / "point.log").read_text()
    assert "epoch" not in log and log.count("up to date, skipped") == 5, log
    assert (out / "sweep.json").read_bytes() == (swept / "sweep.json").read_bytes()


def test_settings_changed_under_a_done_point_are_refused(swept, tiny_dataset):
    r = CliRunner().invoke(main, ["sweep", "--data", str(tiny_dataset), "--out", str(swept), "--vary",
                                  "precision.cnn.bits=8", "--train-steps", "3", "--events", "2", "--rtl-events", "1"])
    assert r.exit_code == 2 and "was run with train_steps = 2, not 3" in r.output, r.output


def test_a_failed_point_is_recorded_retried_on_rerun_and_exits_1(tiny_dataset, tmp_path):
    """A spec the dataset does not fit (40 eta bins) fails in training: status failed, FAILED line, exit 1."""
    points = tmp_path / "points.yaml"
    points.write_text(yaml.safe_dump([{"detector.eta_bins": 40}]))
    args = ["--data", str(tiny_dataset), "--out", str(tmp_path / "s"), "--points", str(points), *FAST]
    for _ in range(2):
        r = CliRunner().invoke(main, ["sweep", *args])
        assert r.exit_code == 1 and "FAILED: 1 of 1 points: #0 failed" in r.output, r.output
        assert "0 already done, 1 to run" in r.output
    row = _doc(tmp_path / "s")["points"][0]
    assert row["status"] == "failed" and "40x64" in row["reason"]


def test_report_renders_in_chromium(swept):
    from test_report import _chromium_driver

    html = (swept / "sweep.html").read_text()
    assert "src=\"http" not in html and "<script" not in html  # self-contained
    browser = _chromium_driver()
    try:
        browser.get((swept / "sweep.html").as_uri())
        assert browser.title.startswith("codesign sweep report")
        images = browser.execute_script(
            "return Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth]);")
        assert [alt for alt, _, _ in images] == ["Pareto dsp", "Pareto lut", "Pareto latency"], images
        assert all(complete and width > 100 for _, complete, width in images), images
        assert not [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        rows = browser.find_elements("css selector", "#points-table tr")
        assert [r.get_attribute("class") for r in rows[1:]] == ["infeasible", "front"]
        assert rows[1].is_displayed() and "bias_int_bits" in rows[1].text
    finally:
        browser.quit()


def test_points_run_on_local_processes_and_on_a_dask_cluster(tiny_dataset, tmp_path):
    """Infeasible points only (no training): the same sweep.json from 2 local processes and from a LocalCluster."""
    from dask.distributed import LocalCluster

    points = tmp_path / "points.yaml"
    points.write_text(yaml.safe_dump([{"precision.cnn.bits": 6}, {"latency.denoise_us": 0.2},
                                      {"bandwidth.link_tbps": 0.1}]))
    args = ["--data", str(tiny_dataset), "--points", str(points), *FAST]
    r = sweep(*args, "--out", str(tmp_path / "local"), "--workers", "2")
    assert r.exit_code == 0 and "on 2 worker(s)" in r.output, r.output
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        r = sweep(*args, "--out", str(tmp_path / "dask"), "--dask-scheduler", cluster.scheduler_address)
    assert r.exit_code == 0 and f"on {cluster.scheduler_address}" in r.output, r.output
    local, dask = _doc(tmp_path / "local"), _doc(tmp_path / "dask")
    assert local == dask and [p["status"] for p in local["points"]] == ["infeasible"] * 3
    assert "cannot be met" in local["points"][1]["reason"] and "bits per cell" in local["points"][2]["reason"]
    assert all((tmp_path / "dask" / "points" / p["id"] / "result.json").exists() for p in dask["points"])


@pytest.mark.slow
def test_trained_points_on_a_dask_cluster_equal_those_run_here(tiny_dataset, swept, tmp_path):
    """Two trained points (CNN bits 8 and 10) on a LocalCluster: the bits-8 row equals the in-process sweep's."""
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        r = sweep("--data", str(tiny_dataset), "--out", str(tmp_path / "d"), "--vary", "precision.cnn.bits=8,10",
                  *FAST, "--dask-scheduler", cluster.scheduler_address)
    assert r.exit_code == 0, r.output
    rows = _doc(tmp_path / "d")["points"]
    here = _doc(swept)["points"][1]
    assert {k: v for k, v in rows[0].items() if k not in ("index", "dominated")} == \
        {k: v for k, v in here.items() if k not in ("index", "dominated")}
    assert rows[1]["status"] == "done" and rows[1]["bit_exact"] and rows[1]["derived"]["levels"] == 256


@pytest.mark.slow
def test_points_fine_tuned_from_a_base_run(tiny_dataset, swept, tmp_path):
    """--from-run: 6 bits per cell from the bits-8 point's run; the log says so and the point is bit-exact."""
    base = swept / "points" / _doc(swept)["points"][1]["id"] / "run"
    r = sweep("--data", str(tiny_dataset), "--out", str(tmp_path / "f"), "--vary", "bandwidth.link_tbps=1.536",
              "--from-run", str(base), *FAST)
    assert r.exit_code == 0, r.output
    row = _doc(tmp_path / "f")["points"][0]
    assert row["status"] == "done" and row["bit_exact"] and row["derived"]["levels"] == 64
    log = (tmp_path / "f" / "points" / row["id"] / "point.log").read_text()
    assert f"starting from the weights of {base}" in log and "seeded start kept for" in log
