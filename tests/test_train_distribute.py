"""Data-parallel training (tf.distribute.MirroredStrategy over two logical CPU devices) gives the
single-device losses: each replica's share of a batch adds up to the whole batch's loss."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from codesign.data.reader import Dataset
from codesign.paths import DEFAULT_SPEC

# TensorFlow fixes its devices when it starts, so each run is its own process.
SCRIPT = """
import json, sys
from codesign.train.config import TrainConfig
from codesign.train.loop import Trainer
config = TrainConfig(**json.loads(sys.argv[1]))
lines = []
history = Trainer.open(config, sys.argv[2], log=lines.append).train()
print(json.dumps({"lines": lines, "history": history}))
"""


def _run(config: dict, out, replicas: int) -> dict:
    env = dict(os.environ, CODESIGN_CPU_REPLICAS=str(replicas), TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(config), str(out)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _losses(history: list[dict]) -> np.ndarray:
    return np.array([h[split][k] for h in history for split in ("train", "val") for k in sorted(h[split])])


@pytest.mark.parametrize("mode, epochs", [("e2e", 2), ("sequential", 1)])
def test_two_replicas_give_the_single_device_losses(tiny_dataset, tmp_path, mode, epochs):
    n_train = Dataset(tiny_dataset).count("train")
    # batches of n_train - 1 events: the last batch holds one event, so one replica's share is empty
    config = {"spec": str(DEFAULT_SPEC), "data": str(tiny_dataset), "mode": mode, "epochs": epochs,
              "batch_size": n_train - 1, "max_steps_per_epoch": 2}
    one = _run(config, tmp_path / "one", 1)
    two = _run(config, tmp_path / "two", 2)
    assert not any("data-parallel" in line for line in one["lines"])
    assert "MirroredStrategy over 2 replicas" in two["lines"][0]
    a, b = _losses(one["history"]), _losses(two["history"])
    assert a.shape == b.shape and np.isfinite(a).all()
    # the replicas add their gradients in another order than one device, and Adam turns rounding-sized
    # gradients into full steps, so the runs part by rounding after the first step: 1e-7 relative on the
    # O(1) losses, 1e-8 absolute on the penalties (which start at 0)
    np.testing.assert_allclose(b, a, rtol=1e-7, atol=1e-8)


def test_bad_replica_count_is_one_line(tiny_dataset, tmp_path):
    env = dict(os.environ, CODESIGN_CPU_REPLICAS="two")
    proc = subprocess.run([sys.executable, "-m", "codesign.cli", "train", "--data", str(tiny_dataset), "--mode", "e2e",
                           "--out", str(tmp_path / "run")], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == "error: CODESIGN_CPU_REPLICAS='two': expected an integer >= 1"
