"""Levels-based timing estimate of a yosys-mapped netlist: longest register-to-register path and Fmax.

The netlist is yosys `write_json` after `synth_xilinx` and `flatten`: a graph of net bits. Every
cell adds arcs with a delay from `constraints/parts/delays-<family>.yaml`; flip-flops, the
registers inside DSP48E2 and block RAMs and the writes of distributed RAM start and end paths;
block ports count as registered on the other side. One `net` delay is charged at every routed
input pin. This is an estimate: no placement, fan-out, distance or congestion.
"""

from __future__ import annotations

import gzip
import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from codesign.errors import InputError
from codesign.paths import CONSTRAINTS_DIR

FLIP_FLOPS = {"FDRE": ("D", "CE", "R"), "FDSE": ("D", "CE", "S"), "FDCE": ("D", "CE"), "FDPE": ("D", "CE")}
LUTS = {"LUT1", "LUT2", "LUT3", "LUT4", "LUT5", "LUT6", "INV"}
MUXES = {"MUXF7", "MUXF8", "MUXF9"}
CARRIES = {"CARRY4": 4, "CARRY8": 8}
BRAMS = {"RAMB18E2", "RAMB36E2", "FIFO18E2", "FIFO36E2"}
LUTRAMS = {"RAM16X1D", "RAM32X1D", "RAM64X1D", "RAM128X1D", "RAM256X1D", "RAM16X1S", "RAM32X1S", "RAM64X1S",
           "RAM128X1S", "RAM256X1S", "RAM512X1S", "RAM32M", "RAM32M16", "RAM64M", "RAM64M8"}
SHIFT_REGS = {"SRL16E", "SRLC16E", "SRLC32E"}
IGNORED = {"GND", "VCC", "$scopeinfo"}  # constants; the scope records `flatten` leaves
CLOCK_PINS = {"C", "CLK", "WCLK", "CLKARDCLK", "CLKBWRCLK", "RDCLK", "WRCLK"}
DSP_CASCADE_IN = {"ACIN", "BCIN", "PCIN", "CARRYCASCIN", "MULTSIGNIN"}


@dataclass(frozen=True)
class Delays:
    """Element delays in ns and where each figure comes from."""

    family: str
    speed_grade: int
    ns: dict[str, float]
    sources: dict[str, str]


@lru_cache(maxsize=4)
def load_delays(family: str) -> Delays:
    """The delay table of a yosys family (constraints/parts/delays-<family>.yaml)."""
    path = CONSTRAINTS_DIR / "parts" / f"delays-{family}.yaml"
    if not path.exists():
        raise InputError(f"timing estimate: no delay table for family {family!r} ({path.name} missing)")
    data = yaml.safe_load(path.read_text())
    table = data["delays_ns"]
    return Delays(family=data["family"], speed_grade=int(data["speed_grade"]),
                  ns={k: float(v["value"]) for k, v in table.items()}, sources={k: v["source"] for k, v in table.items()})


@dataclass(frozen=True)
class Arc:
    """A timing arc into a node: from `src`, `ns` long, through `cell` of `kind` (lut, muxf, carry, dsp, ...)."""

    src: int
    ns: float
    kind: str
    cell: str
    carry_bits: int = 0


@dataclass
class Graph:
    """Arcs into each node, path start arrivals and path end requirements (setup, label)."""

    arcs: dict[int, list[Arc]] = field(default_factory=lambda: defaultdict(list))
    starts: dict[int, tuple[float, str]] = field(default_factory=dict)
    ends: list[tuple[int, float, str]] = field(default_factory=list)
    unmodelled: dict[str, int] = field(default_factory=dict)
    carry_cells: list[tuple[int | None, int | None, int]] = field(default_factory=list)  # (CI, top CO, bits)
    next_node: int = 1 << 40  # virtual nodes (inside DSPs) above yosys's bit numbers

    def node(self) -> int:
        self.next_node += 1
        return self.next_node

    def start(self, node: int, ns: float, label: str) -> None:
        if node not in self.starts or self.starts[node][0] < ns:
            self.starts[node] = (ns, label)


def _int_param(value: object, default: int = 0) -> int:
    """A yosys JSON parameter as an integer (binary digit strings, or plain ints)."""
    if value is None:
        return default
    if isinstance(value, int):
        return value
    text = str(value).strip()
    return int(text, 2) if text and set(text) <= {"0", "1"} else default


def _bits(conn: dict, port: str) -> list[int]:
    return [b for b in conn.get(port, []) if isinstance(b, int)]


class _Builder:
    """Turns the cells of one flattened module into a timing graph."""

    def __init__(self, module: dict, delays: Delays) -> None:
        self.m = module
        self.d = delays.ns
        self.g = Graph()
        self.driver: dict[int, str] = {}
        for cell in module["cells"].values():
            for port, direction in cell.get("port_directions", {}).items():
                if direction == "output":
                    for b in _bits(cell["connections"], port):
                        self.driver[b] = cell["type"]
        self.names = _bit_names(module)

    def routed(self, bit: int, same_slice: frozenset[str] = frozenset()) -> float:
        """The net delay into a pin: none when its driver sits in the same slice (e.g. a LUT before its carry)."""
        return 0.0 if self.driver.get(bit) in same_slice else self.d["net"]

    def label(self, bit: int) -> str:
        return self.names.get(bit, f"net{bit}")

    def build(self) -> Graph:
        for port in self.m["ports"].values():
            for b in (x for x in port["bits"] if isinstance(x, int)):
                if port["direction"] == "input":
                    self.g.start(b, self.d["ff_clk_to_q"], f"input port {self.label(b)}")
                else:
                    self.g.ends.append((b, self.d["net"] + self.d["ff_setup"], f"output port {self.label(b)}"))
        for name, cell in self.m["cells"].items():
            self.cell(name, cell)
        return self.g

    def cell(self, name: str, cell: dict) -> None:
        t, conn = cell["type"], cell["connections"]
        d, g = self.d, self.g
        if t in IGNORED:
            return
        if t in FLIP_FLOPS:
            for q in _bits(conn, "Q"):
                g.start(q, d["ff_clk_to_q"], self.label(q))
            for pin in FLIP_FLOPS[t]:
                for b in _bits(conn, pin):
                    g.ends.append((b, self.routed(b) + d["ff_setup"], f"{self.label(_bits(conn, 'Q')[0])} ({pin})"))
        elif t in LUTS:
            for out in _bits(conn, "O"):
                for pin in (p for p in conn if p.startswith("I")):
                    for b in _bits(conn, pin):
                        g.arcs[out].append(Arc(b, self.routed(b) + d["lut"], "lut", name))
        elif t in MUXES:
            for out in _bits(conn, "O"):
                for pin in ("I0", "I1", "S"):
                    for b in _bits(conn, pin):
                        net = self.routed(b) if pin == "S" else 0.0
                        g.arcs[out].append(Arc(b, net + d["muxf"], "muxf", name))
        elif t in CARRIES:
            self.carry(name, conn, CARRIES[t])
        elif t == "DSP48E2":
            self.dsp(name, cell)
        elif t in BRAMS:
            self.bram(cell)
        elif t in LUTRAMS or t in SHIFT_REGS:
            self.lutram(name, cell)
        else:
            g.unmodelled[t] = g.unmodelled.get(t, 0) + 1
            outs = [b for p, dr in cell.get("port_directions", {}).items() if dr == "output" for b in _bits(conn, p)]
            ins = [b for p, dr in cell.get("port_directions", {}).items() if dr == "input" and p not in CLOCK_PINS
                   for b in _bits(conn, p)]
            for out in outs:
                for b in ins:
                    g.arcs[out].append(Arc(b, self.routed(b) + d["lut"], "lut", name))

    def carry(self, name: str, conn: dict, width: int) -> None:
        """Carry chain: entry at S[i]/DI[i], d['carry_per_bit'] per bit, the sum outputs O add d['carry_sum_out']."""
        d, g = self.d, self.g
        lut_slice = frozenset(LUTS)
        chain_in = _bits(conn, "CI") + _bits(conn, "CYINIT")
        co = conn.get("CO", [])
        g.carry_cells.append((next(iter(_bits(conn, "CI")), None), co[-1] if co and isinstance(co[-1], int) else None,
                              width))
        for k in range(width):
            for out_port, extra in (("CO", 0.0), ("O", d["carry_sum_out"])):
                outs = conn.get(out_port, [])
                if k >= len(outs) or not isinstance(outs[k], int):
                    continue
                for i in range(k + 1):
                    for pin in ("S", "DI"):
                        src = conn.get(pin, [])
                        if i < len(src) and isinstance(src[i], int):
                            ns = self.routed(src[i], lut_slice) + d["carry_entry"] + (k - i) * d["carry_per_bit"] + extra
                            g.arcs[outs[k]].append(Arc(src[i], ns, "carry", name, k - i + 1))
                for b in chain_in:
                    # CI comes from the previous carry's CO (dedicated wire) or the fabric (routed)
                    net = 0.0 if self.driver.get(b) in CARRIES else self.routed(b)
                    g.arcs[outs[k]].append(Arc(b, net + (k + 1) * d["carry_per_bit"] + extra, "carry", name, k + 1))

    def dsp(self, name: str, cell: dict) -> None:
        """DSP48E2 as input registers -> multiplier -> MREG -> ALU -> PREG, each register optional."""
        d, g, conn, p = self.d, self.g, cell["connections"], cell.get("parameters", {})
        mult = str(p.get("USE_MULT", "MULTIPLY")).strip() != "NONE"
        preadd = "AD" in (str(p.get("AMULTSEL", "A")), str(p.get("BMULTSEL", "B"))) and not _int_param(p.get("ADREG"), 1)
        m_in, m_pre, m_out, p_pre = g.node(), g.node(), g.node(), g.node()

        def enter(pins: tuple[str, ...], reg: int, node: int) -> None:
            for pin in pins:
                for b in _bits(conn, pin):
                    net = 0.0 if pin in DSP_CASCADE_IN else self.routed(b)
                    if reg:
                        g.ends.append((b, net + d["dsp_setup"], f"{name} ({pin} register)"))
                    else:
                        g.arcs[node].append(Arc(b, net, "dsp", name))
            if reg:
                g.start(node, 0.0, f"{name} ({pins[0]} register)")

        enter(("A", "ACIN"), _int_param(p.get("AREG"), 1), m_in)
        enter(("B", "BCIN"), _int_param(p.get("BREG"), 1), m_in)
        enter(("D",), _int_param(p.get("DREG"), 1), m_in)
        seg = (d["dsp_mult"] + (d["dsp_preadd"] if preadd else 0.0)) if mult else 0.0
        g.arcs[m_pre].append(Arc(m_in, seg, "dsp", name))
        if _int_param(p.get("MREG"), 1) and mult:
            g.ends.append((m_pre, 0.0, f"{name} (MREG)"))
            g.start(m_out, 0.0, f"{name} (MREG)")
        else:
            g.arcs[m_out].append(Arc(m_pre, 0.0, "dsp", name))
        alu = d["dsp_alu"] if mult else d["dsp_alu_only"]
        g.arcs[p_pre].append(Arc(m_out, alu, "dsp", name))
        enter(("C",), _int_param(p.get("CREG"), 1), c_node := g.node())
        g.arcs[p_pre].append(Arc(c_node, alu, "dsp", name))
        enter(("PCIN", "CARRYCASCIN", "CARRYIN"), 0, cas_node := g.node())
        g.arcs[p_pre].append(Arc(cas_node, alu, "dsp", name))
        enter(("OPMODE", "ALUMODE", "CARRYINSEL"), _int_param(p.get("OPMODEREG"), 1), ctl_node := g.node())
        g.arcs[p_pre].append(Arc(ctl_node, alu, "dsp", name))
        outs = [b for port in ("P", "PCOUT", "CARRYOUT", "CARRYCASCOUT", "MULTSIGNOUT", "PATTERNDETECT",
                               "PATTERNBDETECT", "OVERFLOW", "UNDERFLOW", "XOROUT") for b in _bits(conn, port)]
        if _int_param(p.get("PREG"), 1):
            g.ends.append((p_pre, 0.0, f"{name} (PREG)"))
            for b in outs:
                g.start(b, d["dsp_clk_to_out"], f"{name} (PREG)")
        else:
            for b in outs:
                g.arcs[b].append(Arc(p_pre, 0.0, "dsp", name))
        for b in _bits(conn, "ACOUT") + _bits(conn, "BCOUT"):
            g.arcs[b].append(Arc(m_in, 0.0, "dsp", name))

    def bram(self, cell: dict) -> None:
        """Block RAM: every input is registered, outputs leave after the clock-to-out (with or without DO_REG)."""
        d, g, conn, p = self.d, self.g, cell["connections"], cell.get("parameters", {})
        for port, direction in cell.get("port_directions", {}).items():
            if port in CLOCK_PINS:
                continue
            for b in _bits(conn, port):
                if direction == "input":
                    g.ends.append((b, self.routed(b) + d["bram_setup"], f"block RAM ({port})"))
                else:
                    reg = _int_param(p.get("DOB_REG" if "B" in port.replace("DOUTADOUT", "") else "DOA_REG"))
                    g.start(b, d["bram_clk_to_out_reg" if reg else "bram_clk_to_out"], f"block RAM ({port})")

    def lutram(self, name: str, cell: dict) -> None:
        """Distributed RAM / shift register: written on the clock, read combinationally through its address pins."""
        d, g, conn = self.d, self.g, cell["connections"]
        outs = {port: _bits(conn, port) for port, dr in cell.get("port_directions", {}).items() if dr == "output"}
        for port, direction in cell.get("port_directions", {}).items():
            if direction != "input" or port in CLOCK_PINS:
                continue
            for b in _bits(conn, port):
                g.ends.append((b, self.routed(b) + d["ff_setup"], f"{name} ({port} write)"))
                for out_port in _read_outputs(port, outs):
                    for o in outs[out_port]:
                        g.arcs[o].append(Arc(b, self.routed(b) + d["lut"], "lut", name))
        for bits in outs.values():
            for o in bits:
                g.start(o, d["lutram_clk_to_out"], f"{name} (write clock)")


def _read_outputs(port: str, outs: dict[str, list[int]]) -> list[str]:
    """Outputs read combinationally through an input pin: ADDRx -> DOx, DPRA -> DPO, A -> SPO/O/Q."""
    if port.startswith("ADDR"):
        return [o for o in outs if o == f"DO{port[4:]}"]
    if port.startswith("DPRA"):
        return [o for o in outs if o == "DPO"]
    if port.startswith("A"):
        return [o for o in outs if o in ("SPO", "O", "Q")]
    return []


def _bit_names(module: dict) -> dict[int, str]:
    """Net bit -> a readable name (visible names preferred, then the shortest)."""
    names: dict[int, tuple[int, str]] = {}
    for net, info in module.get("netnames", {}).items():
        rank = 1 if info.get("hide_name") else 0
        bits = info["bits"]
        for i, b in enumerate(bits):
            if isinstance(b, int):
                label = net if len(bits) == 1 else f"{net}[{i}]"
                if b not in names or (rank, len(label)) < (names[b][0], len(names[b][1])):
                    names[b] = (rank, label)
    return {b: label for b, (_, label) in names.items()}


@dataclass(frozen=True)
class PathEstimate:
    """The slowest register-to-register path of a block and what it passes through."""

    ns: float
    start: str
    end: str
    lut_levels: int
    carry_bits: int
    dsp: int
    muxf: int
    max_lut_levels: int  # over all paths, not only the slowest
    longest_carry_bits: int

    @property
    def fmax_mhz(self) -> float:
        return 1000.0 / self.ns if self.ns > 0 else math.inf

    def to_json(self) -> dict:
        return {"period_ns": round(self.ns, 3), "fmax_mhz": round(self.fmax_mhz, 1), "from": self.start,
                "to": self.end, "lut_levels": self.lut_levels, "carry_bits": self.carry_bits,
                "carry8": math.ceil(self.carry_bits / 8), "dsp": self.dsp, "muxf": self.muxf,
                "max_lut_levels": self.max_lut_levels, "longest_carry_bits": self.longest_carry_bits}


def longest_path(graph: Graph, clock_uncertainty: float) -> PathEstimate:
    """Longest start-to-end delay (Kahn order over the nodes), its composition, and the most LUT levels on any path."""
    succ: dict[int, list[int]] = defaultdict(list)
    indeg: dict[int, int] = defaultdict(int)
    for dst, arcs in graph.arcs.items():
        for a in arcs:
            succ[a.src].append(dst)
            indeg[dst] += 1
    nodes = set(graph.arcs) | set(succ) | set(graph.starts)
    arrival: dict[int, float] = {}
    best: dict[int, Arc | None] = {}
    levels: dict[int, int] = {}
    ready = [n for n in nodes if indeg[n] == 0]
    done = 0
    while ready:
        n = ready.pop()
        done += 1
        t, via, lv = (graph.starts[n][0], None, 0) if n in graph.starts else (-math.inf, None, 0)
        for a in graph.arcs.get(n, ()):
            if a.src in arrival and arrival[a.src] + a.ns > t:
                t, via = arrival[a.src] + a.ns, a
            if a.src in levels:
                lv = max(lv, levels[a.src] + (a.kind == "lut"))
        if t > -math.inf:
            arrival[n], best[n], levels[n] = t, via, lv
        for s in succ.get(n, ()):
            indeg[s] -= 1
            if indeg[s] == 0:
                ready.append(s)
    if done < len(nodes):
        raise InputError("timing estimate: the netlist has a combinational loop")
    worst = max(((arrival[b] + setup + clock_uncertainty, b, label) for b, setup, label in graph.ends if b in arrival),
                default=(0.0, None, "-"))
    ns, end_node, end_label = worst
    luts = carry = muxf = 0
    dsps: set[str] = set()
    node = end_node
    while node is not None and best.get(node) is not None:
        a = best[node]
        luts += a.kind == "lut"
        muxf += a.kind == "muxf"
        carry += a.carry_bits
        if a.kind == "dsp":
            dsps.add(a.cell)
        node = a.src
    start = graph.starts[node][1] if node in graph.starts else "-"
    max_levels = max((levels[b] for b, _, _ in graph.ends if b in levels), default=0)
    return PathEstimate(ns=ns, start=start, end=end_label, lut_levels=luts, carry_bits=carry, dsp=len(dsps),
                        muxf=muxf, max_lut_levels=max_levels, longest_carry_bits=_chain_bits(graph))


def _chain_bits(graph: Graph) -> int:
    """Bits of the longest carry chain: carry cells linked from the top CO of one to the CI of the next."""
    by_co = {co: (ci, bits) for ci, co, bits in graph.carry_cells if co is not None}
    memo: dict[int, int] = {}

    def length(co: int) -> int:
        if co not in memo:
            ci, bits = by_co[co]
            memo[co] = bits + (length(ci) if ci in by_co else 0)
        return memo[co]

    return max((length(co) for co in by_co), default=0)


def estimate_module(netlist: dict, top: str, delays: Delays) -> tuple[PathEstimate, dict[str, int]]:
    """The slowest path of module `top` of a flattened yosys JSON netlist, and the cell types the model does not know."""
    module = netlist.get("modules", {}).get(top)
    if module is None:
        raise InputError(f"timing estimate: module {top!r} is not in the netlist")
    graph = _Builder(module, delays).build()
    return longest_path(graph, delays.ns["clock_uncertainty"]), dict(sorted(graph.unmodelled.items()))


def read_netlist(path: Path) -> dict:
    """A yosys JSON netlist, gzip-compressed or not."""
    try:
        with (gzip.open if str(path).endswith(".gz") else open)(path, "rb") as fh:
            return json.loads(fh.read())
    except (OSError, ValueError) as exc:
        raise InputError(f"timing estimate: cannot read netlist {str(path)!r} ({exc})") from None
