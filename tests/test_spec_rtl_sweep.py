"""Every spec that validates can be built by the RTL generator and meets its budgets in RTL simulation.

A sweep over clocks, latency budgets, detector sizes, windows and cluster counts: `derive`
either refuses the spec naming a key, or picks a P whose estimate (the RTL latency model,
pipeline fill included, plus latency.pipeline_overhead) fits the budgets, and the RTL
generator accepts it. A subset is simulated (Icarus): the measured latency never exceeds the
model, and the outputs are bit-exact.
"""

from __future__ import annotations

import itertools

import pytest

from codesign.bundles import random_bundle
from codesign.build.events import synthetic_events
from codesign.derived import derive, rtl_latency_model
from codesign.errors import SpecError
from codesign.rtl.plan import make_plan
from codesign.spec import parse_spec
from helpers import default_spec_dict

GEOMETRIES = [(8, 8, 3, 4), (16, 24, 5, 12), (20, 32, 7, 16), (12, 12, 9, 6), (50, 64, 9, 10), (10, 16, 3, 60),
              (8, 8, 3, 64)]
CLOCKS = [160, 240, 360]
DENOISE_US = [0.1, 0.3, 0.9, 2.5]


def sweep_spec(eta: int, phi: int, window: int, n: int, clock: float, denoise_us: float,
               chain_factor: float = 1.2) -> dict:
    s = default_spec_dict()
    s["detector"].update(eta_bins=eta, phi_bins=phi)
    s["clusterer"] = {"window": window, "n_clusters": n}
    s["calibration"]["abs_eta_bins"] = 1
    s["bandwidth"]["link_tbps"] = 8 * 40e6 * eta * phi * 2 / 1e12  # 8 bits per cell
    s["target"]["clock_mhz"] = clock
    s["latency"].update(denoise_us=denoise_us, chain_us=round(denoise_us * chain_factor, 6))
    return s


def sweep() -> list[tuple]:
    return [(*g, c, u) for g, c, u in itertools.product(GEOMETRIES, CLOCKS, DENOISE_US)]


def derive_or_refuse(s: dict):
    try:
        return derive(parse_spec(s))
    except SpecError as exc:
        msg = str(exc)
        assert msg.split(" ")[0].split(":")[0] in {"latency.denoise_us", "clusterer.n_clusters"}, msg
        assert "\n" not in msg and len(msg) < 500
        return None


def test_the_issue_case_240_mhz_takes_the_pipeline_fill_into_account():
    """At 240 MHz, 0.9 us / 1 us: P = 16 would need 219 and 258 cycles (budgets 216, 240): P = 32 is chosen."""
    s = default_spec_dict()
    s["target"]["clock_mhz"] = 240
    s["latency"].update(denoise_us=0.9, chain_us=1.0)
    d = derive(parse_spec(s))
    assert rtl_latency_model(50, 64, 16, 9, 10) == (219, 258)
    assert d.pixel_parallelism == 32
    assert d.estimated_denoise_cycles <= d.budgets["denoiser"].cycles
    assert d.estimated_chain_cycles <= d.budgets["chain"].cycles


def test_p_equal_to_phi_bins_is_refused():
    s = sweep_spec(8, 8, 3, 4, 100, 0.05)  # 5 cycles: even P = phi_bins / 2 cannot make it
    with pytest.raises(SpecError, match=r"^latency\.denoise_us .*P = 4"):
        derive(parse_spec(s))


def test_64_clusters_on_an_8x8_image_are_refused():
    with pytest.raises(SpecError, match=r"^clusterer\.n_clusters = 64: expected at most"):
        derive(parse_spec(sweep_spec(8, 8, 3, 64, 360, 2.5)))


def test_sweep_validates_only_buildable_specs():
    valid = 0
    for eta, phi, w, n, clock, us in sweep():
        d = derive_or_refuse(sweep_spec(eta, phi, w, n, clock, us))
        if d is None:
            continue
        valid += 1
        p = d.pixel_parallelism
        assert phi % p == 0 and phi // p >= 2
        model = rtl_latency_model(eta, phi, p, w, n)
        assert model[0] <= d.estimated_denoise_cycles <= d.budgets["denoiser"].cycles
        assert model[1] <= d.estimated_chain_cycles <= d.budgets["chain"].cycles
        make_plan(random_bundle(d, 1), d)  # the RTL generator accepts it
    assert valid >= 20


def simulate(s: dict, sim: str = "icarus") -> tuple:
    from codesign.rtl.sim import missing_simulator
    from codesign.rtl.verify import block_stimulus, run_block
    from codesign.rtl.verilog import write_sources
    from helpers import ROOT, require_tool

    why = missing_simulator(sim)
    require_tool(why is None, f"{sim}: {why}")
    d = derive(parse_spec(s))
    b = random_bundle(d, 3)
    plan = make_plan(b, d)
    root = ROOT / "build" / "rtl_tests" / f"sweep-P{plan.lanes}-{b.content_hash()[:12]}"
    sources = write_sources(plan, root / "src")
    et = synthetic_events(2, 1, (2, d.eta_bins, d.phi_bins), b.formats["et_in"])
    stim = block_stimulus("chain", b, plan, {"et_in": et}, None)
    res = run_block(sim, "chain", plan, sources, root, stim, "sweep")
    assert res.passed, str(res.mismatches)[:2000]
    return d, res.latency["denoiser"]["last_out"], res.latency["chain"]["last_out"]


def _check_measured(d, denoise: int, chain: int) -> None:
    model = rtl_latency_model(d.eta_bins, d.phi_bins, d.pixel_parallelism, d.window, d.n_clusters)
    assert denoise <= model[0] <= d.budgets["denoiser"].cycles
    assert chain <= model[1] <= d.budgets["chain"].cycles


def test_small_spec_meets_its_budget_in_rtl():
    d, denoise, chain = simulate(sweep_spec(8, 8, 3, 4, 240, 0.3))
    assert d.pixel_parallelism == 2
    _check_measured(d, denoise, chain)


SIMULATED = [(16, 24, 5, 12, 240, 0.3), (16, 24, 5, 12, 360, 0.9), (20, 32, 7, 16, 160, 0.9),
             (20, 32, 7, 16, 360, 0.3), (12, 12, 9, 6, 240, 0.3), (10, 16, 3, 60, 360, 0.9), (8, 8, 3, 4, 160, 0.3)]


@pytest.mark.slow
@pytest.mark.parametrize("case", SIMULATED, ids=lambda c: "x".join(map(str, c)))
def test_sweep_meets_budgets_in_rtl(case):
    s = sweep_spec(*case)
    if derive_or_refuse(s) is None:
        pytest.fail(f"sweep case {case} does not validate")
    _check_measured(*simulate(s))


@pytest.mark.slow
def test_issue_case_meets_budgets_in_rtl():
    s = default_spec_dict()
    s["target"]["clock_mhz"] = 240
    s["latency"].update(denoise_us=0.9, chain_us=1.0)
    _check_measured(*simulate(s))
