"""The RTL design plan: every integer the Verilog templates need, taken from the bundle and the spec.

Constants come pre-aligned from the emulator's own definitions (`CnnKernelParams.of`,
`window_offsets`, `calib_address_count`), so the Verilog and the emulator share one source
of each number. Accumulator widths come from an exact range analysis of the bundle's
constants: a width that holds every value the sum can take keeps it exact (two's
complement sums are exact modulo 2**width, so the final value is exact when it fits).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from codesign.derived import DerivedParams
from codesign.errors import InputError
from emulation.bundle import DEPTH_MULTIPLIER, FirmwareBundle
from emulation.clusterer import window_offsets
from emulation.cnn import CnnKernelParams

PARTIAL_GROUP = 8  # inputs summed per partial sum in the first stage of a wide dense layer
TAP_COUNTS = (1, 2, 2, 4)  # cells in each depthwise tap group: centre, eta pair, phi pair, corners


def signed_bits(lo: int, hi: int) -> int:
    """Smallest two's complement width holding every integer in [lo, hi]."""
    n = 1
    while not (-(1 << (n - 1)) <= lo and hi <= (1 << (n - 1)) - 1):
        n += 1
    return n


def unsigned_bits(hi: int) -> int:
    """Smallest unsigned width holding every integer in [0, hi] (at least 1)."""
    return max(1, int(hi).bit_length())


def clog2(n: int) -> int:
    """Bits to index n items (at least 1)."""
    return max(1, (n - 1).bit_length())


@dataclass(frozen=True)
class Requant:
    """convert(AP_RND, AP_SAT) of a non-negative exact value (ReLU'd or clipped) to an unsigned format."""

    in_width: int  # unsigned input bits
    shift: int  # source frac bits - target frac bits
    hi: int  # raw_max of the target
    out_width: int

    @property
    def half(self) -> int:
        return 1 << (self.shift - 1) if self.shift > 0 else 0

    @property
    def round_width(self) -> int:
        """Bits of the rounded (not yet saturated) value."""
        if self.shift > 0:
            return max(1, self.in_width + 1 - self.shift)
        return self.in_width - self.shift

    @property
    def clamps(self) -> bool:
        return self.hi < (1 << self.round_width) - 1


def _requant(stage, in_width: int) -> Requant:
    shift, lo, hi, width = stage.args()
    if lo > 0 or shift > in_width:
        raise InputError(f"RTL generator: requantisation (shift {shift}, raw_min {lo}) of a {in_width}-bit value "
                         f"is not supported")
    return Requant(in_width=in_width, shift=shift, hi=hi, out_width=unsigned_bits(hi) if lo == 0 else width)


@dataclass(frozen=True)
class Dense:
    """One dense layer: weights [out][in] (zeros dropped in the template), aligned biases, accumulator width."""

    name: str
    weights: tuple[tuple[int, ...], ...]  # [out][in]
    bias: tuple[int, ...]
    acc_width: int
    groups: tuple[tuple[int, ...], ...]  # input indices summed together in the partial-sum stage
    requant: Requant | None  # None: the raw accumulator is the output (dense 3)
    product_regs: bool = False  # firmware.register_products: every constant product is a register first

    @property
    def n_out(self) -> int:
        return len(self.bias)

    @property
    def n_in(self) -> int:
        return len(self.weights[0])

    @property
    def staged(self) -> bool:
        """Wide layers (more than two groups of inputs) sum in two register stages: partial sums, then total + bias."""
        return self.n_in > 2 * PARTIAL_GROUP

    @property
    def stages(self) -> int:
        """Register stages: the products (when registered), the sum (one or two), then the activation if any."""
        return int(self.product_regs) + (2 if self.staged else 1) + (1 if self.requant is not None else 0)

    def nonzero(self) -> int:
        return int(sum(1 for row in self.weights for w in row if w != 0))


def _acc_range(weights: np.ndarray, bias: np.ndarray, x_lo: np.ndarray, x_hi: np.ndarray) -> tuple[int, int]:
    """Exact [min, max] over all neurons of bias + sum w*x with x in [x_lo, x_hi] (weights [out][in])."""
    lo_t = np.minimum(weights * x_lo[None, :], weights * x_hi[None, :]).sum(axis=1) + bias
    hi_t = np.maximum(weights * x_lo[None, :], weights * x_hi[None, :]).sum(axis=1) + bias
    return int(lo_t.min()), int(hi_t.max())


def _dense(name: str, w: np.ndarray, b: np.ndarray, x_lo: np.ndarray, x_hi: np.ndarray, in_bits: int,
           stage, product_regs: bool) -> Dense:
    """A dense layer's plan from its weights w (out, in), bias and input ranges."""
    w = np.asarray(w, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    lo, hi = _acc_range(w, b, x_lo, x_hi)
    width = max(signed_bits(lo, hi), in_bits + 1)
    n_in = w.shape[1]
    groups = tuple(tuple(range(s, min(s + PARTIAL_GROUP, n_in))) for s in range(0, n_in, PARTIAL_GROUP))
    return Dense(name=name, weights=tuple(tuple(int(v) for v in row) for row in w),
                 bias=tuple(int(v) for v in b), acc_width=width, groups=groups,
                 requant=None if stage is None else _requant(stage, width - 1), product_regs=product_regs)


@dataclass(frozen=True)
class Window:
    """The streaming neighbourhood engine: rows +-D and the columns of `taps` around each emitted pixel.

    The input arrives row by row, P pixels per beat, groups in the order (in_rot + k) mod G. Row r
    is emitted in the group order (out_rot + k) mod G with out_rot = in_rot + reach, so that the
    neighbourhood slides over the arrival order and wraps in phi without extra reads: emission k
    of row r needs beat min(k + 2 reach, G - 1) of row r + rows (or the end of the event).
    """

    rows: int  # D
    reach: int  # R, column reach in groups
    in_rot: int
    out_rot: int
    slots: int  # ring rows kept
    heads: int  # first groups of each row kept in registers (the wrap-around)
    width: int  # bits per stored pixel
    lanes: int
    groups_per_row: int
    eta_bins: int
    taps: tuple[tuple[int, int], ...]  # (row index 0..2D, column offset) every lane reads

    @property
    def used(self) -> frozenset[tuple[int, int, int]]:
        """(row, position, lane) of the window registers some lane reads."""
        return frozenset((d, *self.column(lane, dc)) for d, dc in self.taps for lane in range(self.lanes))

    @property
    def win_regs(self) -> frozenset[tuple[int, int, int]]:
        """Window registers to build: read by a lane, or shifted later into one that is."""
        used = self.used
        return frozenset((d, j, lane) for d, j0, lane in used for j in range(j0, self.span))

    @property
    def head_regs(self) -> frozenset[tuple[int, int, int]]:
        """Head registers to build: loaded into a window register, now or after the rows shift down."""
        loaded = {(d, j % self.groups_per_row, lane) for d, j, lane in self.win_regs}
        return frozenset((h, a, lane) for d, a, lane in loaded for h in range(d, self.slots))

    @property
    def ram_lanes(self) -> tuple[int, ...]:
        return tuple(sorted({lane for _, _, lane in self.win_regs}))

    @property
    def span(self) -> int:
        """Window positions (groups) per row."""
        return 2 * self.reach + 1

    def column(self, lane: int, dc: int) -> tuple[int, int]:
        """(window position, lane) of the pixel dc columns from `lane` of the emitted group."""
        flat = self.reach * self.lanes + lane + dc
        return flat // self.lanes, flat % self.lanes

    @property
    def beats(self) -> int:
        return self.eta_bins * self.groups_per_row

    @property
    def k_width(self) -> int:
        return clog2(self.groups_per_row)

    @property
    def count_width(self) -> int:
        return clog2(self.beats + 1)

    @property
    def slot_width(self) -> int:
        return clog2(self.slots)

    @property
    def row_width(self) -> int:
        return clog2(self.eta_bins)

    @property
    def need_full_from(self) -> int:
        """Emission index from which row r + rows must be complete (the window wraps in phi)."""
        return max(0, self.groups_per_row - 1 - 2 * self.reach)


def _window(taps: list[tuple[int, int]], in_rot: int, width: int, lanes: int, g: int, eta_bins: int) -> Window:
    rows = max(abs(d) for d, _ in taps)
    cols = max(abs(c) for _, c in taps)
    reach = -(-cols // lanes)
    return Window(rows=rows, reach=reach, in_rot=in_rot % g, out_rot=(in_rot + reach) % g,
                  slots=2 * rows + 3, heads=min(2 * reach + 1, g), width=width, lanes=lanes,
                  groups_per_row=g, eta_bins=eta_bins, taps=tuple(sorted((d + rows, c) for d, c in taps)))


@dataclass(frozen=True)
class CnnPlan:
    """The per-pixel network and the window feeding it."""

    window: Window
    et_width: int  # et_dec bits
    kernel: tuple[tuple[tuple[int, ...], ...], ...]  # [layer][m][tap]
    conv_bias: tuple[tuple[int, ...], ...]  # [layer][m], at the conv accumulator LSB
    conv_width: int
    conv_requant: Requant
    feat_shift: int
    log_eta: tuple[int, ...]  # per row, at the dense-1 input LSB
    log_eta_width: int
    dense: tuple[Dense, Dense, Dense]
    hs_frac: int
    hs_width: int
    seg: Requant
    pred_width: int  # exact w_em*E_em + w_had*E_had
    pred: Requant
    product_regs: bool = False  # firmware.register_products: tap sums and constant products registered
    lut_multipliers: bool = False  # firmware.multipliers = lut: the pixel network's multiplications in LUTs

    @property
    def n_layers(self) -> int:
        return len(self.kernel)

    @property
    def conv_stages(self) -> int:
        """Register stages up to the conv accumulator: (tap sums, products when registered,) the sum."""
        return 1 + 2 * int(self.product_regs)

    @property
    def act_width(self) -> int:
        return self.conv_requant.out_width

    @property
    def seg_stage(self) -> int:
        """Pipeline stage (after the window register) whose register holds the segmentation weights."""
        return self.conv_stages + 1 + sum(d.stages for d in self.dense) + 1

    @property
    def depth(self) -> int:
        """Register stages from the window register to et_pred: then (the products w * E when registered,) the exact
        E_pred, then its requantisation."""
        return self.seg_stage + 2 + int(self.product_regs)


@dataclass(frozen=True)
class ClustererPlan:
    window: Window
    offsets: tuple[tuple[int, int, int], ...]  # (d_eta, d_phi, after) of every window cell but the centre
    threshold: int
    n_out: int
    pt_width: int
    lane_groups: tuple[tuple[int, ...], ...]  # lanes of which at most one can hold a seed in a beat


@dataclass(frozen=True)
class CalibrationPlan:
    mantissa_bits: int
    addresses: int
    row_base: tuple[int, ...]  # eta_bin_of_row * addresses
    lut: tuple[int, ...]  # flattened [bin][address]
    index_width: int
    out_width: int


@dataclass(frozen=True)
class RtlPlan:
    """Everything the generated Verilog depends on."""

    lanes: int  # P
    groups_per_row: int  # G = phi_bins / P
    eta_bins: int
    phi_bins: int
    n_layers: int
    code_width: int
    et_width: int
    levels: tuple[tuple[int, ...], ...]  # decoder LUT per layer
    cnn: CnnPlan
    clusterer: ClustererPlan
    calibration: CalibrationPlan
    thresholds: tuple[int, int]  # trigger T1, T4 (raw pt_calib)
    row_width: int
    col_width: int
    register_decision: bool = False  # firmware.register_decision: sorted pT registered before the compares

    @property
    def beats_per_event(self) -> int:
        return self.eta_bins * self.groups_per_row

    def params(self) -> dict:
        """The numbers the testbench needs to drive and read the design (JSON-able)."""
        return {"lanes": self.lanes, "groups_per_row": self.groups_per_row, "eta_bins": self.eta_bins,
                "phi_bins": self.phi_bins, "n_layers": self.n_layers, "code_width": self.code_width,
                "et_width": self.et_width, "pred_width": self.cnn.pred.out_width,
                "seg_width": self.cnn.seg.out_width, "cnn_out_rot": self.cnn.window.out_rot,
                "n_clusters": self.clusterer.n_out, "pt_width": self.clusterer.pt_width,
                "row_width": self.row_width, "col_width": self.col_width,
                "calib_width": self.calibration.out_width}


def _lane_groups(mask: np.ndarray, lanes: int) -> tuple[tuple[int, ...], ...]:
    """Split the lanes of a beat into runs that can hold at most one seed each.

    Two seeds in one row are further apart than the centre row of the window reaches (each
    would be in the other's window), so runs of (half-width + 1) lanes hold at most one seed.
    """
    r = mask.shape[0] // 2
    centre = mask[r]
    reach = 0
    while r + reach + 1 < len(centre) and centre[r + reach + 1]:
        reach += 1
    if not all(centre[r - reach:r + reach + 1]):
        raise InputError("RTL generator: the clusterer window's centre row must be one contiguous run")
    run = reach + 1
    return tuple(tuple(range(s, min(s + run, lanes))) for s in range(0, lanes, run))


def make_plan(bundle: FirmwareBundle, derived: DerivedParams) -> RtlPlan:
    """The design plan for a bundle at the spec's pixel parallelism."""
    f = bundle.formats
    g = bundle.geometry
    p = derived.pixel_parallelism
    if g.phi_bins % p or g.phi_bins // p < 2:
        raise InputError(f"RTL generator: pixel parallelism P = {p} must divide phi_bins = {g.phi_bins} "
                         f"and leave at least 2 pixel groups per row")
    groups = g.phi_bins // p
    n_out = int(bundle.clusterer.n_clusters)
    if g.eta_bins * groups < n_out + 4:
        raise InputError(f"RTL generator: {g.eta_bins * groups} beats per event is too few to stream "
                         f"{n_out} clusters out between events")
    k = CnnKernelParams.of(bundle)
    et_w = f["et_dec"].width
    et_max = f["et_dec"].raw_max

    # depthwise conv: acc = sum_t k_t * S_t + bias, S_t in [0, n_t * et_max]
    kern = np.asarray(k.kernel, dtype=np.int64).reshape(-1, 4)
    cbias = np.asarray(k.conv_bias, dtype=np.int64).reshape(-1)
    s_hi = np.array([n * et_max for n in TAP_COUNTS], dtype=np.int64)
    lo, hi = _acc_range(kern, cbias, np.zeros(4, np.int64), s_hi)
    conv_w = max(signed_bits(lo, hi), unsigned_bits(int(s_hi.max())) + 1)
    conv_rq = _requant(k.conv, conv_w - 1)
    act_w = conv_rq.out_width
    act_max = (1 << act_w) - 1

    log_eta = np.asarray(k.log_eta, dtype=np.int64)
    n_conv = g.n_layers * DEPTH_MULTIPLIER
    feat_hi = np.array([act_max << k.feat_shift] * n_conv + [int(log_eta.max())], dtype=np.int64)
    feat_lo = np.array([0] * n_conv + [int(log_eta.min())], dtype=np.int64)
    log_eta_w = signed_bits(int(log_eta.min()), int(log_eta.max()))
    regs = derived.cnn_extra_stages > 0
    d1 = _dense("d1", k.w1.T, k.b1, feat_lo, feat_hi, max(act_w + k.feat_shift, log_eta_w - 1), k.d1, regs)
    a_hi = np.full(np.asarray(k.w2).shape[0], act_max, dtype=np.int64)
    a_lo = np.zeros_like(a_hi)
    d2 = _dense("d2", k.w2.T, k.b2, a_lo, a_hi, act_w, k.d2, regs)
    d3 = _dense("d3", k.w3.T, k.b3, a_lo, a_hi, act_w, None, regs)
    hs_width = max(d3.acc_width, k.hs_frac + 2) + 1
    seg = _requant(k.seg, hs_width - 1)
    pred_max = g.n_layers * seg.hi * et_max
    pred = _requant(k.pred, unsigned_bits(pred_max))
    cnn = CnnPlan(
        window=_window([(a, b) for a in (-1, 0, 1) for b in (-1, 0, 1)], 0, g.n_layers * et_w, p, groups,
                       g.eta_bins),
        et_width=et_w,
        kernel=tuple(tuple(tuple(int(v) for v in m) for m in layer) for layer in np.asarray(k.kernel)),
        conv_bias=tuple(tuple(int(v) for v in layer) for layer in np.asarray(k.conv_bias)),
        conv_width=conv_w, conv_requant=conv_rq, feat_shift=k.feat_shift,
        log_eta=tuple(int(v) for v in log_eta), log_eta_width=log_eta_w,
        dense=(d1, d2, d3), hs_frac=k.hs_frac, hs_width=hs_width, seg=seg,
        pred_width=unsigned_bits(pred_max), pred=pred, product_regs=regs,
        lut_multipliers=derived.multipliers == "lut")

    mask = np.asarray(bundle.clusterer.window_mask)
    r = mask.shape[0] // 2
    pt_fmt = f["cluster_pt"]
    clusterer = ClustererPlan(
        window=_window([(int(a), int(b)) for a, b in np.argwhere(mask) - r], cnn.window.out_rot,
                       pred.out_width, p, groups, g.eta_bins),
        offsets=tuple((int(a), int(b), int(c)) for a, b, c in window_offsets(mask)),
        threshold=int(bundle.clusterer.seed_threshold), n_out=n_out, pt_width=pt_fmt.width,
        lane_groups=_lane_groups(mask, p))
    if (1 << pred.out_width) * int(mask.sum()) > (1 << pt_fmt.width):
        raise InputError(f"RTL generator: cluster_pt {pt_fmt.cpp()} cannot hold a window sum of "
                         f"{int(mask.sum())} pixels of {pred.out_width} bits")

    cal = bundle.calibration
    lut = np.asarray(cal.lut, dtype=np.int64)
    addresses = lut.shape[1]
    calibration = CalibrationPlan(
        mantissa_bits=int(cal.mantissa_bits), addresses=addresses,
        row_base=tuple(int(b) * addresses for b in cal.eta_bin_of_row),
        lut=tuple(int(v) for v in lut.reshape(-1)), index_width=clog2(lut.size),
        out_width=f["pt_calib"].width)
    t1, t4 = (int(t) for t in bundle.trigger.thresholds)
    return RtlPlan(
        lanes=p, groups_per_row=groups, eta_bins=g.eta_bins, phi_bins=g.phi_bins, n_layers=g.n_layers,
        code_width=f["code"].width, et_width=et_w,
        levels=tuple(tuple(int(v) for v in row) for row in bundle.quantiser.levels),
        cnn=cnn, clusterer=clusterer, calibration=calibration, thresholds=(t1, t4),
        row_width=clog2(g.eta_bins), col_width=clog2(g.phi_bins), register_decision=derived.trigger_extra_stages > 0)

