"""The whole trigger chain, bit-accurate, in batches: quantiser -> CNN -> clusterer -> calibration -> trigger."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Iterator

import numpy as np

from emulation.bundle import FirmwareBundle
from emulation.calibration import calibrate
from emulation.clusterer import cluster
from emulation.cnn import denoise
from emulation.errors import InputError
from emulation.fixed import from_float
from emulation.quantiser import quantise
from emulation.trigger import trigger

# Per-event outputs always returned (names are also the HDF5 dataset names of `codesign emulate`).
OUTPUTS = ("cluster_pt", "cluster_ieta", "cluster_iphi", "n_clusters", "pt_calib", "sorted_pt",
           "pt1", "pt4", "pass_pt1", "pass_pt4")


@dataclass
class ChainResult:
    """Outputs of a batch; `intermediates` holds every tensor of the chain when asked for."""

    outputs: dict[str, np.ndarray]
    intermediates: dict[str, np.ndarray] = field(default_factory=dict)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.outputs[name] if name in self.outputs else self.intermediates[name]


def check_input(bundle: FirmwareBundle, et_raw: np.ndarray) -> np.ndarray:
    """Validate a batch of raw E_T images (B, L, H, W) against the bundle's geometry and et_in range."""
    g = bundle.geometry
    arr = np.asarray(et_raw)
    if arr.ndim != 4 or arr.shape[1:] != (g.n_layers, g.eta_bins, g.phi_bins):
        raise InputError(f"input images have shape {arr.shape}, expected (N, {g.n_layers}, {g.eta_bins}, "
                         f"{g.phi_bins})")
    if arr.dtype.kind not in "iu":
        raise InputError(f"input images must be raw integers in {bundle.formats['et_in'].cpp()}, got {arr.dtype}")
    if not bundle.formats["et_in"].contains(arr):
        raise InputError(f"input images have raw values outside {bundle.formats['et_in'].cpp()}")
    return arr.astype(np.int64, copy=False)


def run_chain(bundle: FirmwareBundle, et_raw: np.ndarray, keep: bool = False) -> ChainResult:
    """Emulate the firmware on a batch of raw E_T images (B, L, H, W) in the et_in format."""
    et = check_input(bundle, et_raw)
    codes, et_dec = quantise(et, bundle.quantiser.thresholds, bundle.quantiser.levels)
    cnn = denoise(bundle, et_dec, keep=keep)
    clusters = cluster(bundle, cnn["et_pred"])
    pt_calib = calibrate(bundle, clusters["cluster_pt"], clusters["cluster_ieta"], clusters["n_clusters"])
    trig = trigger(bundle, pt_calib)
    outputs = {k: clusters[k] for k in ("cluster_pt", "cluster_ieta", "cluster_iphi", "n_clusters")}
    outputs["pt_calib"] = pt_calib
    outputs.update({k: trig[k] for k in ("sorted_pt", "pt1", "pt4", "pass_pt1", "pass_pt4")})
    result = ChainResult(outputs=outputs)
    if keep:
        result.intermediates = {"et_in": et, "codes": codes, "et_dec": et_dec, "seeds": clusters["seeds"],
                                "sort_order": trig["sort_order"], **cnn}
    return result


def run_chain_gev(bundle: FirmwareBundle, images_gev: np.ndarray, keep: bool = False) -> ChainResult:
    """As `run_chain`, from float E_T images in GeV, digitised to et_in (round half up, saturate)."""
    return run_chain(bundle, from_float(images_gev, bundle.formats["et_in"]), keep=keep)


def stream(bundle: FirmwareBundle, batches: Iterable[np.ndarray], chunk: int = 64) -> Iterator[ChainResult]:
    """Emulate a stream of raw-image batches chunk by chunk, never holding more than one chunk's tensors."""
    for batch in batches:
        for start in range(0, len(batch), chunk):
            yield run_chain(bundle, batch[start:start + chunk])
