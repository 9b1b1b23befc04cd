"""The sweep's tables: sweep.json (every point's result and its place on the Pareto fronts) and sweep.csv."""

from __future__ import annotations

import csv
import io
from typing import Any

from codesign.report.render import RESOURCE_KINDS
from codesign.sweep.config import TRIGGERS
from codesign.sweep.pareto import dominated

SWEEP_FORMAT = "codesign-sweep/1"
# Pareto axes: name -> axis label
AXES = {"dsp": "DSP48E2", "lut": "LUT", "latency": "chain latency [us]"}


def cost(row: dict[str, Any], axis: str) -> float | None:
    """A point's cost on one Pareto axis (None when it has none: infeasible, failed, not measured)."""
    if row["status"] != "done":
        return None
    if axis == "latency":
        return row["latency"]["us"].get("chain")
    return None if row["resources"] is None else row["resources"][axis]


def gain(row: dict[str, Any], objective: tuple[str, str]) -> float | None:
    """A point's TPR for the objective (signal, trigger)."""
    signal, trigger = objective
    return row["tpr"][trigger].get(signal) if row["status"] == "done" else None


def with_fronts(rows: list[dict[str, Any]], objective: tuple[str, str]) -> list[dict[str, Any]]:
    """The rows with `dominated` per axis: true, false (on the front), or null (not on that plot)."""
    out = [dict(r, dominated={}) for r in rows]
    for axis in AXES:
        pairs = [None if cost(r, axis) is None or gain(r, objective) is None else (cost(r, axis), gain(r, objective))
                 for r in rows]
        for r, flag in zip(out, dominated(pairs)):
            r["dominated"][axis] = flag
    return out


def document(header: dict[str, Any], rows: list[dict[str, Any]], objective: tuple[str, str]) -> dict[str, Any]:
    """sweep.json: deterministic for the same inputs (no timings, no absolute paths)."""
    return {"format": SWEEP_FORMAT, **header, "objective": {"signal": objective[0], "trigger": objective[1]},
            "points": with_fronts(rows, objective)}


def varied_keys(rows: list[dict[str, Any]]) -> list[str]:
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r["overrides"] if k not in keys]
    return keys


def csv_text(doc: dict[str, Any]) -> str:
    """sweep.csv: one row per point (spec keys, derived P and levels, TPRs, resources, latency, gate, exactness)."""
    rows = doc["points"]
    keys = varied_keys(rows)
    signals = doc["signals"]
    tpr_cols = [f"tpr_{t}_{s}" for t in TRIGGERS for s in signals]
    head = ["index", "id", "status", *keys, "bits_per_cell", "levels", "pixel_parallelism", *tpr_cols,
            *RESOURCE_KINDS, "resources_from", "denoiser_cycles", "chain_cycles", "chain_us", "latency_gate",
            "bit_exact", *(f"dominated_{a}" for a in AXES), "reason"]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(head)
    for r in rows:
        done = r["status"] == "done"
        derived = r.get("derived", {})
        res = (r.get("resources") or {}) if done else {}
        lat = r["latency"] if done else {"cycles": {}, "us": {}, "gate": None}
        w.writerow([r["index"], r["id"], r["status"], *(r["overrides"].get(k, "") for k in keys),
                    derived.get("bits_per_cell", ""), derived.get("levels", ""), derived.get("pixel_parallelism", ""),
                    *(r["tpr"][t].get(s, "") if done else "" for t in TRIGGERS for s in signals),
                    *(res.get(k, "") for k in RESOURCE_KINDS), res.get("from", ""),
                    lat["cycles"].get("denoiser", ""), lat["cycles"].get("chain", ""), lat["us"].get("chain", ""),
                    lat["gate"] or "", r.get("bit_exact", ""),
                    *("" if r["dominated"][a] is None else r["dominated"][a] for a in AXES), r.get("reason") or ""])
    return buf.getvalue()
