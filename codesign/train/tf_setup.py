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


def _threads() -> int:
    """One thread per TensorFlow (and XLA) operation, and CODESIGN_THREADS (default: every core) operations at once.

    XLA computations run faster on one thread each, several at a time (`codesign.train.shares`),
    than one at a time on every thread. Returns the number of concurrent computations.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    n = _positive_int(THREADS_ENV, str(cores))
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(n)
    return 1 if tf.config.list_physical_devices("GPU") else n  # a GPU runs the step as one computation


_split_cpu()
# the number of concurrent shares a step splits its events into (codesign.train.shares)
SHARES = _threads()
tf.config.experimental.enable_op_determinism()
tf.get_logger().setLevel("ERROR")

# Parameters, losses and the smooth surrogates are float64. The chain's activations are float32
# wherever a bound proves every quantised product and sum exact there (emulation.exact), float64
# elsewhere, so the QAT forward equals the firmware's integer arithmetic bit for bit, whatever
# order TensorFlow adds in.
DTYPE = tf.float64

__all__ = ["CPU_REPLICAS_ENV", "DTYPE", "SHARES", "THREADS_ENV", "tf"]
