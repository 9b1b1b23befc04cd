"""`codesign report`: JSON content, one-line errors, and the HTML checked in a real headless Chromium."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from codesign.bundles import random_bundle
from codesign.cli import main
from codesign.derived import derive
from codesign.paths import DEFAULT_SPEC
from codesign.spec import load_spec
from helpers import require_tool


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    random_bundle(derive(load_spec(DEFAULT_SPEC)), 2).save(tmp / "bundle")
    r = CliRunner().invoke(main, ["build", "--bundle", str(tmp / "bundle"), "--out", str(tmp / "build"),
                                  "--events", "4", "--steps", "events"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, ["report", "--build", str(tmp / "build"), "--out", str(tmp / "report")])
    assert r.exit_code == 0, r.output
    return tmp / "report"


@pytest.fixture(scope="module")
def report_with_run(tiny_dataset, report_dir, tmp_path_factory):
    """A report of the same build with one (very short) training run: physics plots and the TPR table."""
    tmp = tmp_path_factory.mktemp("report_run")
    r = CliRunner().invoke(main, ["train", "--data", str(tiny_dataset), "--mode", "e2e", "--out", str(tmp / "run"),
                                  "--epochs", "1", "--batch-size", "16", "--max-steps-per-epoch", "2"])
    assert r.exit_code == 0, r.output
    build = report_dir.parent / "build"
    r = CliRunner().invoke(main, ["report", "--build", str(build), "--run", str(tmp / "run"), "--out", str(tmp / "r")])
    assert r.exit_code == 0, r.output
    return tmp / "r"


def test_report_json(report_dir):
    doc = json.loads((report_dir / "report.json").read_text())
    assert doc["derived"]["quantiser_levels"] == 256 and doc["derived"]["pixel_parallelism"] == 1
    assert doc["provenance"]["bundle"]["source"] == "random"
    assert {r["block"] for r in doc["latency"]} >= {"denoiser", "chain"}
    html = (report_dir / "report.html").read_text()
    assert "src=\"http" not in html and "<script" not in html  # self-contained


def test_report_physics_from_the_run(report_with_run):
    doc = json.loads((report_with_run / "report.json").read_text())
    signals = {row["signal"] for row in doc["tpr"]}
    assert signals == {"ggHH_4b", "vbfHH_4b", "ttbar_had", "ZH_nnbb"}
    assert any("V1" in row["implementation"] for row in doc["exactness"])
    html = (report_with_run / "report.html").read_text()
    assert 'alt="ROC pt1"' in html and 'alt="turn-on pt4"' in html


def test_report_paper_figures(report_with_run):
    """Figs. 6-10 in the report; the run's evaluation wrote physics_arrays.npz and the figures' PNGs."""
    html = (report_with_run / "report.html").read_text()
    for alt in ("Fig. 6 quantiser levels", "Fig. 7 event display", "Fig. 8 calibration response",
                "Fig. 9 pT resolution", "ROC pt1", "ROC pt4"):
        assert f'alt="{alt}"' in html, alt
    run = report_with_run.parent / "run"
    assert (run / "physics_arrays.npz").is_file()
    assert {p.name for p in (run / "plots").iterdir()} >= {"quantiser.png", "event_display.png",
                                                          "calibration_response.png", "resolution.png", "roc.png"}


def test_report_bad_input(tmp_path):
    r = CliRunner().invoke(main, ["report", "--build", str(tmp_path), "--out", str(tmp_path / "r")])
    assert r.exit_code == 2 and "build.json is missing" in r.output and not (tmp_path / "r").exists()


def _chromium_driver():
    chrome, driver = shutil.which("chromium"), shutil.which("chromedriver")
    require_tool(bool(chrome and driver), "chromium/chromedriver not installed (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = chrome
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=opts)


@pytest.mark.parametrize("which", ["build only", "with a training run"])
def test_report_renders_in_chromium(which, request):
    report = request.getfixturevalue("report_dir" if which == "build only" else "report_with_run")
    browser = _chromium_driver()
    try:
        browser.get((report / "report.html").as_uri())
        assert browser.title.startswith("codesign review report")
        images = browser.execute_script(
            "return Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth]);")
        assert len(images) >= (2 if which == "build only" else 6), images
        assert all(complete and width > 100 for _, complete, width in images), images
        errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors, errors
        assert browser.find_element("id", "exactness").is_displayed()
    finally:
        browser.quit()
