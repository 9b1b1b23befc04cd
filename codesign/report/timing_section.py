"""The report's timing section: the estimated slowest path per block against the spec's clock, and the vendor steps."""

from __future__ import annotations

from typing import Any

from codesign.report.collect import ReportData
from codesign.rtl.cli import vendor_lines
from codesign.rtl.timing_gate import stored_timing, stored_vivado_timing, timing_rows


def timing(data: ReportData) -> dict[str, Any]:
    """Rows (block, path composition, estimated period and Fmax, margin) when the build estimated timing; what the
    vendor tools did (Vivado's routed timing summary when it ran, else why not)."""
    record = stored_timing(data.build_dir)
    rows = [] if record is None else [
        {"block": r.block, "lut_levels": r.lut_levels, "carry_bits": r.carry_bits, "carry8": -(-r.carry_bits // 8),
         "dsp": r.dsp, "period_ns": r.period_ns, "fmax_mhz": round(r.fmax_mhz, 1), "margin_ns": round(r.margin_ns, 3),
         "misses": r.misses} for r in timing_rows(data.derived, record)]
    return {"clock_mhz": data.derived.clock_mhz, "period_ns": round(1000.0 / data.derived.clock_mhz, 3),
            "estimated": record is not None, "rows": rows,
            "model": record.get("model") if record else None,
            "vendor": vendor_lines(data.build_dir), "vivado_timing": stored_vivado_timing(data.build_dir)}
