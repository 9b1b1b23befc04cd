"""HLS C++ firmware: project generation from hls_templates/, C simulation, C synthesis, hls4ml cross-check."""
