"""Hard-scatter content of the pile-up pool and of the frozen test overlay, for the dataset card.

A soft-QCD pool event can hold a hard scatter (a 20-50 GeV jet), and with mu = 200 every pool
event is drawn into many events: one hard pool event then sits behind many test events at once,
which shapes (and correlates) the background's pT1 tail at small FPR. Hardness is the largest E_T
in one clusterer window (both layers, the spec's rounded window, phi cyclic), as a cluster would see it.
"""

from __future__ import annotations

import numba
import numpy as np

from codesign.data.detector import Geometry, SparseCells

HARD_GEV = (20.0, 50.0, 100.0)
QUANTILES = (0.5, 0.9, 0.99, 0.999)


@numba.njit(cache=True)
def _hardest_windows(offsets: np.ndarray, cells: np.ndarray, et: np.ndarray, eta_bins: int, phi_bins: int,
                     d_eta: np.ndarray, d_phi: np.ndarray) -> np.ndarray:
    """Largest window E_T of every event (each cell's E_T added to the windows that contain it)."""
    n = len(offsets) - 1
    out = np.zeros(n, np.float64)
    acc = np.zeros(eta_bins * phi_bins, np.float64)
    per_layer = eta_bins * phi_bins
    for i in range(n):
        best = 0.0
        for j in range(offsets[i], offsets[i + 1]):
            c = cells[j] % per_layer
            row, col = c // phi_bins, c % phi_bins
            for k in range(len(d_eta)):
                r = row + d_eta[k]
                if 0 <= r < eta_bins:
                    pos = r * phi_bins + (col + d_phi[k]) % phi_bins
                    acc[pos] += et[j]
                    if acc[pos] > best:
                        best = acc[pos]
        for j in range(offsets[i], offsets[i + 1]):  # clear only what this event touched
            c = cells[j] % per_layer
            row, col = c // phi_bins, c % phi_bins
            for k in range(len(d_eta)):
                r = row + d_eta[k]
                if 0 <= r < eta_bins:
                    acc[r * phi_bins + (col + d_phi[k]) % phi_bins] = 0.0
        out[i] = best
    return out


def hardest_window_et(pool: SparseCells, geometry: Geometry, mask: np.ndarray) -> np.ndarray:
    """Largest E_T (GeV) in any window of `mask` (odd square, 1 = inside) of each pool event."""
    r = mask.shape[0] // 2
    d_eta, d_phi = (a.astype(np.int64) - r for a in np.nonzero(mask))
    return _hardest_windows(pool.offsets, pool.cell.astype(np.int64), pool.et.astype(np.float64),
                            geometry.eta_bins, geometry.phi_bins, d_eta, d_phi)


def overlay_reuse(hardness: np.ndarray, offsets: np.ndarray, indices: np.ndarray) -> dict:
    """How the frozen overlay of some events (CSR offsets, pool indices) uses hard pool events."""
    events = len(offsets) - 1
    owner = np.repeat(np.arange(events), np.diff(offsets))
    out = {"events": int(events), "draws_per_pool_event": float(len(indices) / max(len(hardness), 1))}
    for cut in HARD_GEV:
        hard = hardness[indices] >= cut
        pairs = np.unique(np.stack([indices[hard], owner[hard]]), axis=1) if hard.any() else np.zeros((2, 0), int)
        users = np.bincount(pairs[0]) if pairs.shape[1] else np.zeros(0, int)
        out[f"above_{cut:g}_gev"] = {
            "events_with_one": int(len(np.unique(pairs[1]))),
            "fraction_of_events": float(len(np.unique(pairs[1])) / max(events, 1)),
            "distinct_pool_events": int((users > 0).sum()),
            "max_events_sharing_one": int(users.max(initial=0)),
        }
    return out


def pool_summary(hardness: np.ndarray) -> dict:
    """Quantiles of the pool's hardest-window E_T and the count above each cut."""
    return {"events": int(len(hardness)),
            "hardest_window_et_gev_quantiles": {f"{q:g}": round(float(np.quantile(hardness, q)), 3)
                                                for q in QUANTILES} if len(hardness) else {},
            "hardest_window_et_gev_max": round(float(hardness.max(initial=0.0)), 3),
            **{f"above_{cut:g}_gev": int((hardness >= cut).sum()) for cut in HARD_GEV}}
