"""Review reports (`codesign report`): HTML with embedded plots, plus JSON."""
