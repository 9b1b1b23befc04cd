"""Truth jets: anti-kt R=0.4 on all visible final-state particles (every eta), with fastjet's vectorised mode."""

from __future__ import annotations

import awkward as ak
import numpy as np

from codesign.data.events import Particles

JET_R = 0.4
JET_PT_MIN_GEV = 20.0
MAX_JETS = 16  # jets kept per event (highest pT first); the card records how many events had more
JET_FIELDS = ("pt", "eta", "phi", "m")


def truth_jets(particles: Particles) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(jets float32 (N, MAX_JETS, 4) as pt/eta/phi/m sorted by pt desc and zero padded,
    n_jets int32 (N,) kept, n_all int32 (N,) found above the pT cut)."""
    import fastjet

    counts = np.bincount(particles.event, minlength=particles.n_events)
    momenta = ak.unflatten(ak.zip({"px": particles.px, "py": particles.py, "pz": particles.pz,
                                   "E": particles.e}), counts)
    jetdef = fastjet.JetDefinition(fastjet.antikt_algorithm, JET_R)
    found = fastjet.ClusterSequence(momenta, jetdef).inclusive_jets(min_pt=JET_PT_MIN_GEV)
    px, py, pz, e = (np.asarray(ak.to_numpy(ak.flatten(found[f])), np.float64) for f in ("px", "py", "pz", "E"))
    n_all = ak.to_numpy(ak.num(found, axis=1)).astype(np.int32)
    owner = np.repeat(np.arange(particles.n_events), n_all)
    pt = np.hypot(px, py)
    values = np.stack([pt, np.arcsinh(pz / pt), np.arctan2(py, px),
                       np.sqrt(np.maximum(e ** 2 - px ** 2 - py ** 2 - pz ** 2, 0.0))], axis=1)
    order = np.lexsort((-pt, owner))                      # by event, then pt descending
    rank = np.arange(len(order)) - np.repeat(np.cumsum(n_all) - n_all, n_all)
    keep = rank < MAX_JETS
    jets = np.zeros((particles.n_events, MAX_JETS, 4), np.float32)
    jets[owner[keep], rank[keep]] = values[order][keep]
    return jets, np.minimum(n_all, MAX_JETS).astype(np.int32), n_all
