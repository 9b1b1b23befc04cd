"""codesign: FPGA trigger co-design toolkit (constraint spec -> QAT -> bit-exact firmware)."""

__version__ = "0.1.0"
