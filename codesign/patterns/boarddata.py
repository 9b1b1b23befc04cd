"""Board data as DemonstratorTools models it: per link and frame a 64-bit word and its valid/packet/orbit flags."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from codesign.patterns.linkmap import WORD_BITS

FLAGS = ("valid", "start", "end", "orbit")  # valid, start of packet, end of packet, start of orbit
_MASK = (1 << WORD_BITS) - 1


@dataclass(frozen=True)
class BoardData:
    """Frames (F) x links (L): `data` uint64, flags bool; `lines[f]` is the file line of frame f (0 when written)."""

    name: str
    links: tuple[int, ...]
    data: np.ndarray
    valid: np.ndarray
    start: np.ndarray
    end: np.ndarray
    orbit: np.ndarray
    lines: np.ndarray

    def same(self, other: "BoardData", flags: tuple[str, ...] = FLAGS) -> bool:
        """Equal links, words and the given flags (a format may not carry every flag)."""
        return self.links == other.links and np.array_equal(self.data, other.data) and \
            all(np.array_equal(getattr(self, f), getattr(other, f)) for f in flags)


def to_words(values: np.ndarray, n_links: int) -> np.ndarray:
    """Python ints (F,) -> uint64 words (F, n_links), link k holding bits [64k, 64k + 64)."""
    return np.array([[(int(v) >> (WORD_BITS * k)) & _MASK for k in range(n_links)] for v in values],
                    dtype=np.uint64).reshape(len(values), n_links)


def from_words(words: np.ndarray) -> np.ndarray:
    """Inverse of `to_words`: uint64 (F, L) -> Python ints (F,)."""
    out = np.zeros(len(words), dtype=object)
    for k in range(words.shape[1]):
        out += words[:, k].astype(object) << (WORD_BITS * k)
    return out


def packets(name: str, payloads: np.ndarray, starts: np.ndarray, n_frames: int, n_links: int) -> BoardData:
    """Board data of packets (N, beats) of Python ints placed at frames `starts`, invalid frames elsewhere.

    As BoardDataWriter writes it: start and end of packet on each packet's first and last frame,
    start of orbit on the first start of packet, invalid frames zero.
    """
    n, beats = payloads.shape
    frames = (np.asarray(starts)[:, None] + np.arange(beats)[None, :]).reshape(-1)
    data = np.zeros((n_frames, n_links), dtype=np.uint64)
    data[frames] = to_words(payloads.reshape(-1), n_links)
    flags = {f: np.zeros((n_frames, n_links), dtype=bool) for f in FLAGS}
    flags["valid"][frames] = True
    flags["start"][starts] = True
    flags["end"][np.asarray(starts) + beats - 1] = True
    if n:
        flags["orbit"][starts[0]] = True
    return BoardData(name=name, links=tuple(range(n_links)), data=data, lines=np.zeros(n_frames, dtype=np.int64),
                     **flags)
