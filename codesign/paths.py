"""The files codesign reads at run time, found through importlib.resources wherever it is installed.

The constraint specs with the part database, the HLS templates and the Verilog templates with the
cocotb testbench stay in the checkout's top-level folders (constraints/, hls_templates/,
firmware/), where readers find them; codesign/resources/ holds links to those folders, so the
wheel carries them inside the package. The default bundle lives in the package itself.
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path


def _packaged(*parts: str) -> Path:
    """A file or folder shipped inside the codesign package, as a real path (links resolved, so a
    checkout shows constraints/... rather than codesign/resources/constraints/...)."""
    return Path(str(files("codesign").joinpath(*parts))).resolve()


CONSTRAINTS_DIR = _packaged("resources", "constraints")
PARTS_FILE = CONSTRAINTS_DIR / "parts" / "parts.yaml"
DEFAULT_SPEC = CONSTRAINTS_DIR / "hl-lhc-multijet.yaml"
DEFAULT_BUNDLE = _packaged("default_bundle")
HLS_TEMPLATES_DIR = _packaged("resources", "hls_templates")
FIRMWARE_DIR = _packaged("resources", "firmware")


def from_cwd(path: Path) -> Path:
    """`path` relative to the working directory: how commands name a packaged default (a spec, the
    default bundle) in what they print and record, so records hold no machine-specific absolute path."""
    return Path(os.path.relpath(path))
