"""EMP board-data text files as CMS's L1Trigger/DemonstratorTools writes and reads them (EMPv1 and EMPv2).

EMPv2 (`writeEMPFileV2`): "ID: name", the metadata line, a blank line, "Link" with the link
numbers, then per frame "Frame NNNN" and per link "OPEV hhhhhhhhhhhhhhhh" (start of orbit,
start of packet, end of packet, valid, 16 hex digits), columns separated by two or more spaces.
EMPv1 (`writeEMPFileV1`): "Board name", "Quad/Chan :", "Link :", then "Frame NNNN :" and per
link "Vvhhhhhhhhhhhhhhhh" (valid only). Neither writer here emits the optional strobe.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

import numpy as np

from codesign.patterns.boarddata import BoardData
from codesign.patterns.textio import bad, read_lines, shown

METADATA = "Metadata: (strobe,) start of orbit, start of packet, end of packet, valid"
_V2_TOKEN = re.compile(r"([01])?([01])([01])([01])([01]) ([0-9a-fA-F]{16})")
_V1_TOKEN = re.compile(r"([01]s)?([01])v([0-9a-fA-F]{16})")


def write_v2(board: BoardData) -> str:
    """The EMPv2 text of `board`."""
    links = "".join(f"            {i:03d}        " for i in board.links)
    out = [f"ID: {board.name}", METADATA, "", "      Link  " + links]
    for f in range(len(board.data)):
        cols = "".join(f"  {int(board.orbit[f, k])}{int(board.start[f, k])}{int(board.end[f, k])}"
                       f"{int(board.valid[f, k])} {int(board.data[f, k]):016x}" for k in range(len(board.links)))
        out.append(f"Frame {f:04d}  {cols}")
    return "\n".join(out) + "\n"


def write_v1(board: BoardData) -> str:
    """The EMPv1 text of `board` (valid flags and words only)."""
    out = [f"Board {board.name}",
           " Quad/Chan :" + "".join(f"         q{i // 4:02d}c{i % 4}       " for i in board.links),
           "      Link :" + "".join(f"          {i:03d}        " for i in board.links)]
    for f in range(len(board.data)):
        cols = "".join(f"   {int(board.valid[f, k])}v{int(board.data[f, k]):016x}" for k in range(len(board.links)))
        out.append(f"Frame {f:04d} :{cols}")
    return "\n".join(out) + "\n"


def _content(lines: list[str], start: int):
    """(line number, text) of the lines from index `start` on, skipping blank and '#' comment lines."""
    for i in range(start, len(lines)):
        text = lines[i]
        if text.strip() and not text.lstrip().startswith("#"):
            yield i + 1, text


def _header(path: Path, lines: list[str], start: int, prefix: str) -> tuple[int, str]:
    """The first content line from `start` on, which must begin with `prefix` (leading spaces ignored)."""
    for no, text in _content(lines, start):
        if not text.lstrip().startswith(prefix):
            raise bad(path, no, f"expected a line starting with {prefix!r}, found {shown(text)}")
        return no, text.lstrip()[len(prefix):]
    raise bad(path, len(lines), f"ended before the line starting with {prefix!r}")


def _links(path: Path, no: int, rest: str) -> tuple[int, ...]:
    tokens = rest.split()
    if not tokens or not all(t.isdigit() and len(t) <= 6 for t in tokens):
        raise bad(path, no, f"expected link numbers, found {shown(rest)}")
    links = tuple(int(t) for t in tokens)
    if len(set(links)) != len(links):
        raise bad(path, no, "a link number appears twice")
    return links


Token = tuple[bool, bool, bool, bool, str]  # start of orbit, start of packet, end of packet, valid, hex word


def _v2_token(m: re.Match) -> Token:
    return m[2] == "1", m[3] == "1", m[4] == "1", m[5] == "1", m[6]


def _v1_token(m: re.Match) -> Token:
    return False, False, False, m[2] == "1", m[3]


def _frames(path: Path, lines: list[str], start: int, links: tuple[int, ...], sep: str, split: str,
            token: re.Pattern, parse: Callable[[re.Match], Token], name: str) -> BoardData:
    """The frame lines: "Frame NNNN" + `sep`, then one token per link."""
    rows: list[list[Token]] = []
    line_nos: list[int] = []
    for no, text in _content(lines, start):
        prefix = f"Frame {len(rows):04d}{sep}"
        if not text.startswith(prefix):
            raise bad(path, no, f"expected {prefix.rstrip()!r} (frames numbered from 0), found {shown(text)}")
        tokens = [t for t in re.split(split, text[len(prefix):].strip()) if t]
        if len(tokens) != len(links):
            raise bad(path, no, f"{len(tokens)} words for {len(links)} links")
        row = []
        for k, tok in enumerate(tokens):
            m = token.fullmatch(tok)
            if m is None:
                raise bad(path, no, f"link {links[k]}: {shown(tok)} is not a frame word of this format")
            row.append(parse(m))
        rows.append(row)
        line_nos.append(no)
    if not rows:
        raise bad(path, len(lines), "no frames")
    flags = np.array([[t[:4] for t in row] for row in rows], dtype=bool)
    data = np.array([[int(t[4], 16) for t in row] for row in rows], dtype=np.uint64)
    return BoardData(name=name, links=links, data=data, orbit=flags[..., 0], start=flags[..., 1],
                     end=flags[..., 2], valid=flags[..., 3], lines=np.array(line_nos, dtype=np.int64))


def read_v2(path: Path) -> BoardData:
    """Parse an EMPv2 file (as DemonstratorTools' readEMPFileV2 does, with line-numbered errors)."""
    lines = read_lines(path)
    no, name = _header(path, lines, 0, "ID: ")
    if no >= len(lines) or not lines[no].startswith(METADATA):
        raise bad(path, no + 1, f"expected the metadata line {METADATA!r} after the ID line")
    no, rest = _header(path, lines, no + 1, "Link  ")
    links = _links(path, no, rest)
    return _frames(path, lines, no, links, "  ", r"\s\s+", _V2_TOKEN, _v2_token, name)


def read_v1(path: Path) -> BoardData:
    """Parse an EMPv1 file (as DemonstratorTools' readEMPFileV1 does); start/end/orbit flags read as False."""
    lines = read_lines(path)
    no, name = _header(path, lines, 0, "Board ")
    no, _ = _header(path, lines, no, "Quad/Chan :")
    no, rest = _header(path, lines, no, "Link :")
    links = _links(path, no, rest)
    return _frames(path, lines, no, links, " :", r"\s+", _V1_TOKEN, _v1_token, name)
