"""The FPGA part database (constraints/parts/parts.yaml): capacities and name aliases."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from codesign.errors import SpecError
from codesign.paths import PARTS_FILE


@dataclass(frozen=True)
class Part:
    """Resource capacity of one FPGA part (counts from the vendor data sheet)."""

    name: str
    family: str
    yosys_family: str
    lut: int
    ff: int
    dsp: int
    bram36: int
    uram: int


@dataclass(frozen=True)
class PartDatabase:
    parts: dict[str, Part]
    aliases: dict[str, str]

    def known_names(self) -> list[str]:
        return sorted(set(self.parts) | set(self.aliases))

    def resolve(self, name: str, key_path: str = "target") -> Part:
        """Look a part up by full name or alias (case-insensitive); unknown names list the known ones."""
        key = name.strip().lower()
        full = self.aliases.get(key, key)
        if full not in self.parts:
            raise SpecError(f"{key_path} = {name!r}: unknown FPGA part (known: {', '.join(self.known_names())})")
        return self.parts[full]


@lru_cache(maxsize=4)
def load_parts(path: Path = PARTS_FILE) -> PartDatabase:
    """Read the part database once per process."""
    data = yaml.safe_load(Path(path).read_text())
    parts = {name.lower(): Part(name=name.lower(), **fields) for name, fields in data["parts"].items()}
    aliases = {a.lower(): full.lower() for a, full in data.get("aliases", {}).items()}
    for alias, full in aliases.items():
        if full not in parts:
            raise SpecError(f"part database {path}: alias {alias!r} points at unknown part {full!r}")
    return PartDatabase(parts=parts, aliases=aliases)
