"""A point's physics: the emulator's TPR at the spec's FPR for each signal and trigger, on the test split."""

from __future__ import annotations

from typing import Any

from codesign.data.reader import Dataset
from codesign.spec import Spec
from codesign.sweep.config import TRIGGERS
from codesign.train.export import emulator_trigger_values
from codesign.train.metrics import trigger_metrics
from emulation.bundle import FirmwareBundle


def emulator_tpr(bundle: FirmwareBundle, data: str, spec: Spec) -> dict[str, Any]:
    """Per trigger: the threshold at the FPR on the test split's weighted QCD, and each signal's TPR and AUC
    there and at the bundle's own thresholds (the emulator on frozen pile-up, as `codesign train` reports)."""
    ds = Dataset(data)
    values = emulator_trigger_values(bundle, ds, "test")
    thresholds = {t: int(v) for t, v in zip(TRIGGERS, bundle.trigger.thresholds)}
    return trigger_metrics({t: values[t] for t in TRIGGERS}, values["label"], values["process"], values["weight"],
                           ds.processes, ds.signal_processes, spec.trigger.fpr, thresholds=thresholds)
