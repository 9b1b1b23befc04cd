"""`codesign report`: a self-contained report.html (images embedded) and report.json for reviews."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import jinja2

from codesign.report import collect, figures
from emulation.atomic import replace_dir

TEMPLATES = Path(__file__).parent / "templates"
RESOURCE_KINDS = ("lut", "ff", "dsp", "bram36")


def _b64(png: bytes) -> str:
    return base64.b64encode(png).decode()


def _physics_pngs(data: collect.ReportData) -> dict[str, str]:
    if not data.runs:
        return {}
    fpr = data.spec.trigger.fpr
    pngs = {}
    for trig in ("pt1", "pt4"):
        curves = {}
        for r in data.runs:
            curves[f"{r.mode} emulator"] = collect.roc_curves(r, trig, "emulator")
            curves[f"{r.mode} float"] = collect.roc_curves(r, trig, "float")
        pngs[f"ROC {trig}"] = _b64(figures.roc_chart(curves, fpr, trig))
        pngs[f"turn-on {trig}"] = _b64(figures.turn_on_chart({r.mode: collect.turn_on_curves(r, trig)
                                                              for r in data.runs}, trig))
    return pngs


def build_report(build_dir: Path, runs: list[Path], out: Path) -> dict[str, Any]:
    """Write out/report.html and out/report.json atomically; returns the JSON document."""
    data = collect.load(build_dir, runs)
    latency = collect.latency(data)
    resources = collect.resources(data)
    doc: dict[str, Any] = {
        "spec": {"name": data.spec.name, "description": data.spec.description, "fpr": data.spec.trigger.fpr},
        "derived": data.derived.to_json(),
        "provenance": collect.provenance(data),
        "exactness": collect.exactness(data),
        "latency": latency,
        "resources": resources,
        "tpr": collect.tpr_table(data),
    }
    bundles = {"build bundle": data.bundle, **{r.mode: r.bundle for r in data.runs if r.bundle is not None}}
    measured = [r for r in latency if r["measured_cycles"] is not None]
    html = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                              undefined=jinja2.StrictUndefined).get_template("report.html.j2").render(
        **doc, build_dir=str(build_dir), resource_kinds=RESOURCE_KINDS,
        latency_png=_b64(figures.latency_chart(measured)) if measured else None,
        resources_png=_b64(figures.resources_chart(resources["yosys"]["blocks"], resources["capacity"]))
        if resources else None,
        physics_pngs=_physics_pngs(data),
        quantiser_png=_b64(figures.quantiser_chart(bundles)),
        calibration_png=_b64(figures.calibration_chart(data.bundle)),
    )
    with replace_dir(out) as tmp:
        (tmp / "report.html").write_text(html)
        (tmp / "report.json").write_text(json.dumps(doc, indent=1, sort_keys=True, default=float) + "\n")
    return doc
