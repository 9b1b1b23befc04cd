"""RTL firmware: Verilog generation from the bundle, cocotb simulation, latency, synthesis estimates."""
