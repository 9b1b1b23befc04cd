"""The build configuration: a typed, serialisable description of one `codesign build`."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from codesign.errors import InputError

SIMULATORS = ("verilator", "icarus")


@dataclass(frozen=True)
class BuildConfig:
    """Everything a build depends on; stored as build.json's "config" and hashed into each step."""

    spec: str
    bundle: str
    target: str
    out: str
    n_events: int = 100
    data: str | None = None  # dataset directory; None = events generated from `seed`
    seed: int = 0
    simulators: tuple[str, ...] = ("verilator",)
    rtl_events: int = 10  # events driven through the RTL simulation (slower than C-sim)
    steps: tuple[str, ...] = field(default_factory=tuple)  # empty = all registered steps

    def __post_init__(self) -> None:
        if self.n_events < 1:
            raise InputError(f"--events {self.n_events}: expected at least 1")
        if self.rtl_events < 0:
            raise InputError(f"--rtl-events {self.rtl_events}: expected 0 or more")
        bad = [s for s in self.simulators if s not in SIMULATORS]
        if bad:
            raise InputError(f"--sim {bad[0]!r}: unknown simulator (known: {', '.join(SIMULATORS)})")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> "BuildConfig":
        obj = dict(obj)
        for key in ("simulators", "steps"):
            obj[key] = tuple(obj.get(key, ()))
        return cls(**obj)

    @classmethod
    def load(cls, build_dir: Path) -> "BuildConfig":
        path = Path(build_dir) / "build.json"
        try:
            return cls.from_json(json.loads(path.read_text())["config"])
        except FileNotFoundError:
            raise InputError(f"build {str(build_dir)!r}: build.json is missing (not a codesign build directory)") from None
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise InputError(f"build {str(build_dir)!r}: build.json is malformed ({exc.__class__.__name__})") from None
