"""Block-level and chain-level RTL verification: stimulus with the emulator's expected outputs, and one run.

Every expected value comes from the emulator's own block functions, so a block can be driven
with inputs the chain never produces (E_T above the decoder's levels, hand-made ties, pT on
octave boundaries) and still be checked exactly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from codesign.rtl.plan import RtlPlan
from codesign.rtl.sim import TbResult, build_model, run_testbench, schedule
from emulation.bundle import FirmwareBundle
from emulation.calibration import calibrate
from emulation.chain import run_chain
from emulation.clusterer import cluster
from emulation.cnn import denoise
from emulation.trigger import trigger

# testbench mode -> toplevel module
MODE_TOPS = {"chain": "cs_top", "quantiser": "cs_decoder", "denoiser": "cs_cnn", "clusterer": "cs_clusterer",
             "calibration": "cs_calibration", "trigger": "cs_trigger"}
# Emulator outputs the chain testbench compares: every block's output stream.
CHAIN_EXPECT = ("et_dec", "et_pred", "seg_w", "cluster_pt", "cluster_ieta", "cluster_iphi", "n_clusters", "pt_calib",
                "sorted_pt", "pt1", "pt4", "pass_pt1", "pass_pt4")


def chain_stimulus(reference: dict[str, np.ndarray], n: int, beats: int, seed: int | None = None) -> dict:
    """Chain stimulus from the emulator's outputs of a batch (run_chain(..., keep=True) or the events step)."""
    stim = {"codes": reference["codes"][:n]}
    stim.update({f"expect_{k}": np.asarray(reference[k])[:n] for k in CHAIN_EXPECT})
    stim.update(schedule(n, beats, seed))
    return stim


def block_stimulus(mode: str, bundle: FirmwareBundle, plan: RtlPlan, inputs: dict[str, np.ndarray],
                   seed: int | None = None) -> dict:
    """Inputs of one block (or et_in for the chain) -> stimulus with its expect_* arrays and schedule."""
    if mode == "chain":
        ref = run_chain(bundle, inputs["et_in"], keep=True)
        return chain_stimulus(ref.outputs | ref.intermediates, len(inputs["et_in"]), plan.beats_per_event, seed)
    if mode == "quantiser":
        levels = bundle.quantiser.levels  # the decoder LUT: et_dec = levels[layer][code]
        expect = {"et_dec": np.stack([levels[c][inputs["codes"][:, c]] for c in range(len(levels))], axis=1)}
    elif mode == "denoiser":
        out = denoise(bundle, inputs["et_dec"])
        expect = {"et_pred": out["et_pred"], "seg_w": out["seg_w"]}
    elif mode == "clusterer":
        out = cluster(bundle, inputs["et_pred"])
        expect = {k: out[k] for k in ("cluster_pt", "cluster_ieta", "cluster_iphi", "n_clusters")}
    elif mode == "calibration":
        expect = {"pt_calib": calibrate(bundle, inputs["cluster_pt"], inputs["cluster_ieta"], inputs["n_clusters"])}
    elif mode == "trigger":
        expect = {k: v for k, v in trigger(bundle, inputs["pt_calib"]).items() if k != "sort_order"}
    else:
        raise ValueError(f"unknown block {mode!r}")
    n = len(next(iter(inputs.values())))
    beats = plan.clusterer.n_out if mode in ("calibration", "trigger") else plan.beats_per_event
    return {**inputs, **{f"expect_{k}": np.asarray(v) for k, v in expect.items()}, **schedule(n, beats, seed)}


def run_block(sim: str, mode: str, plan: RtlPlan, sources: list[Path], build_root: Path, stimulus: dict,
              name: str = "run") -> TbResult:
    """Build (cached per simulator, toplevel and sources) and run one testbench; files go under build_root."""
    top = MODE_TOPS[mode]
    build_dir = build_root / f"{sim}-{top}"
    build_model(sim, sources, top, build_dir)
    tb_dir = build_root / "tb" / f"{sim}-{mode}-{name}"
    return run_testbench(sim, build_dir, top, tb_dir, mode, plan.params(), stimulus,
                         drain_cycles=20 * plan.beats_per_event + 100, results_xml=tb_dir / "results.xml")
