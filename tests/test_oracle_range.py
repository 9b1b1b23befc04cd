"""V0 over the whole supported range: `from_float` and `convert` against the real ap_fixed for every width 1..62.

`tests/test_oracle.py` covers the design's own conversions; this sweep covers every width the
emulator accepts, negative and large integer-bit counts, left and right shifts far past the
width (wide accumulators under AP_SAT), edge doubles (half an LSB and its neighbours, the
saturation bounds, huge and subnormal values) and random bit patterns.
"""

from __future__ import annotations

import math
import random
import struct
from pathlib import Path

import numpy as np
import pytest

from emulation.errors import InputError
from emulation.fixed import FixedFormat, Overflow, Rounding, from_float, requantize, sfixed, ufixed
from helpers import require_compiler
from test_oracle import ORACLE_SRC, Case, run_oracle

MAX_WIDTH = 62


def _double_targets() -> list[FixedFormat]:
    """One format per width 1..62 and signedness, integer bits spread from negative to beyond the width."""
    out = []
    for w in range(1, MAX_WIDTH + 1):
        for signed in (False, True):
            if signed and w < 2:
                continue
            out.append(FixedFormat(w, (w * 7 + (3 if signed else 0)) % (w + 12) - 6, signed))
    return out


def _convert_pairs() -> list[tuple[FixedFormat, FixedFormat]]:
    """(source, target) pairs: every target width, sources up to 62 bits, shifts from -60 to the source width."""
    rng = random.Random(15)
    pairs = []
    for w in range(1, MAX_WIDTH + 1):
        signed_t = w >= 2 and w % 2 == 0
        target = FixedFormat(w, rng.randint(-4, w + 4), signed_t)
        src_w = rng.choice([w, MAX_WIDTH, rng.randint(2, MAX_WIDTH)])
        shift = rng.randint(-60, src_w)  # ap_fixed itself asserts on AP_RND right shifts past the source width
        src = FixedFormat(src_w, src_w - (target.frac_bits + shift), rng.random() < 0.7)
        pairs.append((src, target))
    # the wide accumulator shifted left into a narrow activation (conv_acc -> conv_act, 15 bits)
    pairs += [(sfixed(32, 32), ufixed(10, -5)), (sfixed(62, 62), ufixed(10, -5)), (sfixed(62, 1), sfixed(62, 61)),
              (sfixed(62, 61), ufixed(62, 62)), (ufixed(62, 0), sfixed(2, 2))]
    return pairs


CASES = ([Case("double", t, t, Rounding.RND, Overflow.SAT) for t in _double_targets()]
         + [Case("convert", a, b, r, o) for a, b in _convert_pairs() for r in Rounding for o in Overflow])


@pytest.fixture(scope="module")
def oracle(tmp_path_factory) -> Path:
    require_compiler("the ap_fixed oracle")
    from codesign.toolchain import compile_cpp

    d = tmp_path_factory.mktemp("oracle_range")
    lines = " \\\n".join(c.macro(i) for i, c in enumerate(CASES))
    (d / "cases.h").write_text(f"#define CASES \\\n{lines}\n")
    exe = d / "ap_oracle"
    compile_cpp([ORACLE_SRC], exe, [d])
    return exe


def _bits_to_double(bits: int) -> float:
    return struct.unpack("<d", struct.pack("<Q", bits))[0]


def double_values(t: FixedFormat, rng: random.Random) -> list[float]:
    """Edge doubles of a target format and random ones spread over its range and far beyond."""
    out = [0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308, -1e-300, 1e300, -1e300, 1.7976931348623157e308,
           -1.7976931348623157e308]
    for k in (t.raw_min - 1, t.raw_min, -1, 0, 1, t.raw_max, t.raw_max + 1, t.raw_max // 3):
        for d in (-0.5, 0.0, 0.5):
            centre = math.ldexp(float(k) + d, -t.frac_bits)  # may round for wide formats: still a valid double
            out += [centre, float(np.nextafter(centre, math.inf)), float(np.nextafter(centre, -math.inf))]
    scale = t.frac_bits
    for _ in range(60):
        e = rng.randint(-scale - 60, t.int_bits + 4)
        out.append(math.ldexp(rng.uniform(-1.0, 1.0), e))
        out.append(_bits_to_double(rng.getrandbits(64) & ~(0x7FF << 52) | (rng.randint(900, 1150) << 52)))
    return [v for v in out if math.isfinite(v)]


def convert_values(src: FixedFormat, dst: FixedFormat, rng: random.Random) -> list[int]:
    s = src.frac_bits - dst.frac_bits
    out = {src.raw_min, src.raw_min + 1, src.raw_max, src.raw_max - 1, 0, 1, -1}
    step = 1 << max(s, 0)
    for k in (dst.raw_min - 1, dst.raw_min, -1, 0, 1, dst.raw_max, dst.raw_max + 1):
        base = k * step if s >= 0 else k >> -s
        for d in (-1, 0, 1, step // 2 - 1, step // 2, step // 2 + 1):
            out.add(base + d)
    out |= {rng.randint(src.raw_min, src.raw_max) for _ in range(40)}
    out |= {rng.randint(-(1 << b), (1 << b)) for b in range(0, src.width, 3)}
    return sorted(v for v in out if src.raw_min <= v <= src.raw_max)


def emulate(case: Case, values: list) -> list[int]:
    if case.op == "double":
        return from_float(np.array(values, dtype=np.float64), case.b).tolist()
    return requantize(np.array(values, dtype=np.int64), case.a.frac_bits, case.b, case.rounding,
                      case.overflow).tolist()


def test_sweep_covers_every_width_and_far_shifts():
    widths = {c.b.width for c in CASES if c.op == "double"}
    assert widths == set(range(1, MAX_WIDTH + 1))
    assert {c.b.width for c in CASES if c.op == "convert"} == set(range(1, MAX_WIDTH + 1))
    shifts = [c.a.frac_bits - c.b.frac_bits for c in CASES if c.op == "convert"]
    assert min(shifts) <= -40 and max(shifts) >= 40
    assert all(c.a.frac_bits - c.b.frac_bits <= c.a.width for c in CASES if c.op == "convert")


@pytest.mark.parametrize("seed", [0, 1])
def test_every_width_agrees_with_ap_fixed(oracle, seed):
    rng = random.Random(seed)
    requests, want, index = [], [], []
    for i, c in enumerate(CASES):
        values = double_values(c.b, rng) if c.op == "double" else convert_values(c.a, c.b, rng)
        requests += [(i, repr(v)) for v in values]
        want += emulate(c, values)
        index += [(c, v) for v in values]
    got = run_oracle(oracle, requests)
    bad = [(c, v, g, w) for (c, v), g, w in zip(index, got, want) if g != w]
    assert len(got) == len(want) and not bad, f"{len(bad)} of {len(want)} disagree, first: {bad[:3]}"


def test_largest_double_below_half_an_lsb_rounds_to_zero():
    for t in (sfixed(8, 3), ufixed(16, 10), sfixed(60, 2), ufixed(62, 62)):
        half = math.ldexp(0.5, -t.frac_bits)
        below = float(np.nextafter(half, 0.0))
        assert from_float([below, half, -half, float(np.nextafter(-half, -1.0))], t).tolist() == [0, 1, 0, -1 if t.signed else 0]


def test_wide_formats_saturate_at_their_exact_bounds():
    t = sfixed(62, 40)
    assert from_float([1e30, -1e30], t).tolist() == [t.raw_max, t.raw_min]
    assert from_float([math.ldexp(1.0, 39)], t).tolist() == [t.raw_max]  # 2**39 is one LSB above the maximum


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_reals_are_rejected(bad):
    with pytest.raises(InputError, match="NaN or infinite"):
        from_float(np.array([1.0, bad]), sfixed(16, 6), what="cell E_T")
