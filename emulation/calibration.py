"""Calibration, bit-accurate: LUT[|eta| bin of the seed row][log-spaced address of cluster pT]."""

from __future__ import annotations

import numpy as np

from emulation.bundle import FirmwareBundle
from emulation.semantics import calib_address


def calibrate(bundle: FirmwareBundle, cluster_pt: np.ndarray, cluster_ieta: np.ndarray,
              n_clusters: np.ndarray) -> np.ndarray:
    """Calibrated pT (pt_calib raw) per cluster slot; zero-padded slots stay zero."""
    cal = bundle.calibration
    addr = calib_address(cluster_pt, int(cal.mantissa_bits))
    values = cal.lut[cal.eta_bin_of_row[cluster_ieta], addr]
    valid = np.arange(cluster_pt.shape[1])[None, :] < n_clusters[:, None]
    return np.where(valid, values, 0)
