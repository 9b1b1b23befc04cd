"""The pattern file set of a build: names, formats and writing (deterministic, into a directory swapped in whole)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from codesign.patterns import apx, emp, hexwords
from codesign.patterns.boarddata import BoardData, packets
from codesign.patterns.linkmap import LinkMap
from emulation.atomic import replace_dir

LINKMAP = "linkmap.json"
# format -> file name pattern ({side}: input or output), and the board-data flags the format carries
FORMATS = {"emp": ("{side}_emp.txt", ("valid", "start", "end", "orbit")), "empv1": ("{side}_empv1.txt", ("valid",)),
           "apx": ("{side}_apx.txt", ("valid", "start", "end")), "hex": ("{side}.hex", ())}
BOARD_WRITERS = {"emp": emp.write_v2, "empv1": emp.write_v1, "apx": apx.write}


def file_name(side: str, fmt: str) -> str:
    return FORMATS[fmt][0].format(side=side)


def boards(lm: LinkMap, beats: np.ndarray, records: np.ndarray) -> dict[str, BoardData]:
    """Input and output board data of events (input beats, decision records) streamed back to back from frame 0."""
    n = len(beats)
    starts = np.arange(n) * lm.beats_per_event
    frames = lm.frames(n)
    return {"input": packets("codesign-input", beats, starts, frames, lm.in_links),
            "output": packets("codesign-output", records[:, None], starts + lm.latency, frames, lm.out_links)}


def texts(lm: LinkMap, codes: np.ndarray, outputs: dict[str, np.ndarray]) -> dict[str, str]:
    """File name -> text of every pattern file of these events and of the link map (only the map for no events)."""
    out = {LINKMAP: json.dumps(lm.to_json(), indent=1, sort_keys=True) + "\n"}
    if not len(codes):
        return out
    beats, records = lm.input_beats(codes), lm.output_records(outputs)
    for side, board in boards(lm, beats, records).items():
        for fmt, writer in BOARD_WRITERS.items():
            out[file_name(side, fmt)] = writer(board)
    out[file_name("input", "hex")] = hexwords.write(beats.reshape(-1), lm.in_width)
    out[file_name("output", "hex")] = hexwords.write(records, lm.out_width)
    return out


def write_patterns(out_dir: Path, lm: LinkMap, codes: np.ndarray, outputs: dict[str, np.ndarray]) -> dict[str, dict]:
    """Write the directory (replacing it as a whole); file name -> {"sha256", "bytes"}."""
    files = texts(lm, codes, outputs)
    with replace_dir(out_dir) as tmp:
        for name, text in files.items():
            (tmp / name).write_text(text)
    return {name: {"sha256": hashlib.sha256(text.encode()).hexdigest(), "bytes": len(text)}
            for name, text in sorted(files.items())}
