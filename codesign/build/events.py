"""The `events` build step: the verification events and the emulator's reference outputs.

Events come from a dataset's test split (frozen pile-up) or are generated from the seed:
two adversarial events first (every cell at the largest E_T; an empty image), then
pile-up-like noise with a few jets. Every implementation is compared against reference.npz.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from codesign.build.steps import BuildContext, step
from emulation.chain import OUTPUTS, run_chain
from emulation.fixed import FixedFormat, from_float
from codesign.errors import InputError
from emulation.npz import read_npz, write_npz

EVENTS = "events/events.npz"
REFERENCE = "events/reference.npz"
# Intermediates kept for per-block comparisons (small per event; the dense activations are not).
REFERENCE_INTERMEDIATES = ("codes", "et_dec", "conv_act", "seg_w", "et_pred", "seeds")


@dataclass(frozen=True)
class Events:
    """Raw et_in images (N, L, H, W) with the emulator's outputs and block intermediates."""

    et_in: np.ndarray
    reference: dict[str, np.ndarray]


def synthetic_events(n: int, seed: int, shape: tuple[int, int, int], et_in: FixedFormat) -> np.ndarray:
    """Raw images: an all-maximum event, an empty event, then pile-up-like noise plus jets."""
    rng = np.random.default_rng(seed)
    layers, h, w = shape
    img = rng.exponential(0.5, size=(n, layers, h, w)) * (rng.random((n, layers, h, w)) < 0.9)
    for ev in range(n):
        for _ in range(int(rng.integers(0, 8))):
            i, j = int(rng.integers(0, h)), int(rng.integers(0, w))
            pt = rng.exponential(60.0)
            frac_em = rng.random()
            rows = slice(max(i - 1, 0), i + 2)
            img[ev, 0, rows, j] += pt * frac_em / 3
            img[ev, 1, rows, j] += pt * (1 - frac_em) / 3
    raw = from_float(img, et_in)
    raw[0] = et_in.raw_max
    if n > 1:
        raw[1] = 0
    return raw


def _dataset_events(data: str, n: int, et_in: FixedFormat) -> np.ndarray:
    from codesign.data.reader import Dataset

    ds = Dataset(data)
    chunks, got = [], 0
    for batch in ds.batches("test", batch_size=min(n, 256), pileup="frozen", shuffle=False):
        chunks.append(from_float(batch["image"][: n - got], et_in, what=f"dataset {data}: cell E_T"))
        got += len(chunks[-1])
        if got >= n:
            break
    return np.concatenate(chunks)


@step("events", (EVENTS, REFERENCE), "verification events and emulator reference outputs")
def make_events(ctx: BuildContext) -> dict[str, Any]:
    cfg, g, et_in = ctx.config, ctx.bundle.geometry, ctx.bundle.formats["et_in"]
    if cfg.data:
        raw = _dataset_events(cfg.data, cfg.n_events, et_in)
        source = f"dataset test split ({cfg.data})"
    else:
        raw = synthetic_events(cfg.n_events, cfg.seed, (g.n_layers, g.eta_bins, g.phi_bins), et_in)
        source = f"generated (seed {cfg.seed})"
    result = run_chain(ctx.bundle, raw, keep=True)
    reference = {k: result[k] for k in OUTPUTS + REFERENCE_INTERMEDIATES}
    ctx.path("events").mkdir(exist_ok=True)
    write_npz(ctx.path(EVENTS), {"et_in": raw})
    write_npz(ctx.path(REFERENCE), reference)
    return {"n_events": int(len(raw)), "source": source,
            "pass_pt1": int(reference["pass_pt1"].sum()), "pass_pt4": int(reference["pass_pt4"].sum())}


def load_events(ctx: BuildContext) -> Events:
    """Read the events step's artefacts."""
    what = f"build {str(ctx.out)!r} (delete the events folder to regenerate)"
    et_in = read_npz(ctx.path(EVENTS), what).get("et_in")
    g = ctx.bundle.geometry
    if et_in is None or et_in.ndim != 4 or et_in.shape[1:] != (g.n_layers, g.eta_bins, g.phi_bins):
        raise InputError(f"{what}: {EVENTS} holds no et_in images of shape (N, {g.n_layers}, {g.eta_bins}, "
                         f"{g.phi_bins})")
    if not ctx.bundle.formats["et_in"].contains(et_in):
        raise InputError(f"{what}: {EVENTS} has E_T values outside {ctx.bundle.formats['et_in'].cpp()}")
    reference = read_npz(ctx.path(REFERENCE), what)
    missing = [k for k in OUTPUTS + REFERENCE_INTERMEDIATES if k not in reference]
    bad = [k for k, v in reference.items() if v.shape[:1] != et_in.shape[:1]]
    if missing or bad:
        raise InputError(f"{what}: {REFERENCE} {'lacks ' + missing[0] if missing else bad[0] + ' has the wrong shape'}")
    return Events(et_in=et_in, reference=reference)
