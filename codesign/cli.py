"""The `codesign` command line (click).

Every command reports bad input as one line on stderr and exits with code 2; failures
of a check (a mismatch, a blown latency budget) exit with code 1.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from codesign.derived import derive
from codesign.build.steps import CheckFailed
from codesign.errors import InputError
from codesign.spec import load_spec


class _Group(click.Group):
    """A click group: bad input -> one `error:` line and exit code 2; `CheckFailed` -> one line and exit code 1.

    Besides `InputError`, what the file system says about a user's path (missing, unwritable, a
    link loop, a disk full), input nested too deeply for Python's recursion and input too large
    for memory are bad input too. Ctrl-C gives one line and exit code 130.
    """

    def invoke(self, ctx: click.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except InputError as exc:
            _error(str(exc), exc.exit_code)
        except CheckFailed as exc:
            click.echo(f"FAILED: {exc}", err=True)
            sys.exit(exc.exit_code)
        except OSError as exc:
            name = exc.filename if exc.filename is not None else ""
            _error(f"{name!s}: {exc.strerror}" if name and exc.strerror else f"{exc.__class__.__name__}: {exc}", 2)
        except RecursionError:
            _error("input nested too deeply to read", 2)
        except MemoryError:
            _error("input too large for memory", 2)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)


def _one_line(text: str, limit: int = 2000) -> str:
    """Messages are one line, and short even for huge inputs."""
    text = " ".join(text.split("\n")) if "\n" in text else text
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _error(message: str, code: int) -> None:
    click.echo(f"error: {_one_line(message)}", err=True)
    sys.exit(code)


def _show_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """--version: the package version, and the git commit when run from a checkout."""
    if value and not ctx.resilient_parsing:
        from codesign.version import version_string

        click.echo(f"codesign {version_string()}")
        ctx.exit()


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_show_version,
              help="Show the version (and the git commit in a checkout) and exit.")
def main() -> None:
    """FPGA trigger co-design: one constraint spec drives QAT training and bit-exact firmware."""


# --------------------------------------------------------------------------- spec


@main.group(cls=_Group)
def spec() -> None:
    """Validate constraint specs and show what they imply."""


def _default_spec() -> Path:
    """The shipped default spec (constraints/hl-lhc-multijet.yaml), named relative to the working directory."""
    from codesign.paths import DEFAULT_SPEC, from_cwd

    return from_cwd(DEFAULT_SPEC)


_SPEC_ARG = click.argument("spec_file", type=click.Path(dir_okay=False, path_type=Path), required=False,
                           default=_default_spec)
_DEFAULT_SPEC_HELP = "Constraint spec (default: the shipped constraints/hl-lhc-multijet.yaml)."


@spec.command("validate")
@_SPEC_ARG
def spec_validate(spec_file: Path) -> None:
    """Check SPEC_FILE (schema and feasibility; default: the shipped default spec) and exit 0 if it is valid."""
    s = load_spec(spec_file)
    derive(s)
    click.echo(f"{spec_file}: valid ({s.name}, spec hash {s.spec_hash()[:12]})")


@spec.command("show")
@_SPEC_ARG
@click.option("--json", "as_json", is_flag=True, help="Print the derived parameters as JSON.")
def spec_show(spec_file: Path, as_json: bool) -> None:
    """Print the parameters derived from SPEC_FILE (default: the shipped default spec): encoding, parallelism,
    budgets, fixed-point types."""
    d = derive(load_spec(spec_file))
    if as_json:
        click.echo(json.dumps(d.to_json(), indent=2))
        return
    from codesign.spec_report import derived_table

    click.echo(derived_table(d))


# --------------------------------------------------------------------------- bundle


@main.group(cls=_Group)
def bundle() -> None:
    """Make, inspect and check firmware bundles."""


@bundle.command("random")
@click.option("--spec", "spec_file", type=click.Path(dir_okay=False, path_type=Path), default=_default_spec,
              help=_DEFAULT_SPEC_HELP)
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
def bundle_random(spec_file: Path, seed: int, out: Path) -> None:
    """Write a random but valid bundle for SPEC (for testing firmware before training exists)."""
    from codesign.bundles import random_bundle

    b = random_bundle(derive(load_spec(spec_file)), seed)
    digest = b.save(out)
    click.echo(f"wrote {out} (content hash {digest})")


@bundle.command("show")
@click.argument("bundle_dir", type=click.Path(path_type=Path))
@click.option("--spec", "spec_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also check that the bundle matches this spec.")
def bundle_show(bundle_dir: Path, spec_file: Path | None) -> None:
    """Validate BUNDLE_DIR (hash, shapes, ranges, monotonicity) and print a summary."""
    from codesign.bundles import check_bundle_matches
    from emulation.bundle import FirmwareBundle

    b = FirmwareBundle.load(bundle_dir)
    if spec_file is not None:
        check_bundle_matches(b, derive(load_spec(spec_file)))
    p = b.provenance
    click.echo(f"bundle {bundle_dir}: valid, content hash {b.content_hash()}")
    click.echo(f"  spec {p.spec_name} ({p.spec_hash[:12]}), source {p.source}, seed {p.seed}, "
               f"codesign {p.codesign_version}" + (f", dataset {p.dataset_hash[:12]}" if p.dataset_hash else ""))
    for name, arr in b.arrays().items():
        fmt = b.array_format(name)
        click.echo(f"  {name:28s} {str(tuple(arr.shape)):12s} {fmt.cpp() if fmt else 'int'}")


# --------------------------------------------------------------------------- emulate


@main.command("emulate")
@click.option("--bundle", "bundle_dir", type=click.Path(path_type=Path), required=True, help="Firmware bundle.")
@click.option("--data", "data_dir", type=click.Path(path_type=Path), required=True, help="Dataset directory.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="results.h5 to write.")
@click.option("--split", type=click.Choice(["train", "val", "test"]), default="test", show_default=True)
@click.option("--max-events", type=click.IntRange(min=1), default=None, help="Stop after this many events.")
@click.option("--batch-size", type=click.IntRange(min=1), default=256, show_default=True)
@click.option("--dask-scheduler", default=None, help="Emulate on this dask.distributed cluster (one task per process).")
def emulate_cmd(bundle_dir: Path, data_dir: Path, out: Path, split: str, max_events: int | None,
                batch_size: int, dask_scheduler: str | None) -> None:
    """Run the bit-accurate emulator over a dataset split (frozen pile-up for val/test)."""
    from codesign.emulate import emulate_dataset

    n = emulate_dataset(bundle_dir, data_dir, out, split, max_events, batch_size, dask_scheduler)
    click.echo(f"wrote {out} ({n} events, split {split})")


# --------------------------------------------------------------------------- build


@main.command("build")
@click.option("--spec", "spec_file", type=click.Path(dir_okay=False, path_type=Path), default=_default_spec,
              help=_DEFAULT_SPEC_HELP)
@click.option("--bundle", "bundle_dir", type=click.Path(path_type=Path), default=None,
              help="Firmware bundle (default: the committed default bundle, codesign/default_bundle).")
@click.option("--target", default=None, help="FPGA part or alias (default: the spec's part).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Build directory (default: build/<spec name>).")
@click.option("--events", "n_events", type=int, default=100, show_default=True, help="Events to verify.")
@click.option("--data", "data_dir", type=click.Path(path_type=Path), default=None,
              help="Take the events from this dataset's test split (default: generated).")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True,
              help="Seed of generated events.")
@click.option("--sim", "simulators", multiple=True, default=("verilator",), show_default=True,
              help="RTL simulator(s): verilator, icarus.")
@click.option("--rtl-events", type=int, default=10, show_default=True, help="Events driven through RTL simulation.")
@click.option("--steps", default="", help="Comma-separated subset of steps to run (default: all).")
def build_cmd(spec_file: Path, bundle_dir: Path | None, target: str | None, out: Path | None, n_events: int,
              data_dir: Path | None, seed: int, simulators: tuple[str, ...], rtl_events: int, steps: str) -> None:
    """Generate the firmware project (HLS C++ and Verilog) for a bundle and verify it bit for bit against the emulator."""
    from codesign.build.config import BuildConfig
    from codesign.build.steps import run_build
    from codesign.paths import DEFAULT_BUNDLE, from_cwd

    spec = load_spec(spec_file)
    out = out or Path("build") / spec.name
    config = BuildConfig(spec=str(spec_file), bundle=str(bundle_dir or from_cwd(DEFAULT_BUNDLE)),
                         target=target or spec.target.part, out=str(out), n_events=n_events,
                         data=str(data_dir) if data_dir else None, seed=seed, simulators=tuple(simulators),
                         rtl_events=rtl_events, steps=tuple(s for s in steps.split(",") if s))
    ctx = run_build(config, log=click.echo)
    click.echo(f"build {out}: all steps passed ({', '.join(ctx.results)})")


# --------------------------------------------------------------------------- report


@main.command("report")
@click.option("--build", "build_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="A codesign build directory.")
@click.option("--run", "runs", type=click.Path(file_okay=False, path_type=Path), multiple=True,
              help="A training run (repeat for sequential and end-to-end).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Report directory.")
def report_cmd(build_dir: Path, runs: tuple[Path, ...], out: Path) -> None:
    """Write OUT/report.html (self-contained, plots embedded) and OUT/report.json for a review."""
    from codesign.report.render import build_report

    build_report(build_dir, list(runs), out)
    click.echo(f"report: {out / 'report.html'}")


from codesign.cli_data import data  # noqa: E402
main.add_command(data)
from codesign.cli_train import evaluate, export, train  # noqa: E402
main.add_command(train)
main.add_command(export)
main.add_command(evaluate)
from codesign.hls.cli import crosscheck_hls4ml  # noqa: E402
main.add_command(crosscheck_hls4ml)
from codesign.rtl.cli import check_latency, check_timing  # noqa: E402
main.add_command(check_latency)
main.add_command(check_timing)
from codesign.sweep.cli import sweep  # noqa: E402
main.add_command(sweep)

if __name__ == "__main__":  # pragma: no cover
    main()
