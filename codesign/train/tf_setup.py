"""TensorFlow with deterministic ops (training must be reproducible); codesign.train quiets its C++ logs."""

from __future__ import annotations

import os

import tensorflow as tf

from codesign.errors import InputError

CPU_REPLICAS_ENV = "CODESIGN_CPU_REPLICAS"
THREADS_ENV = "CODESIGN_THREADS"


def _positive_int(name: str, default: str) -> int:
    text = os.environ.get(name, default).strip() or default
    if not text.isdigit() or int(text) < 1:
        raise InputError(f"{name}={text!r}: expected an integer >= 1")
    return int(text)


def _split_cpu() -> None:
    """CODESIGN_CPU_REPLICAS=N > 1 on a machine without GPUs: N logical CPU devices for data-parallel
    training (codesign.train.distribute); TensorFlow only allows this before it starts."""
    n = _positive_int(CPU_REPLICAS_ENV, "1")
    if n > 1 and not tf.config.list_physical_devices("GPU"):
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * n)


def _threads() -> None:
    """CODESIGN_THREADS=N: TensorFlow's (and XLA's) thread pools limited to N threads (benchmarks)."""
    if os.environ.get(THREADS_ENV, "").strip():
        n = _positive_int(THREADS_ENV, "1")
        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(n)


_split_cpu()
_threads()
tf.config.experimental.enable_op_determinism()
tf.get_logger().setLevel("ERROR")

# Parameters, losses and the smooth surrogates are float64. The chain's activations are float32
# wherever a bound proves every quantised product and sum exact there (emulation.exact), float64
# elsewhere, so the QAT forward equals the firmware's integer arithmetic bit for bit, whatever
# order TensorFlow adds in.
DTYPE = tf.float64

__all__ = ["CPU_REPLICAS_ENV", "DTYPE", "THREADS_ENV", "tf"]
