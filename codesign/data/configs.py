"""Physics configurations of a dataset: which background defines the false-positive rate, and the calorimeter response.

`baseline` is what the project generated first (bias-weighted QCD, ideal calorimeter); `paper`
follows section 3.2 of the paper (unweighted di-jet QCD, an ATLAS-like Delphes response).
docs/data.md gives the physics reasons for each choice.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from codesign.data.processes import PROCESSES
from codesign.data.response import RESPONSES, get_response
from codesign.errors import InputError


@dataclass(frozen=True)
class DataConfig:
    """The options recorded in a dataset card's `config`."""

    name: str
    background: str  # the background process: its events define the FPR
    response: str    # a name in codesign.data.response.RESPONSES

    def to_json(self) -> dict:
        """The configuration as recorded in the card."""
        return asdict(self)

    def with_options(self, background: str | None = None, response: str | None = None) -> "DataConfig":
        """This configuration with some options changed (then named `custom` unless nothing changed)."""
        changed = replace(self, background=background or self.background, response=response or self.response)
        return changed if changed == self else replace(changed, name="custom")


CONFIGS: dict[str, DataConfig] = {c.name: c for c in (
    DataConfig("baseline", background="qcd", response="ideal"),
    DataConfig("paper", background="qcd_dijet", response="delphes-atlas"),
)}
BASELINE = CONFIGS["baseline"]


def get_config(name: str, background: str | None = None, response: str | None = None) -> DataConfig:
    """The named configuration with the given options overridden; InputError for an unknown name or option."""
    if name not in CONFIGS:
        raise InputError(f"config {name!r}: unknown (known: {', '.join(CONFIGS)})")
    backgrounds = [n for n, p in PROCESSES.items() if p.role == "background"]
    if background is not None and background not in backgrounds:
        raise InputError(f"background {background!r}: unknown (known: {', '.join(backgrounds)})")
    if response is not None:
        get_response(response)
    return CONFIGS[name].with_options(background, response)


def card_config(card: dict, where: str) -> DataConfig:
    """The configuration recorded in a dataset card; cards written before configurations existed are baseline."""
    entry = card.get("config")
    if entry is None:
        return BASELINE
    if not isinstance(entry, dict) or set(entry) != {"name", "background", "response"} or not all(
            isinstance(v, str) for v in entry.values()):
        raise InputError(f"{where}: config must hold the strings name, background and response")
    if entry["response"] not in RESPONSES:
        raise InputError(f"{where}: config.response {entry['response']!r}: unknown (known: {', '.join(RESPONSES)})")
    return DataConfig(**entry)
