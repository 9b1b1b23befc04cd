"""Sweep points: the spec keys varied (`--vary KEY=V1,V2` or a points file), each point's spec and its feasibility.

A point is a set of overrides of the base spec's YAML document. A value that no point can use
(an unknown key, a value of the wrong type or out of the key's range, for every point that has
it) is bad input; a point whose combination the spec refuses, or whose derivation fails (no P
meets the latency budget, formats too wide), is infeasible and recorded with the reason.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from codesign.derived import DerivedParams, derive
from codesign.errors import InputError, SpecError
from codesign.spec import Spec, load_spec_document, parse_spec
from emulation.jsoncheck import shown

MAX_POINTS = 1000


@dataclass(frozen=True)
class Point:
    """One point of the sweep: its overrides (spec key -> value, in the order given) and its identity."""

    index: int
    overrides: tuple[tuple[str, Any], ...]

    @property
    def id(self) -> str:
        """A short hash of the overrides: the point's directory name (a rerun with more values reuses it)."""
        text = json.dumps(sorted(self.overrides), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class PointSpec:
    """A point's spec document and what validating and deriving it gave: the spec, or why it is infeasible."""

    document: dict[str, Any]
    spec: Spec | None
    derived: DerivedParams | None
    reason: str | None  # why the point is infeasible (None: feasible)
    schema: bool = False  # the reason is the spec schema's (parse_spec), not the derivation's

    def text(self) -> str:
        return yaml.safe_dump(self.document, sort_keys=False)


def _scalar(text: str, where: str) -> Any:
    """A value as YAML reads it (10 -> int, 1.5e-3 -> float, abc -> str)."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        raise InputError(f"{where}: {text!r} is not a YAML value") from None
    if isinstance(value, (dict, list)) or value is None:
        raise InputError(f"{where}: {text!r}: expected a single value (number, string or true/false)")
    return value


def parse_vary(items: tuple[str, ...]) -> list[tuple[str, list[Any]]]:
    """`KEY=V1,V2,...` options -> (key, values); an empty or repeated key or value is bad input."""
    out: list[tuple[str, list[Any]]] = []
    for item in items:
        key, eq, rest = item.partition("=")
        key = key.strip()
        where = f"--vary {item!r}"
        if not eq or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*", key):
            raise InputError(f"{where}: expected KEY=V1,V2,... with KEY a dotted spec key "
                             f"(e.g. precision.cnn.bits=8,10)")
        texts = [t.strip() for t in rest.split(",")]
        if not rest.strip() or any(not t for t in texts):
            raise InputError(f"{where}: empty value list; expected KEY=V1,V2,... (the product would be empty)")
        values = [_scalar(t, where) for t in texts]
        if len(set(map(repr, values))) != len(values):
            raise InputError(f"{where}: a value is repeated")
        if key in (k for k, _ in out):
            raise InputError(f"{where}: key {key} is varied twice; give all its values in one --vary")
        out.append((key, values))
    return out


def product(varied: list[tuple[str, list[Any]]]) -> list[Point]:
    """The Cartesian product of the varied values, the first key varying slowest."""
    combos = list(itertools.islice(itertools.product(*(v for _, v in varied)), MAX_POINTS + 1))
    if len(combos) > MAX_POINTS:
        raise InputError(f"--vary: more than {MAX_POINTS} points; expected a smaller product")
    keys = [k for k, _ in varied]
    return [Point(i, tuple(zip(keys, combo))) for i, combo in enumerate(combos)]


def read_points(path: Path) -> list[Point]:
    """A points file: a YAML list of mappings (spec key -> value), one per point."""
    where = f"--points {str(path)!r}"
    try:
        data = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise InputError(f"{where}: does not exist") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InputError(f"{where}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, list) or not data:
        raise InputError(f"{where}: expected a non-empty list of points (mappings of spec key -> value)")
    if len(data) > MAX_POINTS:
        raise InputError(f"{where}: {len(data)} points; expected at most {MAX_POINTS}")
    points = []
    for i, entry in enumerate(data):
        if not isinstance(entry, dict) or not entry:
            raise InputError(f"{where}: point {i} = {shown(entry)}: expected a mapping of spec key -> value")
        for key, value in entry.items():
            if not isinstance(key, str) or isinstance(value, (dict, list)) or value is None:
                raise InputError(f"{where}: point {i}: {shown(key)} = {shown(value)}: expected a spec key and a "
                                 f"single value")
        points.append(Point(i, tuple(entry.items())))
    if len({p.id for p in points}) != len(points):
        raise InputError(f"{where}: a point is listed twice")
    return points


def apply(document: dict[str, Any], overrides: tuple[tuple[str, Any], ...]) -> dict[str, Any]:
    """A copy of the spec document with each dotted key set (sections created where the spec allows them)."""
    doc = copy.deepcopy(document)
    for key, value in overrides:
        node = doc
        *head, last = key.split(".")
        for i, part in enumerate(head):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise InputError(f"--vary {key}: {'.'.join(head[:i + 1])} is a value, not a section of the spec")
            node = child
        node[last] = value
    return doc


def _names(message: str, key: str) -> bool:
    """Whether a spec error is about `key` (or a section above it: an unknown section)."""
    parts = key.split(".")
    return any(re.match(re.escape(".".join(parts[:n])) + r"( = |: )", message) for n in range(1, len(parts) + 1))


def point_spec(document: dict[str, Any], point: Point) -> PointSpec:
    """Validate and derive one point's spec; a refusal is recorded as the reason, not raised."""
    doc = apply(document, point.overrides)
    try:
        spec = parse_spec(doc)
    except SpecError as exc:
        return PointSpec(doc, None, None, str(exc), schema=True)
    try:
        return PointSpec(doc, spec, derive(spec), None)
    except SpecError as exc:
        return PointSpec(doc, spec, None, str(exc))


def resolve(spec_file: Path, points: list[Point]) -> list[PointSpec]:
    """Every point's spec. A key = value that the schema refuses, naming that key, in every point that has it
    (an unknown key, a wrong type, a value out of range) is bad input; other refusals make the point infeasible."""
    document = load_spec_document(spec_file)
    specs = [point_spec(document, p) for p in points]
    seen: dict[tuple[str, str], list[str | None]] = {}
    for p, s in zip(points, specs):
        for key, value in p.overrides:
            about = s.schema and s.reason is not None and _names(s.reason, key)
            seen.setdefault((key, repr(value)), []).append(s.reason if about else None)
    for (key, value), reasons in seen.items():
        if all(reasons):
            raise InputError(f"cannot sweep {key} = {value}: {reasons[0]}")
    return specs
