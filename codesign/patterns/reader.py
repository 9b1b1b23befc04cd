"""Reading pattern files back: board data, then the events' input codes and expected decisions.

Every file is checked against the link map it was written with: link numbers, valid frames in
whole events, packet and orbit flags where the format carries them, no bits above the port width.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from codesign.errors import InputError
from codesign.patterns import apx, emp, hexwords
from codesign.patterns.boarddata import BoardData, from_words
from codesign.patterns.files import FORMATS, LINKMAP
from codesign.patterns.linkmap import WORD_BITS, LinkMap
from codesign.patterns.textio import bad
from emulation.jsoncheck import read_json

BOARD_READERS = {"emp": emp.read_v2, "empv1": emp.read_v1, "apx": apx.read}
RULES = {"start": "on the first frame of each event", "end": "on the last frame of each event",
         "orbit": "on the first frame of the first event only"}


@dataclass(frozen=True)
class Packets:
    """The events of one side: payloads (N, beats) as Python ints and the frame of each beat (None for hex)."""

    payloads: np.ndarray
    frames: np.ndarray | None


def read_linkmap(directory: Path) -> LinkMap:
    """The link map a pattern directory was written with."""
    where = f"patterns {str(directory)!r}"
    return LinkMap.from_json(read_json(Path(directory) / LINKMAP, where), f"{where}: {LINKMAP}")


def read_board(path: Path, fmt: str) -> BoardData:
    """Board data of an EMP (v2 or v1) or APx file."""
    if fmt not in BOARD_READERS:
        raise InputError(f"pattern format {fmt!r}: expected one of {', '.join(BOARD_READERS)}")
    return BOARD_READERS[fmt](Path(path))


def board_packets(path: Path, board: BoardData, fmt: str, links: int, width: int, beats: int) -> Packets:
    """Packets of `beats` valid frames each on links 0..links-1, their flags (where the format has them) checked."""
    if board.links != tuple(range(links)):
        raise InputError(f"pattern file {str(path)!r}: links {list(board.links)}; expected {list(range(links))}")
    frames = np.flatnonzero(board.valid[:, 0])
    split = np.flatnonzero(board.valid.any(axis=1) != board.valid.all(axis=1))
    if len(split):
        raise bad(path, int(board.lines[split[0]]), "valid on some links and not on others")
    used = width - WORD_BITS * (links - 1)  # bits of the last link that the port uses
    high = np.flatnonzero(board.data[frames, -1] >> np.uint64(used)) if used < WORD_BITS else []
    if len(high):
        raise bad(path, int(board.lines[frames[high[0]]]),
                  f"bits above the {width}-bit word are set on link {links - 1}")
    if len(frames) % beats:
        raise bad(path, int(board.lines[frames[-1]] if len(frames) else board.lines[-1]),
                  f"{len(frames)} valid frames; expected a multiple of {beats} (frames per event)")
    frames = frames.reshape(-1, beats)
    flags = FORMATS[fmt][1]
    want = {"start": frames[:, :1], "end": frames[:, -1:], "orbit": frames[:1, :1]}
    for flag in ("start", "end", "orbit"):
        if flag in flags:
            expected = np.zeros(len(board.data), dtype=bool)
            expected[want[flag].reshape(-1)] = True
            wrong = np.flatnonzero((getattr(board, flag) != expected[:, None]).any(axis=1))
            if len(wrong):
                f = int(wrong[0])
                raise bad(path, int(board.lines[f]), f"frame {f}: {flag} flag {'missing' if expected[f] else 'set'}; "
                          f"expected it {RULES[flag]} (events of {beats} valid frames)")
    return Packets(payloads=from_words(board.data[frames.reshape(-1)]).reshape(frames.shape), frames=frames)


def read_side(directory: Path, side: str, fmt: str, lm: LinkMap | None = None) -> Packets:
    """The input beats or output records in one format of a pattern directory."""
    if fmt not in FORMATS:
        raise InputError(f"pattern format {fmt!r}: expected one of {', '.join(FORMATS)}")
    lm = lm or read_linkmap(directory)
    path = Path(directory) / FORMATS[fmt][0].format(side=side)
    links, width, beats = (lm.in_links, lm.in_width, lm.beats_per_event) if side == "input" else \
        (lm.out_links, lm.out_width, 1)
    if fmt == "hex":
        values = hexwords.read(path, width)
        if len(values) % beats:
            raise bad(path, max(len(values), 1),
                      f"{len(values)} words; expected a multiple of {beats} (words per event)")
        return Packets(payloads=values.reshape(-1, beats), frames=None)
    return board_packets(path, read_board(path, fmt), fmt, links, width, beats)


def read_sides(directory: Path, fmt: str) -> tuple[LinkMap, Packets, Packets]:
    """The link map, input beats and output records of a pattern directory in one format (as many events each)."""
    lm = read_linkmap(directory)
    inp, out = read_side(directory, "input", fmt, lm), read_side(directory, "output", fmt, lm)
    if len(inp.payloads) != len(out.payloads):
        raise InputError(f"patterns {str(directory)!r} ({fmt}): {len(inp.payloads)} input events but "
                         f"{len(out.payloads)} output records")
    return lm, inp, out


def read_events(directory: Path, fmt: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(codes (N, layers, eta, phi), expected decisions) of a pattern directory in one format."""
    lm, inp, out = read_sides(directory, fmt)
    return lm.codes(inp.payloads), lm.outputs(out.payloads[:, 0])
