"""Cone clusterer, bit-accurate: local maxima of E_pred in the rounded window, window sums, top N.

Seed rule (SEMANTICS.md): pixel p is a seed when E[p] > seed_threshold, E[p] > E[q] for every
window neighbour q at an offset before p in raster order (d_eta < 0, or d_eta = 0 and
d_phi < 0) and E[p] >= E[q] for every neighbour after it, so of two equal maxima the one
earlier in raster order wins. phi wraps around; rows outside the image do not exist.
Cluster pT is the exact sum of E over the window; the N largest are kept, ties going to
the lower raster index (eta row * W + phi column), zero padded.
"""

from __future__ import annotations

import numba
import numpy as np

from emulation.bundle import FirmwareBundle


def window_offsets(mask: np.ndarray) -> np.ndarray:
    """(K, 3) int64 rows (d_eta, d_phi, after) for every window cell except the centre, in raster order."""
    r = mask.shape[0] // 2
    rows = []
    for i in range(mask.shape[0]):
        for j in range(mask.shape[1]):
            de, dp = i - r, j - r
            if mask[i, j] and (de, dp) != (0, 0):
                rows.append((de, dp, 1 if (de > 0 or (de == 0 and dp > 0)) else 0))
    return np.array(rows, dtype=np.int64)


@numba.njit(cache=True)
def _cluster_event(e: np.ndarray, offsets: np.ndarray, threshold: int, n_out: int,
                   pt: np.ndarray, ieta: np.ndarray, iphi: np.ndarray, is_seed: np.ndarray) -> int:
    h, w = e.shape
    n_found = 0
    for i in range(h):
        for j in range(w):
            v = e[i, j]
            if v <= threshold:
                continue
            seed = True
            for k in range(offsets.shape[0]):
                ii = i + offsets[k, 0]
                if ii < 0 or ii >= h:
                    continue
                q = e[ii, (j + offsets[k, 1]) % w]
                if q > v or (q == v and offsets[k, 2] == 0):
                    seed = False
                    break
            if not seed:
                continue
            total = v
            for k in range(offsets.shape[0]):
                ii = i + offsets[k, 0]
                if 0 <= ii < h:
                    total += e[ii, (j + offsets[k, 1]) % w]
            is_seed[i, j] = True
            # insert into the descending top-N list; equal pT keeps the earlier (raster) seed first
            pos = n_found if n_found < n_out else n_out
            while pos > 0 and pt[pos - 1] < total:
                pos -= 1
            if pos >= n_out:
                continue
            last = n_found if n_found < n_out else n_out - 1
            for s in range(last, pos, -1):
                pt[s] = pt[s - 1]
                ieta[s] = ieta[s - 1]
                iphi[s] = iphi[s - 1]
            pt[pos] = total
            ieta[pos] = i
            iphi[pos] = j
            if n_found < n_out:
                n_found += 1
    return n_found


@numba.njit(parallel=True, cache=True)
def _cluster_batch(e: np.ndarray, offsets: np.ndarray, threshold: int, n_out: int):
    b, h, w = e.shape
    pt = np.zeros((b, n_out), dtype=np.int64)
    ieta = np.zeros((b, n_out), dtype=np.int64)
    iphi = np.zeros((b, n_out), dtype=np.int64)
    n = np.zeros(b, dtype=np.int64)
    seeds = np.zeros((b, h, w), dtype=np.bool_)
    for ev in numba.prange(b):
        n[ev] = _cluster_event(e[ev], offsets, threshold, n_out, pt[ev], ieta[ev], iphi[ev], seeds[ev])
    return pt, ieta, iphi, n, seeds


def cluster(bundle: FirmwareBundle, et_pred: np.ndarray) -> dict[str, np.ndarray]:
    """Clusters of a batch of E_pred images (B, H, W): pt (cluster_pt raw), ieta, iphi, n, seed map."""
    c = bundle.clusterer
    pt, ieta, iphi, n, seeds = _cluster_batch(np.ascontiguousarray(et_pred, dtype=np.int64),
                                              window_offsets(c.window_mask), int(c.seed_threshold),
                                              int(c.n_clusters))
    return {"cluster_pt": pt, "cluster_ieta": ieta, "cluster_iphi": iphi, "n_clusters": n, "seeds": seeds}
