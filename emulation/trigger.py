"""Trigger, bit-accurate: re-sort calibrated clusters, then pT1 >= T1 and pT4 >= T4."""

from __future__ import annotations

import numpy as np

from emulation.bundle import FirmwareBundle


def trigger(bundle: FirmwareBundle, pt_calib: np.ndarray) -> dict[str, np.ndarray]:
    """Sorted calibrated pT (descending; equal values keep the clusterer's order) and both decisions."""
    order = np.argsort(-pt_calib, axis=1, kind="stable")
    ranked = np.take_along_axis(pt_calib, order, axis=1)
    t1, t4 = (int(t) for t in bundle.trigger.thresholds)
    return {
        "sorted_pt": ranked,
        "sort_order": order,
        "pt1": ranked[:, 0],
        "pt4": ranked[:, 3],
        "pass_pt1": ranked[:, 0] >= t1,
        "pass_pt4": ranked[:, 3] >= t4,
    }
