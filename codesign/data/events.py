"""Pythia event generation: one seeded generator per shard, events returned as flat particle arrays."""

from __future__ import annotations

from dataclasses import dataclass

import awkward as ak
import numpy as np

from codesign.data.processes import Process

_NEUTRINOS = (12, 14, 16)
_BATCH = 100  # events per `Pythia.nextBatch` call: bounds the awkward record's memory


@dataclass(frozen=True)
class Particles:
    """Visible (non-neutrino) final-state particles of `n_events` events, one row per particle."""

    n_events: int
    event: np.ndarray  # int64 index of the owning event, non-decreasing
    pid: np.ndarray    # int32 PDG id
    px: np.ndarray     # float64 GeV
    py: np.ndarray
    pz: np.ndarray
    e: np.ndarray

    @property
    def pt(self) -> np.ndarray:
        """Transverse momentum in GeV."""
        return np.hypot(self.px, self.py)

    @property
    def eta(self) -> np.ndarray:
        """Pseudorapidity asinh(pz/pt)."""
        return np.arcsinh(self.pz / self.pt)

    @property
    def phi(self) -> np.ndarray:
        """Azimuth in [-pi, pi]."""
        return np.arctan2(self.py, self.px)

    @property
    def et(self) -> np.ndarray:
        """Transverse energy E/cosh(eta) in GeV (the calorimeter's measured quantity)."""
        return self.e / np.cosh(self.eta)

    def of_event(self, i: int) -> "Particles":
        """The particles of event `i` alone."""
        lo, hi = np.searchsorted(self.event, [i, i + 1])
        sl = slice(lo, hi)
        return Particles(1, np.zeros(hi - lo, np.int64), self.pid[sl], self.px[sl], self.py[sl],
                         self.pz[sl], self.e[sl])


def _particles_from_batch(batch: ak.Array) -> Particles:
    prt = batch.prt
    keep = (prt.status > 0) & (prt.p.px ** 2 + prt.p.py ** 2 > 0)
    for nu in _NEUTRINOS:
        keep = keep & (abs(prt.id) != nu)
    prt = prt[keep]
    counts = ak.to_numpy(ak.num(prt, axis=1))

    def flat(x: ak.Array, dtype: type) -> np.ndarray:
        return np.ascontiguousarray(ak.to_numpy(ak.flatten(x)), dtype=dtype)

    return Particles(len(counts), np.repeat(np.arange(len(counts), dtype=np.int64), counts),
                     flat(prt.id, np.int32), flat(prt.p.px, np.float64), flat(prt.p.py, np.float64),
                     flat(prt.p.pz, np.float64), flat(prt.p.e, np.float64))


def _concat(parts: list[Particles]) -> Particles:
    offsets = np.cumsum([0] + [p.n_events for p in parts[:-1]])
    return Particles(sum(p.n_events for p in parts),
                     np.concatenate([p.event + o for p, o in zip(parts, offsets)]),
                     *(np.concatenate([getattr(p, f) for p in parts]) for f in ("pid", "px", "py", "pz", "e")))


class EventSource:
    """A Pythia generator for one process and seed; same seed, same events, bit for bit."""

    def __init__(self, process: Process, seed: int) -> None:
        import pythia8mc

        self.process = process
        self._pythia = pythia8mc.Pythia("", False)
        for line in process.pythia_settings(seed):
            if not self._pythia.readString(line):
                raise RuntimeError(f"Pythia rejected setting {line!r} for process {process.name}")
        if not self._pythia.init():
            raise RuntimeError(f"Pythia failed to initialise process {process.name}")

    def generate(self, n: int) -> tuple[Particles, np.ndarray]:
        """The next `n` events as particles, with their generator weights (float64, shape (n,))."""
        parts: list[Particles] = []
        weights: list[np.ndarray] = []
        done = 0
        while done < n:
            batch = self._pythia.nextBatch(min(_BATCH, n - done))
            if len(batch) == 0:
                raise RuntimeError(f"Pythia failed every event of a batch for process {self.process.name}")
            parts.append(_particles_from_batch(batch))
            weights.append(ak.to_numpy(batch.info.weights[:, 0]).astype(np.float64))
            done += len(batch)
        return _concat(parts), np.concatenate(weights)

    def sigma_gen_pb(self) -> float:
        """Pythia's estimate of the generated cross section so far, in pb."""
        return float(self._pythia.infoPython().sigmaGen()) * 1e9


def event_particles(process: Process, seed: int, index: int) -> Particles:
    """Regenerate the particles of event `index` of the generator seeded `seed` (for validation)."""
    particles, _ = EventSource(process, seed).generate(index + 1)
    return particles.of_event(index)
