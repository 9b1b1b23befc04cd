"""Quantisation-aware training of the whole trigger chain (TensorFlow + QKeras), sequential or end-to-end.

Importing this package does not import TensorFlow (it only quiets TensorFlow's C++ logs for
when a module here does); modules that need TensorFlow import `codesign.train.tf_setup`.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
