"""TensorFlow with deterministic ops (training must be reproducible); codesign.train quiets its C++ logs."""

from __future__ import annotations

import tensorflow as tf

tf.config.experimental.enable_op_determinism()
tf.get_logger().setLevel("ERROR")

# The whole chain computes in float64: every quantised product and sum of the CNN and the
# clusterer is then an exact multiple of its LSB (< 2**53), so the QAT forward equals the
# firmware's integer arithmetic bit for bit, whatever order TensorFlow adds in.
DTYPE = tf.float64

__all__ = ["DTYPE", "tf"]
