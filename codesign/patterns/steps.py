"""The `patterns` build step: input and output pattern files of the events the RTL simulation verifies.

When the build simulated the RTL, the step also replays its EMP files on the first simulator's
model (the chain driven from the input file, checked against the output file): a build proves
its own test vectors, and a difference is a failed check (exit 1).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from codesign.build.steps import BuildContext, CheckFailed, step
from codesign.patterns.files import LINKMAP, write_patterns
from codesign.patterns.linkmap import OUTPUTS, LinkMap
from codesign.patterns.replay import TOP, run_replay
from codesign.rtl.sim import build_model
from codesign.rtl.steps import plan_of, sources, tool_failure

PATTERNS = "patterns"
REPLAY_FORMAT = "emp"


def replay(ctx: BuildContext, directory: Path) -> dict[str, Any]:
    """Replay the pattern files on the first simulator that ran `rtl_sim` in this build, or say why not."""
    sims = [s for s in ctx.config.simulators if s in ctx.results.get("rtl_sim", {})]
    if not sims:
        return {"skipped": "no RTL simulation in this build"}
    sim, d = sims[0], ctx.path("rtl", f"sim_{sims[0]}")
    try:
        build_model(sim, sources(ctx), TOP, d / "build")  # already built by rtl_sim: a source-hash check
        res = run_replay(sim, d / "build", d / "patterns_tb", plan_of(ctx).params(), directory, REPLAY_FORMAT)
    except RuntimeError as exc:
        raise tool_failure(exc, d) from None
    if res.mismatches:
        raise CheckFailed(f"the RTL on {sim} differs from the output pattern file "
                          f"({', '.join(sorted(res.mismatches))}): see {d / 'patterns_tb' / 'mismatches.json'}")
    return {"simulator": sim, "format": REPLAY_FORMAT, "mismatches": 0}


@step("patterns", (f"{PATTERNS}/{LINKMAP}",),
      "test vectors: pattern files (EMP, APx, hex) of the RTL's verification events, link map, replay on the RTL")
def patterns_step(ctx: BuildContext) -> dict[str, Any]:
    lm = LinkMap.of(ctx.spec, ctx.derived)
    n = min(ctx.config.rtl_events, len(ctx.events.et_in))
    ref = ctx.events.reference
    files = write_patterns(ctx.path(PATTERNS), lm, ref["codes"][:n], {k: ref[k][:n] for k in OUTPUTS})
    return {"events": n, **({} if n else {"skipped": "rtl_events = 0"}), "input_links": lm.in_links,
            "output_links": lm.out_links, "frames": lm.frames(n) if n else 0, "files": files,
            "replay": replay(ctx, ctx.path(PATTERNS)) if n else {"skipped": "rtl_events = 0"}}
