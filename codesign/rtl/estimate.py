"""Analytic resource estimate of the generated design, counted from the same plan the templates render.

Rules (UltraScale+): flip-flops are the register bits the templates declare, counted exactly;
every distinct product of an input and a non-zero, non-power-of-two constant (equal products
are shared) and every variable multiply take one DSP48E2 (the open-source flow's mapping;
Vivado may use LUTs for small constants), or with firmware.multipliers = lut a shift-add of one
adder per further set bit of the constant (variable multiplies: one LUT per partial-product bit);
an adder, subtractor or comparator takes one LUT per bit, a register with a load / shift / hold
choice one LUT per bit, a 2:1 multiplexer half a LUT per bit, an n:1 multiplexer (n - 1) / 3
LUTs per bit; the ring row memories are dual-port
distributed RAM (two LUTs per bit per 64 words); block ROMs take one RAMB18 (half a BRAM36)
per 18 kbit and per two read ports.
"""

from __future__ import annotations

import math

from codesign.rtl.plan import Dense, Requant, RtlPlan, Window


def _is_pow2(c: int) -> bool:
    c = abs(c)
    return c > 0 and c & (c - 1) == 0


def _distinct_products(constants: list[int]) -> int:
    """DSPs for one input multiplied by these constants: one per distinct non-zero, non-power-of-two value."""
    return len({c for c in constants if c and not _is_pow2(c)})


def _shift_add_luts(constants: list[int], width: int) -> int:
    """LUTs for one input multiplied by these constants in logic (firmware.multipliers = lut): per distinct
    non-zero, non-power-of-two value, one `width`-bit adder per set bit of |c| after the first."""
    return sum((bin(abs(c)).count("1") - 1) * width for c in {c for c in constants if c and not _is_pow2(c)})


def _requant(q: Requant) -> float:
    return q.in_width + 1 + (q.round_width / 2 if q.clamps else 0)


def _window(w: Window) -> dict[str, float]:
    ff = (len(w.head_regs) + len(w.win_regs)) * w.width
    ff += 3 * w.count_width + 4 * w.k_width + (2 * w.rows + 3) * w.slot_width + 2 * w.row_width + 12
    lanes = len(w.ram_lanes)
    lut = 2 * w.slots * lanes * w.width * math.ceil(w.groups_per_row / 64)  # ring memories
    lut += (2 * w.rows + 1) * lanes * w.width * (w.slots - 1) / 3  # slot multiplexer per window row
    lut += (len(w.win_regs) + len(w.head_regs)) * w.width  # load / shift / hold choice of each register
    lut += 4 * w.count_width + 40  # counters and the dependency compare
    return {"lut": lut, "ff": ff}


def _dense(d: Dense, act_width: int) -> dict[str, float]:
    terms = d.nonzero()
    columns = [[row[n] for row in d.weights] for n in range(d.n_in)]
    dsp = sum(_distinct_products(col) for col in columns)
    adds = terms + d.n_out * (len(d.groups) if d.staged else 0)
    ff = d.n_out * d.acc_width * (1 + (len(d.groups) if d.staged else 0))
    lut = adds * d.acc_width
    mult_luts = sum(_shift_add_luts(col, d.acc_width) for col in columns)
    if d.requant is not None:
        ff += d.n_out * act_width
        lut += d.n_out * ((d.acc_width - 1) / 2 + _requant(d.requant))
    return {"lut": lut, "ff": ff, "dsp": dsp, "mult_lut": mult_luts}


def _cnn_pixel(plan: RtlPlan) -> dict[str, float]:
    c = plan.cnn
    n_conv = c.n_layers * 4
    taps = [k for layer in c.kernel for m in layer for k in m]
    lut = c.n_layers * 5 * (c.et_width + 2)  # tap-group sums
    lut += (sum(1 for k in taps if k) + n_conv) * c.conv_width  # MAC adders
    lut += n_conv * ((c.conv_width - 1) / 2 + _requant(c.conv_requant))
    ff = n_conv * (c.conv_width + c.act_width) + 2 * plan.row_width
    dsp = sum(_distinct_products([m[t] for m in layer]) for layer in c.kernel for t in range(4))
    mult_lut = sum(_shift_add_luts([m[t] for m in layer], c.conv_width) for layer in c.kernel for t in range(4))
    for d in c.dense:
        part = _dense(d, c.act_width)
        lut, ff, dsp, mult_lut = lut + part["lut"], ff + part["ff"], dsp + part["dsp"], mult_lut + part["mult_lut"]
    lut += c.n_layers * (3 * c.hs_width + _requant(c.seg)) + c.pred_width + _requant(c.pred)
    lut += c.log_eta_width  # the log|eta| ROM (distributed, 50 words)
    ff += c.n_layers * (3 * c.seg.out_width + c.seg_stage * c.et_width) + c.pred_width + c.pred.out_width
    dsp += c.n_layers  # w * E products
    if c.product_regs:  # firmware.register_products: the tap sums, every product, E_pred's products
        ff += (c.n_layers * 4 + sum(1 for k in taps if k)) * c.conv_width + c.n_layers * (c.pred_width + c.seg.out_width)
        ff += sum(d.nonzero() * d.acc_width for d in c.dense)
    if c.lut_multipliers:  # firmware.multipliers = lut: shift-add constant products, array multipliers for w * E
        return {"lut": lut + mult_lut + c.n_layers * c.seg.out_width * c.et_width, "ff": ff, "dsp": 0}
    return {"lut": lut, "ff": ff, "dsp": dsp}


def estimate(plan: RtlPlan) -> dict[str, dict[str, float]]:
    """Block -> {lut, ff, dsp, bram36} and "total"."""
    p, k, cal = plan.lanes, plan.clusterer, plan.calibration
    blocks: dict[str, dict[str, float]] = {}
    rom18 = math.ceil(len(plan.levels[0]) * plan.et_width / 18432)
    blocks["quantiser"] = {"lut": 0, "ff": p * plan.n_layers * plan.et_width + 2, "dsp": 0,
                           "bram36": plan.n_layers * math.ceil(p / 2) * rom18 * 0.5}
    win = _window(plan.cnn.window)
    px = _cnn_pixel(plan)
    blocks["denoiser"] = {"lut": win["lut"] + p * px["lut"], "ff": win["ff"] + p * px["ff"] + 2 * plan.cnn.depth,
                          "dsp": p * px["dsp"], "bram36": 0}
    win = _window(k.window)
    cells = len(k.offsets)
    ew, tw = k.window.width, k.pt_width
    key = tw + plan.row_width + plan.col_width
    n_rows = 2 * k.window.rows + 1
    lut = win["lut"] + p * (cells * ew + cells * tw)  # seed comparisons, window sums
    # top-N insertion: a key comparison and a 3-way choice per list entry, the lane select per candidate
    lut += len(k.lane_groups) * (k.n_out * 2 * key + len(k.lane_groups[0]) * (tw + plan.col_width) / 2)
    ff = win["ff"] + p * n_rows * (1 + tw) + p * (1 + tw) + len(k.lane_groups) * (1 + key)
    ff += 2 * k.n_out * (1 + key) + key + 8 + plan.row_width + 2 * plan.col_width
    blocks["clusterer"] = {"lut": lut, "ff": ff, "dsp": 0, "bram36": 0}
    addr_w = (cal.addresses - 1).bit_length()  # leading-one encoder and mantissa select, base + address adder
    blocks["calibration"] = {"lut": 2 * tw + addr_w + cal.index_width, "dsp": 0,
                             "ff": cal.index_width + 2 * cal.out_width + 8,
                             "bram36": math.ceil(len(cal.lut) * cal.out_width / 36864)}
    ow, n = cal.out_width, k.n_out
    blocks["trigger"] = {"lut": n * (ow + ow / 2) + ow, "ff": n * (1 + ow) + (n + 2) * ow + 3, "dsp": 0,
                         "bram36": 0}
    blocks = {b: {key_: (round(v) if key_ != "bram36" else v) for key_, v in t.items()} for b, t in blocks.items()}
    blocks["total"] = {key_: sum(t[key_] for t in blocks.values()) for key_ in ("lut", "ff", "dsp", "bram36")}
    return blocks
