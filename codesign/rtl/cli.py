"""`codesign check-latency`: a CI gate on the RTL latency measured in a build against a spec's budgets."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click

from codesign.build.config import BuildConfig, read_manifest
from codesign.build.steps import CheckFailed, run_build
from codesign.derived import DerivedParams, derive
from codesign.errors import InputError
from codesign.rtl import timing_gate
from codesign.rtl.latency import format_table, latency_rows, stored_latencies
from codesign.spec import load_spec


def check_built_from(build_dir: Path, spec_hash: str | None = None, bundle_hash: str | None = None,
                     spec_name: str = "the spec", bundle_name: str = "the bundle") -> None:
    """Refuse (exit 2) a build directory that was made from another spec or bundle than the ones given."""
    manifest = read_manifest(build_dir)
    for what, name, want, key in (("spec", spec_name, spec_hash, "spec_hash"),
                                  ("bundle", bundle_name, bundle_hash, "bundle_hash")):
        if want is not None and manifest[key] != want:
            raise InputError(f"build {str(build_dir)!r} was made from another {what} ({key} {manifest[key][:12]}) "
                             f"than {name} ({want[:12]}); rebuild it, or give the {what} it was built from")


def open_checked_build(spec_file: Path, build_dir: Path) -> tuple[DerivedParams, BuildConfig]:
    """The spec's derived parameters and the build's configuration, the build checked to be made from that spec."""
    derived = derive(load_spec(spec_file))
    if not build_dir.is_dir():
        raise InputError(f"--build {str(build_dir)!r}: not a directory")
    config = BuildConfig.load(build_dir)  # a bad build directory fails here, before anything runs
    check_built_from(build_dir, spec_hash=derived.spec_hash, spec_name=f"--spec {str(spec_file)!r}")
    return derived, config


def simulate_build(build_dir: Path, config: BuildConfig) -> None:
    """Run the events, rtl and rtl_sim steps of a build with its own configuration (recorded in build.json)."""
    config = dataclasses.replace(config, out=str(build_dir), steps=("events", "rtl", "rtl_sim"),
                                 rtl_events=max(config.rtl_events, 1))  # one event measures the latency
    run_build(config, log=lambda line: click.echo(line, err=True))


@click.command("check-latency")
@click.option("--spec", "spec_file", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Constraint spec whose latency budgets and clock apply.")
@click.option("--build", "build_dir", type=click.Path(path_type=Path), required=True,
              help="Build directory of `codesign build` (simulated first when it holds no RTL latency).")
def check_latency(spec_file: Path, build_dir: Path) -> None:
    """Print measured RTL latency per block against SPEC's budgets; exit 1 when any block or the chain is over."""
    derived, config = open_checked_build(spec_file, build_dir)
    records = stored_latencies(build_dir)
    if not records:
        click.echo(f"no RTL latency stored in {build_dir}: running its rtl and rtl_sim steps", err=True)
        simulate_build(build_dir, config)
        records = stored_latencies(build_dir)
    rows = latency_rows(derived, records)
    click.echo(f"build {build_dir}, measured on {', '.join(sorted(records))}")
    click.echo(format_table(rows, derived.clock_mhz))
    over = [r.block for r in rows if r.over]
    missing = [r.block for r in rows if r.budget_cycles is not None and r.measured_cycles is None]
    if over or missing:
        raise CheckFailed("; ".join(filter(None, [f"over budget: {', '.join(over)}" if over else "",
                                                  f"not measured: {', '.join(missing)}" if missing else ""])))


def vendor_lines(build_dir: Path) -> list[str]:
    """What the vendor steps of a build did: Vivado (routed WNS) and the HLS tool, or why they were skipped."""
    steps = read_manifest(build_dir).get("steps", {})
    vivado = (steps.get("synth", {}).get("result") or {}).get("vivado")
    hls = steps.get("csynth", {}).get("result") or {}
    lines = [f"vivado: {vivado if vivado else 'not run (no synth step)'}"]
    if vivado == "done":
        timing = timing_gate.stored_vivado_timing(build_dir)
        lines[0] += f", routed WNS {timing.get('wns_ns')} ns" if timing else ""
    lines.append(f"vitis_hls: {hls.get('status', 'not run (no csynth step)')}"
                 f"{': ' + hls['reason'] if hls.get('reason') else ''}")
    return lines


@click.command("check-timing")
@click.option("--spec", "spec_file", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Constraint spec whose clock applies.")
@click.option("--build", "build_dir", type=click.Path(path_type=Path), required=True,
              help="Build directory of `codesign build` (synthesized and estimated first when it holds no estimate).")
def check_timing(spec_file: Path, build_dir: Path) -> None:
    """Print the estimated slowest path per block against SPEC's clock; exit 1 when any block misses it."""
    derived, config = open_checked_build(spec_file, build_dir)
    record = timing_gate.stored_timing(build_dir)
    if record is None:
        click.echo(f"no timing estimate stored in {build_dir}: running its rtl, synth and timing steps", err=True)
        run_build(dataclasses.replace(config, out=str(build_dir), steps=("rtl", "synth", "timing")),
                  log=lambda line: click.echo(line, err=True))
        record = timing_gate.stored_timing(build_dir)
    rows = timing_gate.timing_rows(derived, record)
    click.echo(f"build {build_dir}, {record['family']} speed grade {record['speed_grade']}")
    click.echo(timing_gate.format_table(rows, derived.clock_mhz))
    for line in vendor_lines(build_dir):
        click.echo(line)
    misses = [r.block for r in rows if r.misses]
    if misses:
        keys = [key for block, key, on in (("denoiser", "register_products", derived.cnn_extra_stages),
                                           ("trigger", "register_decision", derived.trigger_extra_stages))
                if block in misses and not on]
        hint = f" (spec keys that add pipeline stages there: {', '.join(f'firmware.{k}: true' for k in keys)})" \
            if keys else ""
        raise CheckFailed(f"estimated to miss {derived.clock_mhz:g} MHz: {', '.join(misses)}{hint}")
