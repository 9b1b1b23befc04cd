"""Where the project's data folders live (the package is installed editable from its checkout)."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONSTRAINTS_DIR = PROJECT_ROOT / "constraints"
PARTS_FILE = CONSTRAINTS_DIR / "parts" / "parts.yaml"
DEFAULT_SPEC = CONSTRAINTS_DIR / "hl-lhc-multijet.yaml"
DEFAULT_BUNDLE = PROJECT_ROOT / "codesign" / "default_bundle"
HLS_TEMPLATES_DIR = PROJECT_ROOT / "hls_templates"
FIRMWARE_DIR = PROJECT_ROOT / "firmware"
