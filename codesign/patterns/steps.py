"""The `patterns` build step: input and output pattern files of the events the RTL simulation verifies."""

from __future__ import annotations

from typing import Any

from codesign.build.steps import BuildContext, step
from codesign.patterns.files import LINKMAP, write_patterns
from codesign.patterns.linkmap import OUTPUTS, LinkMap

PATTERNS = "patterns"


@step("patterns", (f"{PATTERNS}/{LINKMAP}",),
      "test vectors: pattern files (EMP, APx, hex) of the RTL's verification events, link map")
def patterns_step(ctx: BuildContext) -> dict[str, Any]:
    lm = LinkMap.of(ctx.spec, ctx.derived)
    n = min(ctx.config.rtl_events, len(ctx.events.et_in))
    ref = ctx.events.reference
    files = write_patterns(ctx.path(PATTERNS), lm, ref["codes"][:n], {k: ref[k][:n] for k in OUTPUTS})
    return {"events": n, **({} if n else {"skipped": "rtl_events = 0"}), "input_links": lm.in_links,
            "output_links": lm.out_links, "frames": lm.frames(n) if n else 0, "files": files}
