"""Named, resumable build steps: each writes its artefacts under the build directory and a result in build.json.

A step is skipped on a rerun when its input hash (config, spec, bundle, codesign version and
the results of the steps before it) matches the stored one and its artefacts still exist.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Callable

from codesign import __version__
from codesign.build.config import BuildConfig, read_manifest
from codesign.bundles import check_bundle_matches
from codesign.derived import DerivedParams, derive
from codesign.errors import InputError
from codesign.parts import Part, load_parts
from codesign.spec import Spec, load_spec
from codesign.version import provenance
from emulation.atomic import write_json
from emulation.bundle import FirmwareBundle


class CheckFailed(Exception):
    """A verification failed (mismatch, budget exceeded): reported and exit code 1."""

    exit_code = 1


@dataclass
class BuildContext:
    """What every step sees: the config, the loaded spec/bundle and the build directory."""

    config: BuildConfig
    spec: Spec
    derived: DerivedParams
    part: Part
    bundle: FirmwareBundle
    out: Path
    results: dict[str, dict[str, Any]] = field(default_factory=dict)

    def path(self, *parts: str) -> Path:
        return self.out.joinpath(*parts)

    @cached_property
    def events(self):
        """The verification events (raw et_in images) and the emulator's reference outputs."""
        from codesign.build.events import load_events

        return load_events(self)


@dataclass(frozen=True)
class Step:
    name: str
    run: Callable[[BuildContext], dict[str, Any]]
    artefacts: tuple[str, ...]  # paths relative to the build directory that must exist when done
    description: str


_STEPS: dict[str, Step] = {}


def step(name: str, artefacts: tuple[str, ...], description: str):
    """Register a build step function (steps run in registration order)."""

    def deco(fn: Callable[[BuildContext], dict[str, Any]]):
        _STEPS[name] = Step(name, fn, artefacts, description)
        return fn

    return deco


def registered_steps() -> list[Step]:
    """All steps, importing the modules that define them (in pipeline order)."""
    import codesign.build.events  # noqa: F401  (registers "events")

    for module in STEP_MODULES:
        __import__(module)
    return list(_STEPS.values())


# Modules that register further steps, in pipeline order (HLS, RTL, ...).
STEP_MODULES: list[str] = ["codesign.hls.steps", "codesign.rtl.steps", "codesign.patterns.steps"]


def _hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def open_context(config: BuildConfig) -> BuildContext:
    """Load and cross-check spec, target and bundle; one-line errors for bad input."""
    spec = load_spec(config.spec)
    derived = derive(spec)
    part = load_parts().resolve(config.target, "--target")
    bundle = FirmwareBundle.load(config.bundle)
    check_bundle_matches(bundle, derived)
    out = Path(config.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"--out {config.out!r}: cannot create the build directory ({exc.strerror})") from None
    return BuildContext(config=config, spec=spec, derived=derived, part=part, bundle=bundle, out=out)


def run_build(config: BuildConfig, log: Callable[[str], None] = print) -> BuildContext:
    """Run (or resume) the build; raises CheckFailed after recording a failed verification."""
    ctx = open_context(config)
    manifest_path = ctx.path("build.json")
    old = read_manifest(ctx.out) if manifest_path.exists() or manifest_path.is_symlink() else {}
    manifest: dict[str, Any] = {"config": config.stored(ctx.out), **provenance(),
                                "spec_hash": ctx.spec.spec_hash(), "bundle_hash": ctx.bundle.content_hash(),
                                "part": ctx.part.name, "steps": {}}
    # Results of an earlier run of this build stay valid while what it was built from is the same;
    # where it goes (out), which steps run this time (steps) and the git commit (recorded only) are not.
    inputs = {k: v for k, v in manifest["config"].items() if k not in ("out", "steps")}
    basis = [inputs, manifest["spec_hash"], manifest["bundle_hash"], __version__]
    old_inputs = {k: v for k, v in old.get("config", {}).items() if k not in ("out", "steps")}
    same = [json.loads(json.dumps(old_inputs)), old.get("spec_hash"), old.get("bundle_hash"),
            old.get("codesign_version")] == json.loads(json.dumps(basis))
    old_steps = old.get("steps", {}) if same else {}
    steps = registered_steps()
    wanted = set(config.steps) if config.steps else {s.name for s in steps}
    unknown = wanted - {s.name for s in steps}
    if unknown:
        raise InputError(f"--steps {sorted(unknown)[0]!r}: unknown step (known: {', '.join(s.name for s in steps)})")
    upstream: dict[str, Any] = {}
    for s in steps:
        prev = old_steps.get(s.name)
        if s.name not in wanted:
            if prev and prev.get("status") == "done":  # keep an earlier result of a step not run now
                manifest["steps"][s.name] = prev
                upstream[s.name] = ctx.results[s.name] = prev["result"]
            continue
        key = _hash([*basis, s.name, upstream])
        if prev and prev.get("status") == "done" and prev.get("input_hash") == key and \
                all(ctx.path(a).exists() for a in s.artefacts):
            log(f"[{s.name}] up to date, skipped")
            result = prev["result"]
        else:
            log(f"[{s.name}] {s.description}")
            t0 = time.perf_counter()
            try:
                result = s.run(ctx)
            except CheckFailed as exc:
                manifest["steps"][s.name] = {"status": "failed", "input_hash": key, "error": str(exc)}
                write_json(manifest_path, manifest)
                raise
            log(f"[{s.name}] done in {time.perf_counter() - t0:.1f} s")
        ctx.results[s.name] = result
        manifest["steps"][s.name] = {"status": "done", "input_hash": key, "result": result}
        upstream[s.name] = result
        write_json(manifest_path, manifest)
    write_json(manifest_path, manifest)
    return ctx
