"""Calorimeter response: per-layer energy resolution and zero suppression, applied to each measured image.

A model is Delphes' `SimpleCalorimeter` at the image's cell granularity. For a cell of true energy
E = E_T cosh(eta_cell) > 0 the resolution is sigma(E) = sqrt(a^2 E + b^2 + c^2 E^2) (stochastic a,
noise b, constant c of the cell's layer and |eta| region); the measured energy is drawn from the
log-normal of mean E and standard deviation sigma(E) (Delphes' `LogNormal`), and set to 0 below
`energy_min` or below `significance_min` * sigma(E). Empty cells stay empty, as in Delphes.
The draws of one event are seeded by that event's entropy alone, so results do not depend on batching.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numba
import numpy as np

from codesign.data.detector import Geometry
from codesign.data.pileup import _next_double, _pcg64_seed, _seed_words
from codesign.errors import InputError


@dataclass(frozen=True)
class Region:
    """Resolution terms of one layer for |eta| below `abs_eta_max` (GeV units, E not E_T)."""

    abs_eta_max: float
    stochastic: float   # a, GeV^(1/2)
    noise: float        # b, GeV
    constant: float     # c


@dataclass(frozen=True)
class LayerResponse:
    """Resolution regions (ascending |eta|) and zero-suppression thresholds of one calorimeter layer."""

    regions: tuple[Region, ...]
    energy_min: float        # GeV
    significance_min: float  # in units of sigma(E)


@dataclass(frozen=True)
class Response:
    """A named response model of both layers (EM, HAD); `ideal` has no layers and changes nothing."""

    name: str
    layers: tuple[LayerResponse, ...]
    reference: str

    @property
    def ideal(self) -> bool:
        """True when the measured image is the deposited E_T itself."""
        return not self.layers

    def to_json(self) -> dict:
        """The model as recorded in the dataset card."""
        return asdict(self)

    def sigma_tables(self, geometry: Geometry) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per flat cell (layer, eta, phi): a^2, b^2, c^2 and cosh(eta at the cell centre)."""
        centres = (geometry.eta_edges()[:-1] + geometry.eta_edges()[1:]) / 2
        terms = np.zeros((3, len(self.layers), geometry.eta_bins))
        for li, layer in enumerate(self.layers):
            for ei, eta in enumerate(np.abs(centres)):
                region = next((r for r in layer.regions if eta <= r.abs_eta_max), layer.regions[-1])
                terms[:, li, ei] = (region.stochastic ** 2, region.noise ** 2, region.constant ** 2)
        per_cell = np.repeat(terms[..., None], geometry.phi_bins, axis=-1).reshape(3, -1)
        cosh = np.broadcast_to(np.cosh(centres)[None, :, None], geometry.image_shape).reshape(-1)
        return per_cell[0], per_cell[1], per_cell[2], np.ascontiguousarray(cosh)

    def thresholds(self, geometry: Geometry) -> tuple[np.ndarray, np.ndarray]:
        """Per flat cell: energy_min (GeV) and significance_min of its layer."""
        per_layer = geometry.eta_bins * geometry.phi_bins
        e_min = np.repeat([layer.energy_min for layer in self.layers], per_layer)
        s_min = np.repeat([layer.significance_min for layer in self.layers], per_layer)
        return e_min, s_min


_DELPHES_ATLAS_REF = ("Delphes 3.5 cards/delphes_card_ATLAS.tcl, modules ECal and HCal (SimpleCalorimeter): "
                      "ECal sqrt((0.0017 E)^2 + 0.101^2 E) for |eta| <= 3.2, EnergyMin 0.5 GeV; HCal "
                      "sqrt((0.0302 E)^2 + 0.5205^2 E + 1.59^2) for |eta| <= 1.7 and sqrt((0.05 E)^2 + 0.706^2 E) "
                      "for 1.7 < |eta| <= 3.2, EnergyMin 1.0 GeV; EnergySignificanceMin 2.0 for both")

RESPONSES: dict[str, Response] = {r.name: r for r in (
    Response("ideal", (), "none: cell E_T is the deposited E_T"),
    Response("delphes-atlas", (
        LayerResponse((Region(3.2, 0.101, 0.0, 0.0017),), energy_min=0.5, significance_min=2.0),
        LayerResponse((Region(1.7, 0.5205, 1.59, 0.0302), Region(3.2, 0.706, 0.0, 0.05)),
                      energy_min=1.0, significance_min=2.0),
    ), _DELPHES_ATLAS_REF),
)}


def get_response(name: str) -> Response:
    """The response model called `name`, or an InputError listing the known ones."""
    try:
        return RESPONSES[name]
    except KeyError:
        raise InputError(f"response {name!r}: unknown (known: {', '.join(RESPONSES)})") from None


@numba.njit(cache=True, nogil=True)
def _smear(flat: np.ndarray, entropies: np.ndarray, a2: np.ndarray, b2: np.ndarray, c2: np.ndarray,
           cosh: np.ndarray, e_min: np.ndarray, s_min: np.ndarray, out: np.ndarray) -> None:
    """out[i] = measured E_T of the cells of flat[i]; one PCG64 stream per event, one normal per non-empty cell."""
    state = np.empty(4, np.uint64)
    for i in range(flat.shape[0]):
        _pcg64_seed(_seed_words(entropies[i]), state)
        spare, have_spare = 0.0, False
        for c in range(flat.shape[1]):
            if flat[i, c] <= 0:
                out[i, c] = 0.0
                continue
            if have_spare:  # the polar method gives normals in pairs
                gauss, have_spare = spare, False
            else:
                while True:
                    x1, x2 = 2.0 * _next_double(state) - 1.0, 2.0 * _next_double(state) - 1.0
                    r2 = x1 * x1 + x2 * x2
                    if 0.0 < r2 < 1.0:
                        break
                f = math.sqrt(-2.0 * math.log(r2) / r2)
                gauss, spare, have_spare = x2 * f, x1 * f, True
            energy = np.float64(flat[i, c]) * cosh[c]
            sigma = math.sqrt(a2[c] * energy + b2[c] + c2[c] * energy * energy)
            b2_log = math.log1p((sigma / energy) ** 2)  # log-normal: b^2 = log(1 + sigma^2 / E^2), mean E
            measured = energy * math.exp(math.sqrt(b2_log) * gauss - 0.5 * b2_log)
            kept = measured >= e_min[c] and measured >= s_min[c] * sigma
            out[i, c] = np.float32(measured / cosh[c]) if kept else np.float32(0.0)


class Smearing:
    """A response model bound to a geometry: `apply(images, entropies)` gives the measured images.

    Event i's normals come from PCG64 seeded by SeedSequence(entropies[i]) (as
    `np.random.default_rng(entropies[i]).random()` draws them), turned into normals in pairs by the
    polar method (numpy's legacy_gauss), one per non-empty cell in C order. The kernel releases the GIL, so the loader thread can run it.
    """

    def __init__(self, response: Response, geometry: Geometry) -> None:
        self.response = response
        self.geometry = geometry
        if not response.ideal:
            self._tables = (*response.sigma_tables(geometry), *response.thresholds(geometry))

    def apply(self, images: np.ndarray, entropies: np.ndarray) -> np.ndarray:
        """Measured float32 images (N, layers, eta, phi) of true E_T `images`; event i's draws are seeded by entropies[i]."""
        if self.response.ideal:
            return images
        flat = np.ascontiguousarray(images, np.float32).reshape(len(images), -1)
        out = np.empty_like(flat)
        _smear(flat, np.asarray(entropies, np.int64), *self._tables, out)
        return out.reshape(images.shape)
