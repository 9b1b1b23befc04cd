"""Drive the chain's RTL testbench from a pattern directory: input words onto i_code, output file as expectation.

The testbench (firmware/cocotb/cs_tb.py) takes its stimulus from here when its tb.json names a
pattern directory and format: invalid input frames become idle cycles, and the expected values
(and, for framed formats, the frame of each decision) come from the output file alone.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from codesign.errors import InputError
from codesign.patterns.linkmap import LinkMap
from codesign.patterns.reader import read_sides
from codesign.rtl.sim import TbResult, run_testbench

TOP = "cs_top"
# link map field -> the RTL parameter it must equal
PORT_PARAMS = {"lanes": "lanes", "code_width": "code_width", "eta_bins": "eta_bins", "phi_bins": "phi_bins",
               "n_clusters": "n_clusters", "calib_width": "calib_width"}


def check_ports(lm: LinkMap, params: dict, where: str) -> None:
    """The link map must describe the design's ports (same P, widths and image)."""
    for key, param in PORT_PARAMS.items():
        if getattr(lm, key) != params[param]:
            raise InputError(f"{where}: link map {key} = {getattr(lm, key)}, but the design has {params[param]}")
    if len(lm.layers) != params["n_layers"]:
        raise InputError(f"{where}: link map has {len(lm.layers)} layers, the design {params['n_layers']}")


def idle_schedule(frames: np.ndarray) -> dict[str, np.ndarray]:
    """Frames (N, beats) of the input beats -> idle cycles before each event (gap) and before each beat (bubble)."""
    ends = np.concatenate([[-1], frames[:-1, -1]])
    bubble = np.zeros_like(frames)
    bubble[:, 1:] = np.diff(frames, axis=1) - 1
    return {"gap": (frames[:, 0] - ends - 1).astype(np.int64), "bubble": bubble.astype(np.int64)}


def replay_stimulus(directory: Path, fmt: str, params: dict) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(input signal -> (events, beats) payloads, schedule and expect_* arrays) of a pattern directory."""
    lm, inp, out = read_sides(directory, fmt)
    check_ports(lm, params, f"patterns {str(directory)!r}")
    n, beats = inp.payloads.shape
    frames = inp.frames if inp.frames is not None else np.arange(n * beats).reshape(n, beats)
    stim = {**idle_schedule(frames), **{f"expect_{k}": v for k, v in lm.outputs(out.payloads[:, 0]).items()}}
    if out.frames is not None:
        stim["expect_output_frame"] = out.frames[:, 0].astype(np.int64)
    return {"i_code": inp.payloads}, stim


def run_replay(sim: str, model_dir: Path, tb_dir: Path, params: dict, directory: Path, fmt: str) -> TbResult:
    """Run the chain testbench on a built cs_top model (codesign.rtl.sim.build_model) from the pattern files.

    The files are read here first, so that a bad one is one `InputError` before any simulator starts.
    """
    lm, _, _ = read_sides(directory, fmt)
    check_ports(lm, params, f"patterns {str(directory)!r}")
    return run_testbench(sim, model_dir, TOP, tb_dir, "chain", params, {}, drain_cycles=lm.latency + 100,
                         results_xml=Path(tb_dir) / "results.xml",
                         patterns={"dir": str(Path(directory).resolve()), "format": fmt})
