"""The calorimeter model: two layers (EM, HAD) of E_T cells on an (eta, phi) grid set by the spec.

Image layout, shared by every consumer: (N, 2, eta_bins, phi_bins) float32 in GeV; layer 0 = EM
(photons, electrons), layer 1 = HAD (every other visible particle except muons); row 0 is the most
negative eta; column 0 starts at phi = -pi. Cell E_T = sum of E/cosh(eta) of the particles inside.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from codesign.data.events import Particles
from codesign.spec import Spec

N_LAYERS = 2
_EM_IDS = (22, 11)
_MUON = 13


@dataclass(frozen=True)
class Geometry:
    """Calorimeter binning: eta in [-eta_max, eta_max) in eta_bins rows, phi in [-pi, pi) in phi_bins columns."""

    eta_bins: int
    phi_bins: int
    eta_max: float

    @classmethod
    def from_spec(cls, spec: Spec) -> "Geometry":
        """The geometry of the spec's detector section."""
        d = spec.detector
        return cls(d.eta_bins, d.phi_bins, d.eta_max)

    @property
    def n_cells(self) -> int:
        """Cells of one image, both layers."""
        return N_LAYERS * self.eta_bins * self.phi_bins

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(layers, eta_bins, phi_bins)."""
        return (N_LAYERS, self.eta_bins, self.phi_bins)

    def to_json(self) -> dict:
        """The geometry as recorded in the dataset card and in every shard."""
        return {**asdict(self), "layers": ["em", "had"], "unit": "GeV", "quantity": "E_T = E/cosh(eta)"}

    def eta_edges(self) -> np.ndarray:
        """Row boundaries in eta (eta_bins + 1 values)."""
        return np.linspace(-self.eta_max, self.eta_max, self.eta_bins + 1)

    def phi_edges(self) -> np.ndarray:
        """Column boundaries in phi (phi_bins + 1 values)."""
        return np.linspace(-np.pi, np.pi, self.phi_bins + 1)


def calo_layer(pid: np.ndarray) -> np.ndarray:
    """Layer of each particle: 0 = EM (photon, electron), 1 = HAD, -1 = not seen (muon)."""
    apid = np.abs(pid)
    return np.where(np.isin(apid, _EM_IDS), 0, np.where(apid == _MUON, -1, 1))


def in_acceptance(particles: Particles, geometry: Geometry) -> np.ndarray:
    """Mask of the particles that deposit energy in the calorimeter (|eta| < eta_max, not a muon)."""
    return (np.abs(particles.eta) < geometry.eta_max) & (calo_layer(particles.pid) >= 0)


def calo_images(particles: Particles, geometry: Geometry) -> np.ndarray:
    """Cell E_T images of every event, float32 of shape (n_events, 2, eta_bins, phi_bins)."""
    keep = in_acceptance(particles, geometry)
    eta, phi = particles.eta[keep], particles.phi[keep]
    ieta = np.floor((eta + geometry.eta_max) * (geometry.eta_bins / (2 * geometry.eta_max))).astype(np.int64)
    ieta = np.clip(ieta, 0, geometry.eta_bins - 1)  # guards eta a rounding error away from the edge
    iphi = np.floor((phi + np.pi) * (geometry.phi_bins / (2 * np.pi))).astype(np.int64) % geometry.phi_bins
    cell = (calo_layer(particles.pid[keep]) * geometry.eta_bins + ieta) * geometry.phi_bins + iphi
    flat = np.bincount(particles.event[keep] * geometry.n_cells + cell, weights=particles.et[keep],
                       minlength=particles.n_events * geometry.n_cells)
    return flat.astype(np.float32).reshape(particles.n_events, *geometry.image_shape)


@dataclass(frozen=True)
class SparseCells:
    """Non-zero cells of many images in CSR form: event i owns rows offsets[i]:offsets[i+1]."""

    offsets: np.ndarray  # int64 (n+1,)
    cell: np.ndarray     # flat cell index (layer, eta, phi) in C order
    et: np.ndarray       # float32 GeV

    @property
    def n_events(self) -> int:
        """Number of images held."""
        return len(self.offsets) - 1


def cell_dtype(geometry: Geometry) -> np.dtype:
    """The smallest unsigned integer type that holds a flat cell index."""
    return np.dtype(np.uint16 if geometry.n_cells <= 1 << 16 else np.uint32)


def to_sparse(images: np.ndarray, geometry: Geometry) -> SparseCells:
    """The non-zero cells of `images` (N, 2, eta_bins, phi_bins)."""
    flat = images.reshape(len(images), -1)
    ev, cell = np.nonzero(flat)
    offsets = np.zeros(len(images) + 1, np.int64)
    np.cumsum(np.bincount(ev, minlength=len(images)), out=offsets[1:])
    return SparseCells(offsets, cell.astype(cell_dtype(geometry)), flat[ev, cell])
