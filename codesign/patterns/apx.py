"""APx board-data text files as CMS's L1Trigger/DemonstratorTools writes and reads them.

"#Sideband ON", "#LinkLabel" with LINK_NN columns, "#BeginData", then per frame its index and per
link a sideband byte (bit 0 valid, bit 1 start of packet, bit 3 end of packet) and the word, all
as 0x-prefixed hex. APx carries no start-of-orbit flag.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from codesign.patterns.boarddata import BoardData
from codesign.patterns.textio import bad, read_lines, shown

_HEX = re.compile(r"0x[0-9a-fA-F]{1,16}")


def write(board: BoardData) -> str:
    """The APx text of `board`."""
    out = ["#Sideband ON", "#LinkLabel" + "".join(f"                LINK_{i:02d}    " for i in board.links),
           "#BeginData"]
    side = board.valid.astype(int) | board.start.astype(int) << 1 | board.end.astype(int) << 3
    for f in range(len(board.data)):
        out.append(f"0x{f:04x}" + "".join(f"    0x{int(side[f, k]):02x} 0x{int(board.data[f, k]):016x}"
                                          for k in range(len(board.links))))
    return "\n".join(out) + "\n"


def read(path: Path) -> BoardData:
    """Parse an APx file (as DemonstratorTools' readAPxFile does, with line-numbered errors); orbit flags False."""
    lines = read_lines(path)
    i = 1 if lines and lines[0].startswith("#Sideband") else 0
    if i >= len(lines) or not lines[i].startswith("#LinkLabel"):
        raise bad(path, i + 1, "expected the '#LinkLabel' line")
    labels = lines[i][len("#LinkLabel"):].split()
    if not labels or not all(re.fullmatch(r"LINK_\d{1,6}", t) for t in labels):
        raise bad(path, i + 1, f"expected LINK_<number> columns, found {shown(lines[i])}")
    links = tuple(int(t[5:]) for t in labels)
    if len(set(links)) != len(links):
        raise bad(path, i + 1, "a link number appears twice")
    if i + 1 >= len(lines) or lines[i + 1] != "#BeginData":
        raise bad(path, i + 2, "expected the '#BeginData' line")
    rows, line_nos = [], []
    for no, text in enumerate(lines[i + 2:], start=i + 3):
        tokens = text.split()
        if len(tokens) != 2 * len(links) + 1:
            raise bad(path, no, f"{len(tokens)} columns; expected {2 * len(links) + 1} (index, then sideband and "
                                f"word per link)")
        wrong = next((t for t in tokens if not _HEX.fullmatch(t)), None)
        if wrong is not None:
            raise bad(path, no, f"{shown(wrong)} is not a 0x-prefixed hex number of at most 64 bits")
        values = [int(t, 16) for t in tokens]
        if values[0] != len(rows):
            raise bad(path, no, f"frame index {values[0]}; expected {len(rows)}")
        rows.append(values[1:])
        line_nos.append(no)
    if not rows:
        raise bad(path, len(lines), "no frames")
    table = np.array(rows, dtype=np.uint64).reshape(len(rows), len(links), 2)
    side = table[..., 0]
    return BoardData(name="", links=links, data=table[..., 1], valid=(side & 1) > 0, start=(side & 2) > 0,
                     end=(side & 8) > 0, orbit=np.zeros(side.shape, dtype=bool),
                     lines=np.array(line_nos, dtype=np.int64))
