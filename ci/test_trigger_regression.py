"""Emulator-vs-float regression for a trigger repository: copy to tests/test_codesign_regression.py.

The committed firmware bundle must be what the committed QAT run computes, bit for bit, on real
events (V1 of codesign's verification ladder). Paths come from the environment, with defaults:
CODESIGN_RUN (run/), CODESIGN_BUNDLE (bundle/), CODESIGN_DATA (data/tiny: `codesign data generate
--preset tiny --out data/tiny`), CODESIGN_EVENTS (events compared, default 200).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from codesign.data.reader import Dataset
from codesign.train.evaluate import evaluate
from codesign.train.loop import load_trained
from codesign.train.rundir import RunDir
from emulation.bundle import FirmwareBundle

RUN = Path(os.environ.get("CODESIGN_RUN", "run"))
BUNDLE = Path(os.environ.get("CODESIGN_BUNDLE", "bundle"))
DATA = Path(os.environ.get("CODESIGN_DATA", "data/tiny"))
EVENTS = int(os.environ.get("CODESIGN_EVENTS", "200"))
BATCH = 50


@pytest.fixture(scope="module")
def evaluation():
    model, _, spec, _ = load_trained(RunDir(RUN))
    bundle = FirmwareBundle.load(BUNDLE)
    return evaluate(model, bundle, Dataset(DATA), "test", spec.detector.eta_max, batch_size=BATCH,
                    max_batches=max(1, EVENTS // BATCH))


def test_every_tensor_identical(evaluation):
    """Quantiser codes, CNN weights and E_pred, clusters, calibrated pT: model == emulator everywhere."""
    report = evaluation.agreement.report()
    bad = {name: r for name, r in report.items() if r["fraction_identical"] != 1.0 or r["max_abs_diff_lsb"] != 0}
    assert not bad, bad


def test_trigger_decisions_identical(evaluation):
    for trig in ("pt1", "pt4"):
        assert np.array_equal(evaluation.float_pt[trig], evaluation.emulator_pt[trig]), trig


def test_bundle_comes_from_this_run():
    assert FirmwareBundle.load(BUNDLE).provenance.source == "export"
    assert (RUN / "bundle").is_dir() and FirmwareBundle.load(RUN / "bundle").content_hash() == \
        FirmwareBundle.load(BUNDLE).content_hash(), "bundle/ is not the run's export: re-export and commit it"
