"""V0: the emulator's fixed-point primitives against the real ap_fixed (g++ + the ap_types headers).

Every conversion the design uses, in every rounding/overflow mode, plus edge formats, on edge
values and on hypothesis-generated values. Zero disagreements allowed.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codesign.derived import derive, product_format, sum_format
from codesign.paths import DEFAULT_SPEC
from codesign.spec import load_spec
from codesign.toolchain import compile_cpp
from emulation.fixed import FixedFormat, Overflow, Rounding, from_float, requantize, sfixed, ufixed
from helpers import TIGHT_SPEC

ORACLE_SRC = Path(__file__).parent / "oracle" / "ap_oracle.cpp"
OPS = {"convert": "OP_CONVERT", "double": "OP_DOUBLE", "mul": "OP_MUL"}


@dataclass(frozen=True)
class Case:
    op: str
    a: FixedFormat  # source format (convert, mul) / unused for double
    b: FixedFormat  # target format (convert, double) / second operand (mul)
    rounding: Rounding = Rounding.TRN
    overflow: Overflow = Overflow.WRAP

    def macro(self, i: int) -> str:
        t = lambda f: f"{f.width}, {f.int_bits}, {'true' if f.signed else 'false'}"  # noqa: E731
        return f"X({i}, {OPS[self.op]}, {t(self.a)}, {t(self.b)}, {self.rounding.value}, {self.overflow.value})"


def design_conversions() -> list[tuple[FixedFormat, FixedFormat]]:
    """(accumulator, target) pairs of every requantisation in the chain, for both shipped specs."""
    pairs = []
    for path in (DEFAULT_SPEC, TIGHT_SPEC):
        f = derive(load_spec(path)).formats
        hs = FixedFormat(f["dense_acc"].width + 1, f["dense_acc"].int_bits, True)  # hard sigmoid works 1 bit finer
        pred = sum_format(product_format(f["seg_w"], f["et_dec"]), 2)
        pairs += [(f["conv_acc"], f["conv_act"]), (f["dense1_acc"], f["dense_act"]), (f["dense_acc"], f["dense_act"]),
                  (hs, f["seg_w"]), (pred, f["et_pred"])]
    edge = [(sfixed(20, 4), sfixed(8, 2)), (ufixed(12, 12), sfixed(6, 3)), (sfixed(16, 8), ufixed(8, 4)),
            (ufixed(24, 10), ufixed(7, 7)), (sfixed(40, 20), sfixed(33, 17)), (sfixed(10, 1), sfixed(10, 1))]
    return list(dict.fromkeys(pairs + edge))


def all_cases() -> list[Case]:
    f = derive(load_spec(DEFAULT_SPEC)).formats
    cases = [Case("convert", a, b, r, o) for a, b in design_conversions() for r in Rounding for o in Overflow]
    cases += [Case("double", f["et_in"], t, r, o) for t in (f["et_in"], f["log_eta"], f["conv_w"], sfixed(8, 3))
              for r in Rounding for o in Overflow]
    cases += [Case("mul", a, b) for a, b in ((f["et_dec"], f["conv_w"]), (f["dense_act"], f["dense_w"]),
                                             (f["log_eta"], f["dense_w"]), (f["seg_w"], f["et_dec"]),
                                             (sfixed(12, 3), sfixed(9, 5)))]
    return cases


CASES = all_cases()


@pytest.fixture(scope="module")
def oracle(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("oracle")
    lines = " \\\n".join(c.macro(i) for i, c in enumerate(CASES))
    (d / "cases.h").write_text(f"#define CASES \\\n{lines}\n")
    exe = d / "ap_oracle"
    compile_cpp([ORACLE_SRC], exe, [d])
    return exe


def run_oracle(exe: Path, requests: list[tuple[int, str]]) -> list[int]:
    text = "".join(f"{i} {args}\n" for i, args in requests)
    proc = subprocess.run([str(exe)], input=text, capture_output=True, text=True, check=True)
    return [int(v) for v in proc.stdout.split()]


def emulate(case: Case, values: list) -> list[int]:
    if case.op == "convert":
        return requantize(np.array(values, dtype=np.int64), case.a.frac_bits, case.b, case.rounding,
                          case.overflow).tolist()
    if case.op == "double":
        assert case.rounding is Rounding.RND and case.overflow is Overflow.SAT
        return from_float(np.array(values, dtype=np.float64), case.b).tolist()
    return [a * b for a, b in values]


def edge_values(case: Case) -> list:
    if case.op == "double":
        t = case.b
        ks = [t.raw_min - 1, t.raw_min, -1, 0, 1, t.raw_max, t.raw_max + 1]
        return [float(np.ldexp(k + d, -t.frac_bits)) for k in ks for d in (-0.5, -0.25, 0.0, 0.25, 0.5, 0.75)]
    if case.op == "mul":
        ends = lambda f: [f.raw_min, f.raw_min + 1, -1, 0, 1, f.raw_max - 1, f.raw_max]  # noqa: E731
        return [(a, b) for a in ends(case.a) for b in ends(case.b) if case.a.raw_min <= a <= case.a.raw_max
                and case.b.raw_min <= b <= case.b.raw_max]
    src, dst = case.a, case.b
    s = src.frac_bits - dst.frac_bits
    step = 1 << max(s, 0)
    half = step // 2
    out = {src.raw_min, src.raw_max, 0, 1, -1}
    for k in (dst.raw_min - 1, dst.raw_min, -1, 0, 1, dst.raw_max, dst.raw_max + 1):
        base = k * step if s >= 0 else k >> -s
        for d in (-1, 0, 1, half - 1, half, half + 1):
            out.add(base + d)
    return sorted(v for v in out if src.raw_min <= v <= src.raw_max)


def check(exe: Path, per_case: dict[int, list]) -> None:
    requests, index = [], []
    for i, values in per_case.items():
        case = CASES[i]
        for v in values:
            requests.append((i, f"{v[0]} {v[1]}" if case.op == "mul" else repr(v)))
            index.append((i, v))
    got = run_oracle(exe, requests)
    want = []
    for i, values in per_case.items():
        want += emulate(CASES[i], values)
    bad = [(CASES[i], v, g, w) for (i, v), g, w in zip(index, got, want) if g != w]
    assert len(got) == len(want) and not bad, f"{len(bad)} disagreements, first: {bad[:3]}"


def applicable(case: Case) -> bool:
    return case.op != "double" or (case.rounding is Rounding.RND and case.overflow is Overflow.SAT)


def test_case_table_covers_the_design():
    ops = {(c.rounding, c.overflow) for c in CASES if c.op == "convert"}
    assert ops == {(r, o) for r in Rounding for o in Overflow}
    assert len(design_conversions()) >= 8


def test_edge_values(oracle):
    check(oracle, {i: edge_values(c) for i, c in enumerate(CASES) if applicable(c)})


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_generated_values(oracle, data):
    per_case = {}
    for i, c in enumerate(CASES):
        if not applicable(c):
            continue
        if c.op == "convert":
            strat = st.integers(c.a.raw_min, c.a.raw_max)
        elif c.op == "double":
            lim = 2.0 * max(abs(c.b.min_value), c.b.max_value)
            strat = st.floats(-lim, lim, allow_nan=False, allow_infinity=False)
        else:
            strat = st.tuples(st.integers(c.a.raw_min, c.a.raw_max), st.integers(c.b.raw_min, c.b.raw_max))
        per_case[i] = data.draw(st.lists(strat, min_size=10, max_size=10), label=f"case {i}")
    check(oracle, per_case)
