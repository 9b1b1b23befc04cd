"""TensorFlow with deterministic ops (training must be reproducible); codesign.train quiets its C++ logs."""

from __future__ import annotations

import os

import tensorflow as tf

from codesign.errors import InputError

CPU_REPLICAS_ENV = "CODESIGN_CPU_REPLICAS"


def _split_cpu() -> None:
    """CODESIGN_CPU_REPLICAS=N > 1 on a machine without GPUs: N logical CPU devices for data-parallel
    training (codesign.train.distribute); TensorFlow only allows this before it starts."""
    text = os.environ.get(CPU_REPLICAS_ENV, "1").strip() or "1"
    if not text.isdigit() or int(text) < 1:
        raise InputError(f"{CPU_REPLICAS_ENV}={text!r}: expected an integer >= 1")
    if int(text) > 1 and not tf.config.list_physical_devices("GPU"):
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * int(text))


_split_cpu()
tf.config.experimental.enable_op_determinism()
tf.get_logger().setLevel("ERROR")

# The whole chain computes in float64: every quantised product and sum of the CNN and the
# clusterer is then an exact multiple of its LSB (< 2**53), so the QAT forward equals the
# firmware's integer arithmetic bit for bit, whatever order TensorFlow adds in.
DTYPE = tf.float64

__all__ = ["CPU_REPLICAS_ENV", "DTYPE", "tf"]
