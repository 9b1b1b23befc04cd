"""Bit-accurate emulator of the trigger firmware (numpy + numba only; never imports TensorFlow)."""
