"""The HLS C++ types of every tensor: the bundle's formats plus the exact intermediates the C++ needs.

The four requantisations of SEMANTICS.md carry AP_RND + AP_SAT in their C++ type, so a plain
assignment in the templates performs exactly `emulation.fixed.convert`; every other type is
either a bundle format or an exact (never rounding, never wrapping) intermediate.
"""

from __future__ import annotations

from dataclasses import dataclass

from codesign.derived import product_format, sum_format
from codesign.errors import BundleError
from codesign.spec_report import TENSOR_ROLES
from emulation.bundle import KERNEL_TAPS, FirmwareBundle
from emulation.fixed import FixedFormat, Overflow, Rounding

# Formats assigned from a wider accumulator with convert(AP_RND, AP_SAT) (SEMANTICS.md section 4).
REQUANTISED = ("conv_act", "dense_act", "seg_w", "et_pred")
ROUNDING, OVERFLOW = Rounding.RND, Overflow.SAT


@dataclass(frozen=True)
class HlsType:
    """A typedef of the generated defines.h."""

    name: str
    cpp: str
    role: str
    fmt: FixedFormat


def cpp_type(fmt: FixedFormat, requantised: bool = False) -> str:
    """``ap_[u]fixed<W,I>``, with the design's rounding and overflow modes when the type is a requantisation target."""
    if not requantised:
        return fmt.cpp()
    return f"{fmt.cpp()[:-1]}, {ROUNDING.value}, {OVERFLOW.value}>"


def exact_intermediates(bundle: FirmwareBundle) -> dict[str, tuple[FixedFormat, str]]:
    """Formats of the C++-only exact intermediates: tap-group sums, hard sigmoid, E_pred accumulator."""
    f = bundle.formats
    corners = 4  # the largest tap group (four corner cells)
    hs = FixedFormat(f["dense_acc"].width + 1, f["dense_acc"].int_bits, True)
    pred = sum_format(product_format(f["seg_w"], f["et_dec"]), bundle.geometry.n_layers)
    return {
        "tap_sum": (sum_format(f["et_dec"], corners), f"sum of up to {corners} cells of one tap group ({', '.join(KERNEL_TAPS)})"),
        "hs": (hs, "hard sigmoid v/2 + 1/2 of the dense-3 accumulator, one bit finer (exact)"),
        "pred_acc": (pred, "sum over layers of w * et_dec (exact)"),
    }


def hls_types(bundle: FirmwareBundle) -> list[HlsType]:
    """Every typedef, in chain order (the code format is an integer: ap_uint)."""
    f = bundle.formats
    extra = exact_intermediates(bundle)
    order = ("et_in", "code", "et_dec", "tap_sum", "conv_w", "conv_b", "conv_acc", "conv_act", "log_eta", "dense_w",
             "dense_b", "dense1_acc", "dense_act", "dense_acc", "hs", "seg_w", "pred_acc", "et_pred", "cluster_pt",
             "pt_calib")
    out = []
    for name in order:
        if name in extra:
            fmt, role = extra[name]
            out.append(HlsType(f"{name}_t", cpp_type(fmt), role, fmt))
        elif name == "code":
            fmt = f[name]
            if fmt.frac_bits != 0 or fmt.signed:
                raise BundleError(f"bundle: formats.code is {fmt.cpp()}, expected an unsigned integer format")
            out.append(HlsType("code_t", f"ap_uint<{fmt.width}>", TENSOR_ROLES[name], fmt))
        else:
            req = name in REQUANTISED
            role = TENSOR_ROLES[name] + (f"; assigned with {ROUNDING.value}, {OVERFLOW.value}" if req else "")
            out.append(HlsType(f"{name}_t", cpp_type(f[name], req), role, f[name]))
    return out
