"""The FirmwareBundle: the one contract between training and every firmware implementation.

A bundle holds only integers, each array with a declared fixed-point format, plus
provenance. The emulator, the HLS generator and the RTL generator read nothing else.
On disk it is a directory with ``manifest.json`` (formats, scalars, provenance, per-array
sha256 and the content hash) and ``arrays.npz`` (int64 arrays, written deterministically).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from emulation.atomic import replace_dir
from emulation.errors import BundleError, InputError
from emulation.fixed import FixedFormat
from emulation.jsoncheck import check, get, read_json, shown
from emulation.npz import read_npz, write_npz

BUNDLE_FORMAT = "codesign-firmware-bundle"
BUNDLE_VERSION = 1
MANIFEST = "manifest.json"
ARRAYS = "arrays.npz"

# Fixed-point formats a bundle must declare (names shared with codesign.derived).
FORMAT_NAMES = ("et_in", "code", "et_dec", "conv_w", "conv_b", "conv_acc", "conv_act", "log_eta",
                "dense_w", "dense_b", "dense1_acc", "dense_act", "dense_acc", "seg_w", "et_pred",
                "cluster_pt", "pt_calib")

# Depthwise tap groups of the (eta, phi)-symmetric 3x3 kernel, in storage order.
KERNEL_TAPS = ("centre", "eta_pair", "phi_pair", "corners")
DEPTH_MULTIPLIER = 4
HIDDEN = 32
MAX_PIXELS = 1 << 20  # per layer: the spec allows at most 1024 x 1024
MAX_ARRAY_ELEMENTS = 1 << 24  # the largest array (the calibration LUT) is far below this


def _arr(fmt: str) -> Any:
    """Dataclass field holding an integer array in the named fixed-point format."""
    return field(metadata={"format": fmt})


@dataclass(frozen=True)
class Geometry:
    """Image shape the bundle was made for."""

    eta_bins: int
    phi_bins: int
    n_layers: int


@dataclass(frozen=True)
class QuantiserParams:
    """Per layer: encoder thresholds (code = number of thresholds <= E_T) and decoder LUT."""

    thresholds: np.ndarray = _arr("et_in")  # (n_layers, levels - 1), non-decreasing
    levels: np.ndarray = _arr("et_dec")  # (n_layers, levels), non-decreasing


@dataclass(frozen=True)
class CnnParams:
    """CNN denoiser weights; depthwise output channel index = layer * 4 + multiplier (Keras order)."""

    dw_kernel: np.ndarray = _arr("conv_w")  # (n_layers, 4, 4): taps centre, eta pair, phi pair, corners
    dw_bias: np.ndarray = _arr("conv_b")  # (n_layers, 4)
    log_eta: np.ndarray = _arr("log_eta")  # (eta_bins,) log|eta| of each row centre
    dense1_w: np.ndarray = _arr("dense_w")  # (n_layers * 4 + 1, 32); last input row is log|eta|
    dense1_b: np.ndarray = _arr("dense_b")  # (32,)
    dense2_w: np.ndarray = _arr("dense_w")  # (32, 32)
    dense2_b: np.ndarray = _arr("dense_b")  # (32,)
    dense3_w: np.ndarray = _arr("dense_w")  # (32, n_layers)
    dense3_b: np.ndarray = _arr("dense_b")  # (n_layers,)


@dataclass(frozen=True)
class ClustererParams:
    """Cone clusterer: window shape, seed threshold (E_pred raw) and number of output clusters."""

    window_mask: np.ndarray = _arr("")  # (w, w) of 0/1, symmetric, centre set
    seed_threshold: np.ndarray = _arr("et_pred")  # () seeds need E_pred > threshold
    n_clusters: np.ndarray = _arr("")  # () output list length


@dataclass(frozen=True)
class CalibrationParams:
    """Calibration LUT over (|eta| bin, log-spaced cluster-pT address); monotone in pT."""

    lut: np.ndarray = _arr("pt_calib")  # (abs_eta_bins, addresses)
    eta_bin_of_row: np.ndarray = _arr("")  # (eta_bins,) row -> |eta| bin
    mantissa_bits: np.ndarray = _arr("")  # () address mantissa bits


@dataclass(frozen=True)
class TriggerParams:
    """Trigger thresholds on calibrated pT: pT1 >= thresholds[0], pT4 >= thresholds[1]."""

    thresholds: np.ndarray = _arr("pt_calib")  # (2,)


@dataclass(frozen=True)
class Provenance:
    """Where a bundle came from; part of the content hash, so it holds nothing volatile."""

    spec_name: str
    spec_hash: str
    codesign_version: str
    seed: int
    source: str  # "random" or "export"
    dataset_hash: str | None = None
    run: str | None = None
    packages: dict[str, str] = field(default_factory=dict)


BLOCKS: dict[str, type] = {
    "quantiser": QuantiserParams,
    "cnn": CnnParams,
    "clusterer": ClustererParams,
    "calibration": CalibrationParams,
    "trigger": TriggerParams,
}


@dataclass(frozen=True)
class FirmwareBundle:
    """A validated, integer-only description of the whole trigger chain."""

    geometry: Geometry
    formats: dict[str, FixedFormat]
    quantiser: QuantiserParams
    cnn: CnnParams
    clusterer: ClustererParams
    calibration: CalibrationParams
    trigger: TriggerParams
    provenance: Provenance

    # ------------------------------------------------------------------ access

    @property
    def levels(self) -> int:
        return int(self.quantiser.levels.shape[1])

    def arrays(self) -> dict[str, np.ndarray]:
        """All arrays by dotted name (``block.field``), in a fixed order."""
        out = {}
        for block in BLOCKS:
            params = getattr(self, block)
            for f in dataclasses.fields(params):
                out[f"{block}.{f.name}"] = getattr(params, f.name)
        return out

    def array_format(self, name: str) -> FixedFormat | None:
        block, fname = name.split(".")
        fmt = {f.name: f.metadata["format"] for f in dataclasses.fields(BLOCKS[block])}[fname]
        return self.formats[fmt] if fmt else None

    # ------------------------------------------------------------------ hashing

    def _header(self) -> dict[str, Any]:
        return {
            "format": BUNDLE_FORMAT,
            "version": BUNDLE_VERSION,
            "geometry": dataclasses.asdict(self.geometry),
            "formats": {k: self.formats[k].to_json() for k in sorted(self.formats)},
            "provenance": dataclasses.asdict(self.provenance),
        }

    def array_digests(self) -> dict[str, dict[str, Any]]:
        return {name: {"shape": list(a.shape), "sha256": _digest(a)} for name, a in self.arrays().items()}

    def content_hash(self) -> str:
        """sha256 over the header and every array's canonical bytes (int64 little-endian, C order)."""
        doc = dict(self._header(), arrays=self.array_digests())
        return hashlib.sha256(_canonical_json(doc).encode()).hexdigest()

    # ------------------------------------------------------------------ persistence

    def save(self, path: str | Path) -> str:
        """Write the bundle directory atomically (temp dir, then rename); returns the content hash."""
        self.validate()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        digest = self.content_hash()
        manifest = dict(self._header(), arrays=self.array_digests(), content_hash=digest)
        with replace_dir(path) as tmp:
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
            write_npz(tmp / ARRAYS, self.arrays())
        return digest

    @classmethod
    def load(cls, path: str | Path) -> "FirmwareBundle":
        """Read, hash-check and validate a bundle; any problem is a one-line `BundleError`."""
        path = Path(path)
        if not path.is_dir():
            raise BundleError(f"bundle {str(path)!r}: not a directory (expected {MANIFEST} and {ARRAYS})")
        manifest = read_json(path / MANIFEST, f"bundle {str(path)!r}", BundleError)
        arrays = _read_npz(path / ARRAYS, path)
        bundle = from_manifest(manifest, arrays, str(path))
        want = manifest.get("content_hash")
        got = bundle.content_hash()
        if want != got:
            raise BundleError(f"bundle {str(path)!r}: content hash mismatch (manifest {str(want)[:12]}..., "
                              f"contents {got[:12]}...): the bundle is corrupt or was edited")
        return bundle

    # ------------------------------------------------------------------ validation

    def validate(self) -> None:
        """Check shapes, format ranges and the semantic invariants of every block."""
        where = "bundle"
        missing = [k for k in FORMAT_NAMES if k not in self.formats]
        if missing:
            raise BundleError(f"{where}: formats.{missing[0]} is missing")
        g = self.geometry
        if g.n_layers != 2 or g.eta_bins < 3 or g.phi_bins < 3:
            raise BundleError(f"{where}: geometry {dataclasses.asdict(g)} is not a 2-layer image of at least 3x3")
        levels = self.quantiser.levels.shape[-1] if self.quantiser.levels.ndim == 2 else -1
        n_in = g.n_layers * DEPTH_MULTIPLIER + 1
        w = self.clusterer.window_mask.shape[0] if self.clusterer.window_mask.ndim == 2 else -1
        n_calib = self.calibration.lut.shape[0] if self.calibration.lut.ndim == 2 else -1
        shapes = {
            "quantiser.thresholds": (g.n_layers, levels - 1),
            "quantiser.levels": (g.n_layers, levels),
            "cnn.dw_kernel": (g.n_layers, DEPTH_MULTIPLIER, len(KERNEL_TAPS)),
            "cnn.dw_bias": (g.n_layers, DEPTH_MULTIPLIER),
            "cnn.log_eta": (g.eta_bins,),
            "cnn.dense1_w": (n_in, HIDDEN),
            "cnn.dense1_b": (HIDDEN,),
            "cnn.dense2_w": (HIDDEN, HIDDEN),
            "cnn.dense2_b": (HIDDEN,),
            "cnn.dense3_w": (HIDDEN, g.n_layers),
            "cnn.dense3_b": (g.n_layers,),
            "clusterer.window_mask": (w, w),
            "clusterer.seed_threshold": (),
            "clusterer.n_clusters": (),
            "calibration.lut": (n_calib, self.calibration.lut.shape[-1] if self.calibration.lut.ndim else -1),
            "calibration.eta_bin_of_row": (g.eta_bins,),
            "calibration.mantissa_bits": (),
            "trigger.thresholds": (2,),
        }
        for name, arr in self.arrays().items():
            if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "iu":
                raise BundleError(f"{where}: {name} is not an integer array")
            if arr.shape != shapes[name] or -1 in shapes[name]:
                raise BundleError(f"{where}: {name} has shape {arr.shape}, expected {shapes[name]}")
            fmt = self.array_format(name)
            if fmt is not None and not fmt.contains(arr):
                raise BundleError(f"{where}: {name} has values in [{arr.min()}, {arr.max()}] outside "
                                  f"{fmt.cpp()} raw range [{fmt.raw_min}, {fmt.raw_max}]")
        if levels < 2 or levels != 1 << self.formats["code"].width:
            raise BundleError(f"{where}: quantiser has {levels} levels, expected 2**{self.formats['code'].width}")
        _non_decreasing(self.quantiser.thresholds, "quantiser.thresholds", where)
        _non_decreasing(self.quantiser.levels, "quantiser.levels", where)
        mask = self.clusterer.window_mask
        if w < 3 or w % 2 == 0 or not np.isin(mask, (0, 1)).all() or mask[w // 2, w // 2] != 1 \
                or not (mask == mask[::-1, :]).all() or not (mask == mask[:, ::-1]).all() or w > min(g.eta_bins, g.phi_bins):
            raise BundleError(f"{where}: clusterer.window_mask must be an odd, 0/1, eta- and phi-symmetric "
                              f"window with its centre set, no larger than the image")
        if not 4 <= int(self.clusterer.n_clusters) <= 64:
            raise BundleError(f"{where}: clusterer.n_clusters = {int(self.clusterer.n_clusters)}, expected 4..64")
        m = int(self.calibration.mantissa_bits)
        if not 1 <= m <= 8:
            raise BundleError(f"{where}: calibration.mantissa_bits = {m}, expected 1..8")
        from emulation.semantics import calib_address_count  # the one definition of the address map

        want = calib_address_count(self.formats["cluster_pt"].width, m)
        if self.calibration.lut.shape[1] != want:
            raise BundleError(f"{where}: calibration.lut has {self.calibration.lut.shape[1]} pT addresses, "
                              f"expected {want} for {self.formats['cluster_pt'].cpp()} and {m} mantissa bits")
        rows = self.calibration.eta_bin_of_row
        if rows.min() < 0 or rows.max() >= n_calib:
            raise BundleError(f"{where}: calibration.eta_bin_of_row points outside the {n_calib} |eta| bins")
        _non_decreasing(self.calibration.lut, "calibration.lut", where, monotone_what="in cluster pT")


# ---------------------------------------------------------------------- helpers


def _canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def _canonical_bytes(a: np.ndarray) -> bytes:
    return np.array(a, dtype="<i8", order="C").tobytes()


def _digest(a: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update(_canonical_json(list(a.shape)).encode())
    h.update(_canonical_bytes(a))
    return h.hexdigest()


def _non_decreasing(a: np.ndarray, name: str, where: str, monotone_what: str = "") -> None:
    if a.shape[-1] < 2:
        return
    bad = np.argwhere(np.diff(a.astype(np.int64), axis=-1) < 0)
    if bad.size:
        idx = tuple(int(i) for i in bad[0])
        row, col = idx[:-1], idx[-1]
        at = f"{name}[{', '.join(map(str, row + (col + 1,)))}]"
        prev = a[row + (col,)]
        cur = a[row + (col + 1,)]
        what = f" {monotone_what}" if monotone_what else ""
        raise BundleError(f"{where}: {name} is not monotone non-decreasing{what}: {at} = {cur} < previous {prev}")


def _read_npz(path: Path, bundle: Path) -> dict[str, np.ndarray]:
    """The bundle's arrays; headers are checked before anything is allocated."""
    return read_npz(path, f"bundle {str(bundle)!r}", max_elements=MAX_ARRAY_ELEMENTS, error=BundleError)


def _provenance(obj: Any, where: str) -> Provenance:
    """Provenance with every field of its declared type."""
    w = f"bundle {where!r}: manifest provenance"
    extra = sorted(set(obj) - {f.name for f in dataclasses.fields(Provenance)}) if isinstance(obj, dict) else []
    if extra:
        raise BundleError(f"{w}.{str(extra[0])[:40]}: unknown key")
    packages = get(obj, "packages", "dict", w, BundleError, optional=True) or {}
    for k, v in packages.items():
        check(v, "str", f"{w}.packages.{str(k)[:40]}", BundleError)
    return Provenance(spec_name=get(obj, "spec_name", "str", w, BundleError),
                      spec_hash=get(obj, "spec_hash", "str", w, BundleError),
                      codesign_version=get(obj, "codesign_version", "str", w, BundleError),
                      seed=get(obj, "seed", "int", w, BundleError),
                      source=get(obj, "source", "str", w, BundleError),
                      dataset_hash=get(obj, "dataset_hash", "str", w, BundleError, optional=True),
                      run=get(obj, "run", "str", w, BundleError, optional=True),
                      packages=dict(packages))


def _geometry(obj: Any, where: str) -> Geometry:
    w = f"bundle {where!r}: manifest geometry"
    extra = sorted(set(obj) - {"eta_bins", "phi_bins", "n_layers"}) if isinstance(obj, dict) else []
    if extra:
        raise BundleError(f"{w}.{str(extra[0])[:40]}: unknown key")
    return Geometry(eta_bins=get(obj, "eta_bins", "int", w, BundleError, lo=3),
                    phi_bins=get(obj, "phi_bins", "int", w, BundleError, lo=3),
                    n_layers=get(obj, "n_layers", "int", w, BundleError, lo=1))


def from_manifest(manifest: Any, arrays: dict[str, np.ndarray], where: str = "bundle") -> FirmwareBundle:
    """Build and validate a bundle from a manifest dict and its arrays."""
    if not isinstance(manifest, dict):
        raise BundleError(f"bundle {where!r}: manifest is not a JSON object")
    if manifest.get("format") != BUNDLE_FORMAT:
        raise BundleError(f"bundle {where!r}: manifest format is {manifest.get('format')!r}, expected {BUNDLE_FORMAT!r}")
    if manifest.get("version") != BUNDLE_VERSION:
        raise BundleError(f"bundle {where!r}: manifest version {manifest.get('version')!r}, this codesign reads "
                          f"version {BUNDLE_VERSION}")
    geometry = _geometry(get(manifest, "geometry", "dict", f"bundle {where!r}: manifest", BundleError), where)
    if geometry.eta_bins * geometry.phi_bins > MAX_PIXELS:
        raise BundleError(f"bundle {where!r}: manifest geometry {geometry.eta_bins}x{geometry.phi_bins}: expected at "
                          f"most {MAX_PIXELS} pixels")
    formats = {}
    for k, v in get(manifest, "formats", "dict", f"bundle {where!r}: manifest", BundleError).items():
        try:
            formats[k] = FixedFormat.from_json(v)
        except InputError as exc:
            raise BundleError(f"bundle {where!r}: manifest formats.{str(k)[:40]}: {exc}") from None
    provenance = _provenance(get(manifest, "provenance", "dict", f"bundle {where!r}: manifest", BundleError), where)
    get(manifest, "content_hash", "hex", f"bundle {where!r}: manifest", BundleError)
    blocks = {}
    for block, cls in BLOCKS.items():
        values = {}
        for f in dataclasses.fields(cls):
            key = f"{block}.{f.name}"
            if key not in arrays:
                raise BundleError(f"bundle {where!r}: array {key} is missing from {ARRAYS}")
            values[f.name] = np.asarray(arrays[key])
        blocks[block] = cls(**values)
    extra = sorted(set(arrays) - {f"{b}.{f.name}" for b, c in BLOCKS.items() for f in dataclasses.fields(c)})
    if extra:
        raise BundleError(f"bundle {where!r}: unexpected array {extra[0]} in {ARRAYS}")
    bundle = FirmwareBundle(geometry=geometry, formats=formats, provenance=provenance, **blocks)
    try:
        bundle.validate()
    except BundleError as exc:
        raise BundleError(str(exc).replace("bundle:", f"bundle {where!r}:", 1)) from None
    return bundle
