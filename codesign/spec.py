"""The constraint spec: YAML schema, loader and validation.

One spec (bandwidth, latency, precision, FPGA part) drives both training and firmware.
Every validation failure raises `SpecError` with one line naming the key path, the bad
value and what was expected; the CLI turns it into exit code 2.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable

import yaml

from codesign.errors import SpecError
from emulation.jsoncheck import shown

SPEC_SCHEMA_VERSION = 1


# --------------------------------------------------------------------------- typed spec


@dataclass(frozen=True)
class TargetSpec:
    part: str
    clock_mhz: float


@dataclass(frozen=True)
class DetectorSpec:
    eta_bins: int
    phi_bins: int
    eta_max: float
    layers: tuple[str, ...]
    bunch_crossing_mhz: float


@dataclass(frozen=True)
class LatencySpec:
    """Latency budgets in microseconds; None means the block has no budget of its own."""

    chain_us: float
    denoise_us: float
    quantise_us: float | None = None
    cluster_us: float | None = None
    calibrate_us: float | None = None
    trigger_us: float | None = None
    pipeline_overhead: float = 0.05


@dataclass(frozen=True)
class InputEtSpec:
    bits: int
    lsb_gev: float


@dataclass(frozen=True)
class CnnPrecisionSpec:
    bits: int
    weight_int_bits: int = 1
    bias_int_bits: int = 6
    act_int_bits: int = 6
    log_eta_int_bits: int = 3


@dataclass(frozen=True)
class PrecisionSpec:
    input_et: InputEtSpec
    cnn: CnnPrecisionSpec
    pred_et: InputEtSpec
    calibrated_pt: InputEtSpec


@dataclass(frozen=True)
class ClustererSpec:
    window: int = 9
    n_clusters: int = 10


@dataclass(frozen=True)
class CalibrationSpec:
    abs_eta_bins: int = 5
    mantissa_bits: int = 4


@dataclass(frozen=True)
class TriggerSpec:
    fpr: float
    objects: tuple[str, ...] = ("pt1", "pt4")


MULTIPLIERS = ("dsp", "lut")


@dataclass(frozen=True)
class FirmwareSpec:
    """Choices of the generated firmware that leave its arithmetic, and so the bundle, unchanged."""

    multipliers: str = "dsp"  # constant multiplications in DSP48E2 slices, or in LUTs
    register_products: bool = False  # register the CNN pixel network's tap sums and products (+6 cycles)
    register_decision: bool = False  # register the sorted pT before the trigger's threshold compares (+1 cycle)


@dataclass(frozen=True)
class Spec:
    """A validated constraint spec."""

    name: str
    description: str
    target: TargetSpec
    detector: DetectorSpec
    bandwidth_tbps: float
    latency: LatencySpec
    precision: PrecisionSpec
    clusterer: ClustererSpec
    calibration: CalibrationSpec
    trigger: TriggerSpec
    firmware: FirmwareSpec = field(default_factory=FirmwareSpec)
    source: str = field(default="<memory>", compare=False)

    def canonical(self) -> dict[str, Any]:
        """The spec as plain data (no source path), the input of `spec_hash`; firmware keys at their defaults are
        left out, so a spec keeps its hash when the firmware section gains a key."""
        d = asdict(self)
        d.pop("source")
        default = asdict(FirmwareSpec())
        d["firmware"] = {k: v for k, v in d["firmware"].items() if v != default[k]}
        if not d["firmware"]:
            d.pop("firmware")
        return d

    def spec_hash(self) -> str:
        """sha256 of the canonical JSON of the validated spec (independent of YAML layout)."""
        text = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


# --------------------------------------------------------------------------- validation helpers


def _fail(path: str, value: Any, expected: str) -> SpecError:
    return SpecError(f"{path} = {shown(value)}: expected {expected}")


class _Node:
    """A mapping in the YAML tree with its key path; tracks which keys were read."""

    def __init__(self, data: Any, path: str) -> None:
        if not isinstance(data, dict):
            raise _fail(path or "<top level>", data, "a mapping")
        self.data = data
        self.path = path
        self.used: set[str] = set()

    def _p(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def get(self, key: str, check: Callable[[str, Any], Any], default: Any = ...) -> Any:
        self.used.add(key)
        if key not in self.data:
            if default is ...:
                raise SpecError(f"{self._p(key)}: missing required key")
            return default
        return check(self._p(key), self.data[key])

    def child(self, key: str, required: bool = True) -> "_Node":
        self.used.add(key)
        if key not in self.data:
            if required:
                raise SpecError(f"{self._p(key)}: missing required section")
            return _Node({}, self._p(key))
        return _Node(self.data[key], self._p(key))

    def done(self) -> None:
        extra = sorted(set(map(str, self.data)) - self.used)
        if extra:
            known = ", ".join(sorted(self.used))
            raise SpecError(f"{self._p(shown(extra[0], 40).strip(chr(34)))}: unknown key (known keys here: {known})")


def _number(lo: float | None = None, hi: float | None = None, strict_lo: bool = True,
            what: str = "a number") -> Callable[[str, Any], float]:
    def check(path: str, v: Any) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v or v in (float("inf"), float("-inf")):
            raise _fail(path, v, what)
        if lo is not None and (v <= lo if strict_lo else v < lo):
            raise _fail(path, v, what)
        if hi is not None and v > hi:
            raise _fail(path, v, what)
        return float(v)

    return check


def _integer(lo: int, hi: int, what: str | None = None) -> Callable[[str, Any], int]:
    def check(path: str, v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise _fail(path, v, what or f"an integer in {lo}..{hi}")
        return v

    return check


def _choice(options: tuple[str, ...]) -> Callable[[str, Any], str]:
    def check(path: str, v: Any) -> str:
        if v not in options:
            raise _fail(path, v, " or ".join(options))
        return v

    return check


def _boolean(path: str, v: Any) -> bool:
    if not isinstance(v, bool):
        raise _fail(path, v, "true or false")
    return v


def _string(path: str, v: Any) -> str:
    if not isinstance(v, str) or not v.strip():
        raise _fail(path, v, "a non-empty string")
    return v


_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def _name(path: str, v: Any) -> str:
    """A spec name: it names the default build directory (build/<name>), so it is one plain path component."""
    if not isinstance(v, str) or not _NAME_RE.match(v) or ".." in v:
        raise _fail(path, v, "a name of letters, digits, '.', '_' and '-' (at most 64, no '/' or '..'), "
                             "e.g. hl-lhc-multijet")
    return v


def _is_power_of_two(frac: Fraction) -> bool:
    num, den = frac.numerator, frac.denominator
    return num > 0 and (num & (num - 1)) == 0 and (den & (den - 1)) == 0 and (num == 1 or den == 1)


def _power_of_two_lsb(path: str, v: Any) -> float:
    what = "a positive power of two in GeV (e.g. 0.015625)"
    _number(0.0, what=what)(path, v)
    if not _is_power_of_two(Fraction(v)):
        raise _fail(path, v, what)
    return float(v)


def _layers(path: str, v: Any) -> tuple[str, ...]:
    if v != ["em", "had"]:
        raise _fail(path, v, '[em, had] (the two calorimeter layers, in this order)')
    return tuple(v)


def _objects(path: str, v: Any) -> tuple[str, ...]:
    if v != ["pt1", "pt4"]:
        raise _fail(path, v, "[pt1, pt4] (leading and fourth-leading cluster pT triggers)")
    return tuple(v)


def _et_format(node: _Node, max_bits: int) -> InputEtSpec:
    spec = InputEtSpec(bits=node.get("bits", _integer(2, max_bits)), lsb_gev=node.get("lsb_gev", _power_of_two_lsb))
    node.done()
    return spec


# --------------------------------------------------------------------------- loader


def parse_spec(data: Any, source: str = "<memory>") -> Spec:
    """Validate a parsed YAML document and return a typed `Spec`."""
    top = _Node(data, "")
    version = top.get("schema_version", _integer(1, 1000), SPEC_SCHEMA_VERSION)
    if version != SPEC_SCHEMA_VERSION:
        raise _fail("schema_version", version, f"{SPEC_SCHEMA_VERSION} (the schema this codesign reads)")
    name = top.get("name", _name)
    description = top.get("description", _string, name)

    t = top.child("target")
    target = TargetSpec(part=t.get("part", _string),
                        clock_mhz=t.get("clock_mhz", _number(0.0, 2000.0, what="a clock in MHz in (0, 2000]")))
    t.done()

    d = top.child("detector")
    detector = DetectorSpec(
        eta_bins=d.get("eta_bins", _integer(3, 1024)),
        phi_bins=d.get("phi_bins", _integer(3, 1024)),
        eta_max=d.get("eta_max", _number(0.0, 10.0, what="|eta| coverage in (0, 10]")),
        layers=d.get("layers", _layers),
        bunch_crossing_mhz=d.get("bunch_crossing_mhz", _number(0.0, 1000.0, what="a rate in MHz in (0, 1000]")),
    )
    d.done()

    b = top.child("bandwidth")
    bandwidth = b.get("link_tbps", _number(0.0, 1e6, what="a positive link bandwidth in Tbps"))
    b.done()

    lat = top.child("latency")
    us = _number(0.0, 1e6, what="a positive latency in microseconds")
    latency = LatencySpec(
        chain_us=lat.get("chain_us", us),
        denoise_us=lat.get("denoise_us", us),
        quantise_us=lat.get("quantise_us", us, None),
        cluster_us=lat.get("cluster_us", us, None),
        calibrate_us=lat.get("calibrate_us", us, None),
        trigger_us=lat.get("trigger_us", us, None),
        pipeline_overhead=lat.get("pipeline_overhead", _number(0.0, 1.0, strict_lo=False,
                                                               what="a fraction in [0, 1]"), 0.05),
    )
    lat.done()
    for key in ("quantise_us", "denoise_us", "cluster_us", "calibrate_us", "trigger_us"):
        v = getattr(latency, key)
        if v is not None and v > latency.chain_us:
            raise _fail(f"latency.{key}", v, f"a block budget no larger than latency.chain_us = {latency.chain_us}")

    p = top.child("precision")
    c = p.child("cnn")
    cnn = CnnPrecisionSpec(
        bits=c.get("bits", _integer(4, 24)),
        weight_int_bits=c.get("weight_int_bits", _integer(1, 16), 1),
        bias_int_bits=c.get("bias_int_bits", _integer(1, 16), 6),
        act_int_bits=c.get("act_int_bits", _integer(1, 16), 6),
        log_eta_int_bits=c.get("log_eta_int_bits", _integer(2, 16), 3),
    )
    c.done()
    for key in ("weight_int_bits", "bias_int_bits", "act_int_bits", "log_eta_int_bits"):
        if getattr(cnn, key) >= cnn.bits:
            raise _fail(f"precision.cnn.{key}", getattr(cnn, key),
                        f"fewer integer bits than precision.cnn.bits = {cnn.bits}")
    precision = PrecisionSpec(
        input_et=_et_format(p.child("input_et"), 24),
        cnn=cnn,
        pred_et=_et_format(p.child("pred_et"), 24),
        calibrated_pt=_et_format(p.child("calibrated_pt"), 30),
    )
    p.done()

    cl = top.child("clusterer", required=False)
    clusterer = ClustererSpec(
        window=cl.get("window", _odd_window, 9),
        n_clusters=cl.get("n_clusters", _integer(4, 64, "an integer in 4..64 (pT4 needs at least 4)"), 10),
    )
    cl.done()

    ca = top.child("calibration", required=False)
    calibration = CalibrationSpec(
        abs_eta_bins=ca.get("abs_eta_bins", _integer(1, 512), 5),
        mantissa_bits=ca.get("mantissa_bits", _integer(1, 8), 4),
    )
    ca.done()

    tr = top.child("trigger")
    trigger = TriggerSpec(
        fpr=tr.get("fpr", _number(0.0, 0.5, what="a false-positive rate in (0, 0.5]")),
        objects=tr.get("objects", _objects, ("pt1", "pt4")),
    )
    tr.done()

    fw = top.child("firmware", required=False)
    firmware = FirmwareSpec(multipliers=fw.get("multipliers", _choice(MULTIPLIERS), "dsp"),
                            register_products=fw.get("register_products", _boolean, False),
                            register_decision=fw.get("register_decision", _boolean, False))
    fw.done()
    top.done()

    spec = Spec(name=name, description=description, target=target, detector=detector,
                bandwidth_tbps=bandwidth, latency=latency, precision=precision,
                clusterer=clusterer, calibration=calibration, trigger=trigger, firmware=firmware, source=source)
    _check_geometry(spec)
    return spec


def _odd_window(path: str, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 3 or v > 15 or v % 2 == 0:
        raise _fail(path, v, "an odd window size in 3..15 (pixels)")
    return v


def _check_geometry(spec: Spec) -> None:
    d = spec.detector
    if d.eta_bins % 2:
        raise _fail("detector.eta_bins", d.eta_bins, "an even number (the |eta| calibration bins fold eta at 0)")
    half = d.eta_bins // 2
    if half % spec.calibration.abs_eta_bins:
        raise _fail("calibration.abs_eta_bins", spec.calibration.abs_eta_bins,
                    f"a divisor of detector.eta_bins / 2 = {half}")
    if spec.clusterer.window > min(d.eta_bins, d.phi_bins):
        raise _fail("clusterer.window", spec.clusterer.window,
                    f"a window no larger than the image ({d.eta_bins}x{d.phi_bins})")


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML safe loader that refuses duplicate keys (YAML says they are an error; PyYAML keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:  # an unhashable key (a list or mapping as key)
                raise yaml.constructor.ConstructorError(None, None, "a mapping key is not a plain value",
                                                        key_node.start_mark) from None
            if duplicate:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {shown(key)}", key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


MAX_SPEC_BYTES = 1 << 20  # a spec is a page of YAML


def load_spec(path: str | Path) -> Spec:
    """Read and validate a spec file; every problem is a one-line `SpecError` naming the file."""
    data = load_spec_document(path)
    where = f"spec {str(Path(path))!r}"
    try:
        return parse_spec(data, source=str(Path(path)))
    except RecursionError:
        raise SpecError(f"{where}: nested too deeply; expected a spec of a few levels") from None
    except SpecError as exc:
        raise SpecError(f"{where}: {exc}") from None


def load_spec_document(path: str | Path) -> Any:
    """The YAML document of a spec file, not yet validated (sweeps edit it); one-line `SpecError` if unreadable."""
    p = Path(path)
    where = f"spec {str(p)!r}"
    try:
        if p.stat().st_size > MAX_SPEC_BYTES:
            raise SpecError(f"{where}: {p.stat().st_size} bytes; expected a YAML spec under {MAX_SPEC_BYTES} bytes")
        text = p.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise SpecError(f"spec file {str(p)!r} does not exist") from None
    except UnicodeDecodeError:
        raise SpecError(f"spec file {str(p)!r} cannot be read: not UTF-8 text") from None
    except OSError as exc:  # a directory, no permission, a link loop, a file used as a directory
        raise SpecError(f"spec file {str(p)!r} cannot be read: {exc.strerror or exc.__class__.__name__}") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where_in = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise SpecError(f"spec file {str(p)!r} is not valid YAML{where_in}: {problem}") from None
    except RecursionError:
        raise SpecError(f"spec file {str(p)!r} is nested too deeply; expected a spec of a few levels") from None
    if data is None:
        raise SpecError(f"spec file {str(p)!r} is empty")
    return data
