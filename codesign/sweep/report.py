"""The sweep report: a self-contained sweep.html with the Pareto fronts of TPR against DSP, LUT and latency."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import jinja2

from codesign.report.figures import _png, pyplot
from codesign.report.render import TEMPLATES
from codesign.sweep.config import TRIGGERS
from codesign.sweep.pareto import front
from codesign.sweep.table import AXES, RESOURCE_KINDS, cost, gain, varied_keys
from emulation.atomic import write_text


def pareto_chart(rows: list[dict[str, Any]], axis: str, objective: tuple[str, str]) -> bytes:
    """TPR against one cost: the front (filled, joined), dominated points (hollow), each labelled with its index;
    infeasible and failed points, which have no coordinates, listed in the corner."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 5.5))
    pairs = [None if r["dominated"][axis] is None else (cost(r, axis), gain(r, objective)) for r in rows]
    on_front = front(pairs)
    if on_front:
        ax.plot([pairs[i][0] for i in on_front], [pairs[i][1] for i in on_front], "o-", color="C0", ms=9,
                drawstyle="steps-post", label="Pareto front")
    dom = [i for i, r in enumerate(rows) if r["dominated"][axis]]
    if dom:
        ax.plot([pairs[i][0] for i in dom], [pairs[i][1] for i in dom], "o", mfc="none", color="grey", ms=9,
                label="dominated")
    for i, p in enumerate(pairs):
        if p is not None:
            ax.annotate(f"#{rows[i]['index']}", p, textcoords="offset points", xytext=(6, 4), fontsize=11)
    missing = [f"#{r['index']} {r['status']}" for r in rows if r["status"] != "done"]
    missing += [f"#{r['index']} not measured" for r, p in zip(rows, pairs) if r["status"] == "done" and p is None]
    if missing:
        ax.text(0.98, 0.02, "\n".join(missing), transform=ax.transAxes, ha="right", va="bottom", fontsize=10,
                color="red", bbox={"facecolor": "white", "edgecolor": "red"})
    ax.ticklabel_format(axis="x", style="plain", useOffset=False)
    ax.set_xlabel(AXES[axis] + " (lower is better)")
    ax.set_ylabel(f"TPR {objective[0]} {objective[1]} (emulator)")
    if on_front or dom:
        ax.legend(fontsize=10, loc="upper left")
    return _png(fig)


def write_report(doc: dict[str, Any], path: Path) -> None:
    """Render sweep.html from the sweep.json document (figures embedded as PNG)."""
    objective = (doc["objective"]["signal"], doc["objective"]["trigger"])
    rows = doc["points"]
    pngs = {axis: base64.b64encode(pareto_chart(rows, axis, objective)).decode() for axis in AXES}
    html = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                              undefined=jinja2.StrictUndefined).get_template("sweep.html.j2").render(
        doc=doc, rows=rows, keys=varied_keys(rows), axes=AXES, pngs=pngs, triggers=TRIGGERS,
        resource_kinds=RESOURCE_KINDS)
    write_text(path, html)
