"""Fixed-point formats: the one definition of how an integer stands for a real value.

A `FixedFormat(width, int_bits, signed)` is ap_fixed<width, int_bits> (signed) or
ap_ufixed<width, int_bits> (unsigned): a raw integer r stands for r * 2**-frac_bits,
with frac_bits = width - int_bits; int_bits counts the sign bit for signed formats,
exactly as in the Xilinx ap_types headers.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numba
import numpy as np

from emulation.errors import InputError
from emulation.jsoncheck import shown

_CPP_RE = re.compile(r"^ap_(u?)fixed<\s*(\d+)\s*,\s*(-?\d+)\s*>$")


@dataclass(frozen=True, order=True)
class FixedFormat:
    """A fixed-point format: total width, integer bits (incl. sign when signed), signedness."""

    width: int
    int_bits: int
    signed: bool

    def __post_init__(self) -> None:
        if not isinstance(self.width, int) or isinstance(self.width, bool) or not 1 <= self.width <= 62:
            raise InputError(f"fixed-point width {shown(self.width, 20)}: expected an integer in 1..62")
        if not isinstance(self.int_bits, int) or isinstance(self.int_bits, bool) or not -256 <= self.int_bits <= 256:
            raise InputError(f"fixed-point int_bits {shown(self.int_bits, 20)}: expected an integer in -256..256")
        if not isinstance(self.signed, bool):
            raise InputError(f"fixed-point signed {shown(self.signed, 20)}: expected true or false")
        if self.signed and self.width < 2:
            raise InputError("a signed fixed-point format needs at least 2 bits")

    @property
    def frac_bits(self) -> int:
        """Number of bits right of the binary point (may be negative)."""
        return self.width - self.int_bits

    @property
    def lsb(self) -> float:
        """Value of one raw unit."""
        return math.ldexp(1.0, -self.frac_bits)

    @property
    def raw_min(self) -> int:
        return -(1 << (self.width - 1)) if self.signed else 0

    @property
    def raw_max(self) -> int:
        return (1 << (self.width - 1)) - 1 if self.signed else (1 << self.width) - 1

    @property
    def max_value(self) -> float:
        return self.raw_max * self.lsb

    @property
    def min_value(self) -> float:
        return self.raw_min * self.lsb

    def cpp(self) -> str:
        """The HLS C++ type name, e.g. ``ap_ufixed<16,10>``."""
        return f"ap_{'' if self.signed else 'u'}fixed<{self.width},{self.int_bits}>"

    def to_json(self) -> dict[str, Any]:
        return {"width": self.width, "int_bits": self.int_bits, "signed": self.signed}

    @classmethod
    def from_json(cls, obj: Any) -> "FixedFormat":
        if not isinstance(obj, dict) or set(obj) != {"width", "int_bits", "signed"}:
            raise InputError(f"fixed-point format {shown(obj)}: expected {{width, int_bits, signed}}")
        return cls(obj["width"], obj["int_bits"], obj["signed"])

    @classmethod
    def parse(cls, text: str) -> "FixedFormat":
        """Parse an ``ap_fixed<W,I>`` / ``ap_ufixed<W,I>`` type name."""
        m = _CPP_RE.match(text.strip())
        if not m:
            raise InputError(f"fixed-point type {text!r}: expected ap_fixed<W,I> or ap_ufixed<W,I>")
        return cls(int(m.group(2)), int(m.group(3)), m.group(1) == "")

    def contains(self, raw: Any) -> bool:
        """True when every raw integer in `raw` is representable in this format."""
        arr = np.asarray(raw)
        if arr.size == 0:
            return True
        return bool(arr.min() >= self.raw_min and arr.max() <= self.raw_max)

    def __str__(self) -> str:
        return self.cpp()


def ufixed(width: int, int_bits: int) -> FixedFormat:
    """Shorthand for an unsigned format (ap_ufixed<width, int_bits>)."""
    return FixedFormat(width, int_bits, False)


def sfixed(width: int, int_bits: int) -> FixedFormat:
    """Shorthand for a signed format (ap_fixed<width, int_bits>)."""
    return FixedFormat(width, int_bits, True)


# --------------------------------------------------------------------------- integer semantics
# `convert` is the one definition of rounding and overflow: every block (numpy or numba)
# calls it; `requantize` applies it to whole arrays.


class Rounding(Enum):
    """Quantisation modes of ap_fixed used by the design."""

    TRN = "AP_TRN"  # truncate: floor toward -inf
    RND = "AP_RND"  # round half toward +inf: floor(x + 1/2 LSB)


class Overflow(Enum):
    """Overflow modes of ap_fixed used by the design."""

    WRAP = "AP_WRAP"  # keep the low `width` bits (two's complement)
    SAT = "AP_SAT"  # clamp to [raw_min, raw_max]


@numba.njit(inline="always", cache=True)
def convert(x: int, shift: int, rnd: bool, sat: bool, raw_min: int, raw_max: int, width: int) -> int:
    """ap_fixed assignment on raw integers: scale by 2**-shift with rounding, then overflow.

    shift = (source frac bits) - (target frac bits). rnd: AP_RND (add half an LSB, then floor),
    else AP_TRN (floor). sat: AP_SAT (clamp to [raw_min, raw_max]), else AP_WRAP (keep `width` bits).
    Exact for every int64 `x`, every shift and every target width 1..62: no intermediate leaves int64
    (rounding adds the dropped bit instead of half an LSB; a saturating left shift compares first).
    """
    if shift > 0:
        s = min(shift, 63)  # x >> 63 is already floor(x / 2**s) for any larger s
        if rnd:  # floor((x + 2**(s-1)) / 2**s) = floor(x / 2**s) + bit s-1 of x
            x = (x >> s) + ((x >> min(shift - 1, 63)) & 1)
        else:
            x = x >> s
    elif shift < 0:
        s = -shift
        if sat:
            if x == 0:
                return 0
            if s >= 63:
                return raw_max if x > 0 else raw_min
            if x > (raw_max >> s):
                return raw_max
            if x < -((-raw_min) >> s):
                return raw_min
            return x << s
        if s >= 64:
            return 0
        x = x << s  # int64 arithmetic wraps modulo 2**64; only the low `width` bits are kept
    if sat:
        if x < raw_min:
            x = raw_min
        elif x > raw_max:
            x = raw_max
    else:
        mask = (1 << width) - 1
        x = (((x & mask) - raw_min) & mask) + raw_min
    return x


@numba.njit(parallel=True, cache=True)
def _convert_array(x: np.ndarray, shift: int, rnd: bool, sat: bool, raw_min: int, raw_max: int,
                   width: int) -> np.ndarray:
    out = np.empty_like(x)
    for i in numba.prange(x.size):
        out[i] = convert(x[i], shift, rnd, sat, raw_min, raw_max, width)
    return out


def requantize(raw: np.ndarray, from_frac: int, fmt: FixedFormat, rounding: Rounding,
               mode: Overflow) -> np.ndarray:
    """Assign raw integers with `from_frac` fractional bits to ap_fixed<fmt, rounding, mode> (int64 result)."""
    arr = np.asarray(raw)
    if arr.dtype.kind not in "iub":
        raise InputError(f"requantize: expected an integer array, got {arr.dtype}")
    flat = np.ascontiguousarray(arr, dtype=np.int64).reshape(-1)
    out = _convert_array(flat, from_frac - fmt.frac_bits, rounding is Rounding.RND, mode is Overflow.SAT,
                         fmt.raw_min, fmt.raw_max, fmt.width)
    return out.reshape(arr.shape)


def from_float(x: Any, fmt: FixedFormat, what: str = "value") -> np.ndarray:
    """Raw integers of real values as ap_fixed<fmt, AP_RND, AP_SAT> = (double)x: clamp(floor(x * 2**frac + 1/2)).

    Exact for every finite double and every format (the rounding never adds 1/2 in floating point);
    NaN and infinities raise `InputError` naming `what` (see SEMANTICS.md, section 1).
    """
    arr = np.asarray(x, dtype=np.float64)
    finite = np.isfinite(arr)
    if not finite.all():
        bad = arr[~finite]
        raise InputError(f"{what}: {bad.size} value(s) are NaN or infinite (first {bad.flat[0]!r}); "
                         f"expected finite numbers")
    hi = math.ldexp(1.0, fmt.width - 1 if fmt.signed else fmt.width)  # raw_max + 1, exact
    lo = float(fmt.raw_min)  # 0 or -2**(width-1), exact
    with np.errstate(over="ignore", invalid="ignore"):
        v = np.ldexp(arr, fmt.frac_bits)  # exact unless it overflows (saturates below) or is subnormal (gives 0)
        fl = np.floor(v)
        r = fl + ((v - fl) >= 0.5)  # v - floor(v) is exact; r is an exact integer (or +-inf)
    high, low = r >= hi, r < lo
    raw = np.where(high | low, 0.0, r).astype(np.int64)
    return np.where(high, np.int64(fmt.raw_max), np.where(low, np.int64(fmt.raw_min), raw))


def to_float(raw: Any, fmt: FixedFormat) -> np.ndarray:
    """Real values of raw integers (exact in float64 for widths up to 53 bits)."""
    return np.ldexp(np.asarray(raw, dtype=np.float64), -fmt.frac_bits)
