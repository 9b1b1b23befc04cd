"""cocotb testbench of the generated trigger chain and of each of its blocks.

The runner (codesign.rtl.sim) writes tb.json (mode, design parameters) and stimulus.npz
(the inputs, their schedule, and the emulator's expected outputs) into $CS_TB_DIR. This
module resets the design, streams the events in (one beat per clock, with the scheduled
idle cycles), captures every block's output stream, and writes captured.npz,
latency.json and mismatches.json back there. The test fails on any mismatch. When tb.json
names a pattern directory ("patterns": {"dir", "format"}), the chain is driven from its input
file and checked against its output file instead (codesign.patterns.replay).

Cycle numbering: a beat driven just after rising edge c is "in cycle c" (sampled at edge
c + 1); an output read after edge c is "in cycle c". Latency = output cycle - input cycle.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge

from codesign.rtl.compare import compare_outputs
from codesign.rtl.stream import beats_image, image_beats, split_fields

# Block output streams: signal names relative to the block instance (chain) or the toplevel (block mode).
STREAMS = {
    "quantiser": ("u_dec", ("o_et",)),
    "denoiser": ("u_cnn", ("o_pred", "o_seg")),
    "clusterer": ("u_clu", ("o_pt", "o_ieta", "o_iphi", "o_real")),
    "calibration": ("u_cal", ("o_pt",)),
    "trigger": ("u_trg", ("o_pt1", "o_pt4", "o_pass_pt1", "o_pass_pt4", "o_sorted")),
}
CHAIN = tuple(STREAMS)


def beats_per_event(name: str, p: dict) -> int:
    """Output beats of a block per event (also its input beats for the block after it)."""
    if name in ("quantiser", "denoiser"):
        return p["eta_bins"] * p["groups_per_row"]
    return 1 if name == "trigger" else p["n_clusters"]


@dataclass
class Monitor:
    """Output beats of one block stream: the cycle of each and its data words."""

    name: str
    valid: object
    data: tuple
    cycles: list[int] = field(default_factory=list)
    words: list[tuple[int, ...]] = field(default_factory=list)

    def sample(self, cycle: int) -> None:
        if self.valid.value:
            self.cycles.append(cycle)
            self.words.append(tuple(int(s.value) for s in self.data))

    def column(self, i: int) -> np.ndarray:
        return np.array([w[i] for w in self.words], dtype=object)


def _inputs(mode: str, p: dict, stim: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Input signal name -> (events, beats) payloads of the block (or chain) under test."""
    lanes = p["lanes"]
    if mode in ("chain", "quantiser"):
        return {"i_code": image_beats(stim["codes"], lanes, 0, p["code_width"])}
    if mode == "denoiser":
        return {"i_et": image_beats(stim["et_dec"], lanes, 0, p["et_width"])}
    if mode == "clusterer":
        return {"i_pred": image_beats(stim["et_pred"][:, None], lanes, p["cnn_out_rot"], p["pred_width"])}
    if mode == "calibration":
        real = np.arange(p["n_clusters"])[None, :] < stim["n_clusters"][:, None]
        return {"i_pt": stim["cluster_pt"].astype(object), "i_ieta": stim["cluster_ieta"].astype(object),
                "i_real": real.astype(np.int64).astype(object)}
    if mode == "trigger":
        return {"i_pt": stim["pt_calib"].astype(object)}
    raise ValueError(f"unknown testbench mode {mode!r}")


def _decode(name: str, mon: Monitor, p: dict, n_ev: int) -> dict[str, np.ndarray]:
    """A block's captured beats as the emulator's arrays (only whole events)."""
    h, lanes = p["eta_bins"], p["lanes"]
    per_event = beats_per_event(name, p)
    n = min(n_ev, len(mon.words) // per_event)
    if n == 0:
        return {}
    cols = [mon.column(i)[:n * per_event].reshape(n, per_event) for i in range(len(mon.data))]
    if name == "quantiser":
        return {"et_dec": beats_image(cols[0], lanes, 0, p["et_width"], p["n_layers"], h)}
    if name == "denoiser":
        rot = p["cnn_out_rot"]
        pred = beats_image(cols[0], lanes, rot, p["pred_width"], 1, h)[:, 0]
        seg = beats_image(cols[1], lanes, rot, p["seg_width"], p["n_layers"], h).transpose(0, 2, 3, 1)
        return {"et_pred": pred, "seg_w": seg}
    if name == "clusterer":
        pt, ieta, iphi, real = (c.astype(np.int64) for c in cols)
        return {"cluster_pt": pt, "cluster_ieta": ieta, "cluster_iphi": iphi, "n_clusters": real.sum(axis=1)}
    if name == "calibration":
        return {"pt_calib": cols[0].astype(np.int64)}
    sorted_pt = split_fields(cols[4][:, 0], p["calib_width"], p["n_clusters"])
    return {"sorted_pt": sorted_pt, "pt1": cols[0][:, 0].astype(np.int64), "pt4": cols[1][:, 0].astype(np.int64),
            "pass_pt1": cols[2][:, 0].astype(bool), "pass_pt4": cols[3][:, 0].astype(bool)}


def _latency(mode: str, first_in: list[int], mons: dict[str, Monitor], p: dict) -> dict:
    """Cycles from each block's first input beat of an event to its first and last output beat (worst event)."""
    names = CHAIN if mode == "chain" else (mode,)
    starts = {names[0]: first_in}
    for prev, name in zip(names, names[1:]):
        cyc = mons[prev].cycles
        k = beats_per_event(prev, p)
        starts[name] = [cyc[i * k] for i in range(len(cyc) // k)]
    out = {}
    for name in names:
        cyc, k = mons[name].cycles, beats_per_event(name, p)
        n = min(len(starts[name]), len(cyc) // k)
        if n == 0:
            continue
        first = [cyc[i * k] - starts[name][i] for i in range(n)]
        last = [cyc[i * k + k - 1] - starts[name][i] for i in range(n)]
        out[name] = {"first_out": max(first), "last_out": max(last), "events": n}
    if mode == "chain" and "trigger" in out:
        cyc = mons["trigger"].cycles
        n = min(len(first_in), len(cyc))
        out["chain"] = {"first_out": max(cyc[i] - first_in[i] for i in range(n)),
                        "last_out": max(cyc[i] - first_in[i] for i in range(n)), "events": n}
    return out


@cocotb.test()
async def stream_events(dut) -> None:
    """Stream the scheduled events, capture every output stream, compare with the emulator, measure latency."""
    tb_dir = Path(os.environ["CS_TB_DIR"])
    cfg = json.loads((tb_dir / "tb.json").read_text())
    mode, p = cfg["mode"], cfg["params"]
    if "patterns" in cfg:  # board pattern files: input words straight onto i_code, expectations from the output file
        from codesign.patterns.replay import replay_stimulus

        inputs, stim = replay_stimulus(Path(cfg["patterns"]["dir"]), cfg["patterns"]["format"], p)
    else:
        with np.load(tb_dir / "stimulus.npz") as z:
            stim = {k: z[k] for k in z.files}
        inputs = _inputs(mode, p, stim)
    n_ev, n_beats = next(iter(inputs.values())).shape
    gap, bubble = stim["gap"], stim["bubble"]
    names = CHAIN if mode == "chain" else (mode,)
    mons = {}
    for name in names:
        inst, sigs = STREAMS[name]
        scope = getattr(dut, inst) if mode == "chain" and name != "trigger" else dut  # cs_top forwards u_trg
        mons[name] = Monitor(name, scope.o_valid, tuple(getattr(scope, s) for s in sigs))
    in_sigs = {k: getattr(dut, k) for k in inputs}

    Clock(dut.clk, 10, unit="ns").start()
    dut.rst.value = 1
    dut.i_valid.value = 0
    dut.i_last.value = 0
    for sig in in_sigs.values():
        sig.value = 0
    for _ in range(3):
        await RisingEdge(dut.clk)
    dut.rst.value = 0

    cycle = 0
    first_in: list[int] = []
    final = mons[names[-1]]

    async def tick(beat: tuple[int, int] | None) -> None:
        nonlocal cycle
        await RisingEdge(dut.clk)
        cycle += 1
        if beat is None:
            dut.i_valid.value = 0
            dut.i_last.value = 0
        else:
            ev, b = beat
            dut.i_valid.value = 1
            dut.i_last.value = int(b == n_beats - 1)
            for k, sig in in_sigs.items():
                sig.value = int(inputs[k][ev, b])
        await ReadOnly()
        for mon in mons.values():
            mon.sample(cycle)

    for ev in range(n_ev):
        for _ in range(int(gap[ev])):
            await tick(None)
        for b in range(n_beats):
            for _ in range(int(bubble[ev, b])):
                await tick(None)
            if b == 0:
                first_in.append(cycle + 1)
            await tick((ev, b))
    limit = cycle + cfg["drain_cycles"]
    while len(final.words) < n_ev * beats_per_event(names[-1], p) and cycle < limit:
        await tick(None)

    captured = {}
    for name in names:
        captured.update(_decode(name, mons[name], p, n_ev))
    if "expect_output_frame" in stim:  # the frame of each decision, counted as the pattern file counts them
        captured["output_frame"] = np.array(final.cycles, dtype=np.int64) - first_in[0] + int(gap[0])
    expected = {f[len("expect_"):]: stim[f] for f in stim if f.startswith("expect_")}
    mismatches = compare_outputs(expected, captured, n_ev)
    latency = _latency(mode, first_in, mons, p)
    np.savez(tb_dir / "captured.npz", **captured)
    (tb_dir / "latency.json").write_text(json.dumps({"cycles_run": cycle, "blocks": latency}, indent=1,
                                                    sort_keys=True) + "\n")
    (tb_dir / "mismatches.json").write_text(json.dumps(mismatches, indent=1, sort_keys=True) + "\n")
    assert not mismatches, f"{len(mismatches)} output(s) differ from the emulator: {sorted(mismatches)}"
