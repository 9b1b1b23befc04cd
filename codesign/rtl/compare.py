"""Compare captured RTL outputs with the emulator's, array by array, exactly."""

from __future__ import annotations

import numpy as np

MAX_REPORTED = 10  # mismatching elements listed per quantity


def compare_outputs(expected: dict[str, np.ndarray], captured: dict[str, np.ndarray], n_events: int) -> dict:
    """Quantity -> mismatch report (count and the first few elements); empty when everything is equal."""
    out: dict[str, dict] = {}
    for name in sorted(expected):
        want = np.asarray(expected[name])[:n_events]
        got = captured.get(name)
        if got is None or len(got) < n_events:
            out[name] = {"error": f"{0 if got is None else len(got)} of {n_events} events came out of the design"}
            continue
        got = np.asarray(got)
        if got.shape != want.shape:
            out[name] = {"error": f"shape {list(got.shape)}, expected {list(want.shape)}"}
            continue
        bad = np.argwhere(got != want)
        if len(bad):
            out[name] = {"count": int(len(bad)),
                         "first": [{"index": [int(i) for i in idx], "expected": int(want[tuple(idx)]),
                                    "got": int(got[tuple(idx)])} for idx in bad[:MAX_REPORTED]]}
    return out
