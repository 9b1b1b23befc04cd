"""`codesign report`: a self-contained report.html (images embedded) and report.json for reviews."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import jinja2

from codesign.report import collect, figures, paper_figures, timing_section
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
        curves = {f"{r.mode} emulator": collect.roc_curves(r, trig, "emulator") for r in data.runs}
        curves.update({f"{r.mode} float": collect.roc_curves(r, trig, "float") for r in data.runs})
        marks = {f"{r.mode} emulator": {s: v["tpr_at_fpr"] for s, v in r.metrics["emulator"][trig]["signals"].items()}
                 for r in data.runs}
        pngs[f"ROC {trig}"] = _b64(figures.roc_chart(curves, fpr, trig, marks))
        pngs[f"turn-on {trig}"] = _b64(figures.turn_on_chart({r.mode: collect.turn_on_curves(r, trig)
                                                              for r in data.runs}, trig))
    return pngs


def _paper_pngs(data: collect.ReportData) -> dict[str, str | None]:
    """Figs. 6-9: quantisers (build and run bundles), then per run calibration, event display and resolution."""
    run_bundles = {r.mode: r.bundle for r in data.runs if r.bundle is not None}
    physics = {r.mode: r.physics for r in data.runs if r.physics is not None}
    eta_max = data.spec.detector.eta_max
    return {
        "quantiser": _b64(paper_figures.quantiser_chart({"build bundle": data.bundle, **run_bundles})),
        "calibration": _b64(paper_figures.calibration_response_chart(run_bundles or {"build bundle": data.bundle},
                                                                     eta_max)),
        "event_display": _b64(paper_figures.event_display_chart(physics)) if physics else None,
        "resolution": _b64(paper_figures.resolution_chart(physics)) if physics else None,
    }


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
        "patterns": collect.patterns(data),
        "timing": timing_section.timing(data),
    }
    measured = [r for r in latency if r["measured_cycles"] is not None]
    html = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                              undefined=jinja2.StrictUndefined).get_template("report.html.j2").render(
        **doc, build_dir=str(build_dir), resource_kinds=RESOURCE_KINDS,
        latency_png=_b64(figures.latency_chart(measured)) if measured else None,
        resources_png=_b64(figures.resources_chart(resources["yosys"]["blocks"], resources["capacity"]))
        if resources else None,
        physics_pngs=_physics_pngs(data),
        paper_pngs=_paper_pngs(data), physics_missing=[r.name for r in data.runs if r.physics is None],
    )
    with replace_dir(out) as tmp:
        (tmp / "report.html").write_text(html)
        (tmp / "report.json").write_text(json.dumps(doc, indent=1, sort_keys=True, default=float) + "\n")
    return doc
