"""Shared test helpers: specs, the saturating bundle, and the CI-aware check for external tools."""

from __future__ import annotations

import copy
import dataclasses
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from emulation.bundle import FirmwareBundle
from emulation.semantics import thresholds_from_levels

from codesign.paths import CONSTRAINTS_DIR, DEFAULT_SPEC

TIGHT_SPEC = CONSTRAINTS_DIR / "hl-lhc-multijet-2p5us.yaml"
ROOT = Path(__file__).resolve().parent.parent  # the checkout the tests run from


def default_spec_dict() -> dict:
    """A fresh, mutable copy of the default spec's YAML document."""
    return copy.deepcopy(yaml.safe_load(Path(DEFAULT_SPEC).read_text()))


def write_spec(tmp_path: Path, data: dict, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def require_tool(available: bool, reason: str) -> None:
    """Skip when an external tool is missing, except under CI=true where that is a failure."""
    if available:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: a missing tool is a failure)")
    pytest.skip(reason)


def require_compiler(what: str) -> None:
    """g++ (or $CXX) must be on PATH for `what`."""
    require_tool(shutil.which(os.environ.get("CXX", "g++")) is not None, f"g++ not on PATH: {what} needs a C++ compiler")


def saturating_bundle(bundle: FirmwareBundle) -> FirmwareBundle:
    """The bundle with format-extreme CNN weights and a top quantiser level at the largest E_T.

    Every conv channel and dense-1 neuron saturates, dense 2 is driven negative (ReLU), the hard
    sigmoid clips at 1.0 and E_pred overflows its format for the brightest pixels.
    """
    f = bundle.formats
    cnn = dataclasses.replace(bundle.cnn,
                              dw_kernel=np.full_like(bundle.cnn.dw_kernel, f["conv_w"].raw_max),
                              dw_bias=np.full_like(bundle.cnn.dw_bias, f["conv_b"].raw_max),
                              dense1_w=np.full_like(bundle.cnn.dense1_w, f["dense_w"].raw_max),
                              dense2_w=np.full_like(bundle.cnn.dense2_w, f["dense_w"].raw_min),
                              dense3_b=np.full_like(bundle.cnn.dense3_b, f["dense_b"].raw_max))
    levels = bundle.quantiser.levels.copy()
    levels[:, -1] = f["et_dec"].raw_max
    quant = dataclasses.replace(bundle.quantiser, levels=levels, thresholds=thresholds_from_levels(levels))
    return dataclasses.replace(bundle, cnn=cnn, quantiser=quant)
