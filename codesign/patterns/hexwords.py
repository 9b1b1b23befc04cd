"""Plain hex pattern files: one port word per line (a beat of the chain's input, or an event's decision record).

Each line holds exactly ceil(width / 4) lower-case hex digits, no prefix, no framing: what
Verilog's $readmemh reads into a `reg [width-1:0] mem [...]`.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from codesign.patterns.textio import bad, read_lines, shown


def digits(width: int) -> int:
    return -(-width // 4)


def write(values: np.ndarray, width: int) -> str:
    """One line per value (Python ints below 2**width)."""
    n = digits(width)
    return "".join(f"{int(v):0{n}x}\n" for v in values)


def read(path: Path, width: int) -> np.ndarray:
    """The values (Python ints) of a hex file of `width`-bit words."""
    n = digits(width)
    word = re.compile(f"[0-9a-fA-F]{{{n}}}")
    values = []
    for no, text in enumerate(read_lines(path), start=1):
        if not word.fullmatch(text):
            raise bad(path, no, f"{shown(text)}: expected {n} hex digits (a {width}-bit word)")
        value = int(text, 16)
        if value >> width:
            raise bad(path, no, f"{text} does not fit in {width} bits")
        values.append(value)
    return np.array(values, dtype=object)
