"""`codesign crosscheck-hls4ml`: the V3 cross-check of the CNN against hls4ml, from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command("crosscheck-hls4ml")
@click.option("--bundle", "bundle_dir", type=click.Path(path_type=Path), required=True, help="Firmware bundle.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Directory for the hls4ml project.")
@click.option("--events", "n_events", type=click.IntRange(min=1), default=10, show_default=True,
              help="Generated events (as `codesign build` makes them) whose pixels are compared.")
@click.option("--pixels", type=click.IntRange(min=1), default=None, help="Compare this many random pixels (default: all).")
@click.option("--mode", type=click.Choice(["matched", "defaults"]), default="matched", show_default=True,
              help="matched: the bundle's precision per layer; defaults: hls4ml's own.")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True,
              help="Seed of the events and the pixel sample.")
@click.option("--json", "json_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the result as JSON.")
def crosscheck_hls4ml(bundle_dir: Path, out: Path, n_events: int, pixels: int | None, mode: str, seed: int,
                      json_file: Path | None) -> None:
    """Convert the bundle's CNN with hls4ml, run its C simulation and compare with the emulator.

    Exits 1 in matched mode when any value differs.
    """
    from codesign.build.events import synthetic_events
    from codesign.build.steps import CheckFailed
    from codesign.errors import InputError
    from codesign.hls.crosscheck import crosscheck
    from emulation.bundle import FirmwareBundle

    bundle = FirmwareBundle.load(bundle_dir)
    if json_file is not None and not json_file.parent.is_dir():
        raise InputError(f"--json {json_file}: {json_file.parent} is not a directory")
    try:  # before the minutes of hls4ml, not after
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"--out {out}: cannot create the directory ({exc.strerror or exc})") from None
    g = bundle.geometry
    et = synthetic_events(n_events, seed, (g.n_layers, g.eta_bins, g.phi_bins), bundle.formats["et_in"])
    result = crosscheck(bundle, et, out, mode=mode, max_pixels=pixels, seed=seed)
    click.echo(f"hls4ml ({mode} precisions) vs emulator on {result.pixels} pixels "
               f"({result.hls4ml_s:.1f} s for conversion, compilation and C simulation)")
    for name, a in result.agreement.items():
        click.echo(f"  {name:11s} {a.values:9d} values  identical {100 * a.identical:8.4f} %  max |diff| {a.max_lsb} LSB")
    if json_file is not None:
        try:
            json_file.write_text(json.dumps(result.to_json(), indent=1, sort_keys=True) + "\n")
        except OSError as exc:
            raise InputError(f"--json {json_file}: cannot write ({exc.strerror or exc})") from None
    if mode == "matched" and any(a.identical < 1.0 for a in result.agreement.values()):
        raise CheckFailed("hls4ml with matched precisions disagrees with the emulator")
