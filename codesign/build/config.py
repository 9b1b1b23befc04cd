"""The build configuration: a typed, serialisable description of one `codesign build`."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from codesign.errors import InputError
from emulation.jsoncheck import check, get, read_json, shown

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

    def stored(self, build_dir: Path) -> dict[str, Any]:
        """The config as build.json keeps it: input paths relative to the build directory, so the
        directory works (and resumes) from any working directory and after being moved with its inputs."""
        obj = self.to_json()
        base = Path(build_dir).resolve()
        for key in PATH_KEYS:
            if obj[key] is not None:
                obj[key] = os.path.relpath(Path(obj[key]).resolve(), base)
        obj["out"] = "."
        return obj

    @classmethod
    def from_json(cls, obj: Any, where: str = "build.json config") -> "BuildConfig":
        """A config from its JSON, every field checked (one `InputError` naming `where` and the key)."""
        if not isinstance(obj, dict):
            raise InputError(f"{where} = {shown(obj)}: expected an object")
        fields = {f.name for f in dataclasses.fields(cls)}
        extra = sorted(set(obj) - fields)
        if extra:
            raise InputError(f"{where}.{str(extra[0])[:40]}: unknown key")
        kw: dict[str, Any] = {}
        for key in ("spec", "bundle", "target", "out"):
            kw[key] = get(obj, key, "str", where)
        kw["data"] = get(obj, "data", "str", where, optional=True)
        for key, lo in (("n_events", 1), ("seed", 0), ("rtl_events", 0)):
            if key in obj:
                kw[key] = get(obj, key, "int", where, lo=lo)
        for key in ("simulators", "steps"):
            items = get(obj, key, "list", where, optional=True) or []
            kw[key] = tuple(check(v, "str", f"{where}.{key}[{i}]") for i, v in enumerate(items[:100]))
        return cls(**kw)

    @classmethod
    def load(cls, build_dir: Path) -> "BuildConfig":
        """The config of a build directory, its paths resolved against that directory (usable from any cwd)."""
        build_dir = Path(build_dir)
        if not build_dir.is_dir():
            raise InputError(f"build {str(build_dir)!r}: not a directory")
        manifest = read_manifest(build_dir)
        config = cls.from_json(manifest.get("config"), f"build {str(build_dir)!r}: build.json config")
        resolved = {k: str(build_dir / v) if not Path(v).is_absolute() else v
                    for k in PATH_KEYS if (v := getattr(config, k)) is not None}
        return dataclasses.replace(config, out=str(build_dir), **resolved)


PATH_KEYS = ("spec", "bundle", "data")


def read_manifest(build_dir: Path) -> dict[str, Any]:
    """build.json of a build directory, checked to be an object with the hashes a gate compares."""
    where = f"build {str(build_dir)!r}"
    path = Path(build_dir) / "build.json"
    if not path.exists() and not path.is_symlink():
        raise InputError(f"{where}: build.json is missing (not a codesign build directory)")
    manifest = read_json(path, where)
    if not isinstance(manifest, dict):
        raise InputError(f"{where}: build.json = {shown(manifest)}: expected an object")
    get(manifest, "spec_hash", "hex", f"{where}: build.json")
    get(manifest, "bundle_hash", "hex", f"{where}: build.json")
    steps = get(manifest, "steps", "dict", f"{where}: build.json")
    for name, entry in steps.items():
        w = f"{where}: build.json steps.{str(name)[:40]}"
        get(entry, "status", "str", w)
        get(entry, "result", "dict", w, optional=True)
    return manifest
