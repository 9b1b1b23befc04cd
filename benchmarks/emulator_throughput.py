"""Benchmark: bit-accurate emulator (whole chain) vs TensorFlow float inference of the same CNN.

Each configuration runs in its own process so thread limits apply from start-up (TensorFlow
fixes its thread pools at initialisation). Prints a table with machine, versions and date.

    .venv/bin/python benchmarks/emulator_throughput.py [--events 512] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
from machine import header

SPEC = "constraints/hl-lhc-multijet.yaml"


def _images(n: int, seed: int = 0) -> np.ndarray:
    """Pile-up-like E_T images in GeV: exponential noise in 90 % of cells plus a few jets."""
    rng = np.random.default_rng(seed)
    img = rng.exponential(0.5, size=(n, 2, 50, 64)) * (rng.random((n, 2, 50, 64)) < 0.9)
    rows, cols = rng.integers(0, 50, (n, 4)), rng.integers(0, 64, (n, 4))
    for ev in range(n):
        img[ev, :, rows[ev], cols[ev]] += rng.exponential(50.0, 4)[:, None]
    return img


def _bundle():
    from codesign.bundles import random_bundle
    from codesign.derived import derive
    from codesign.spec import load_spec

    return random_bundle(derive(load_spec(SPEC)), 0)


def run_emulator(n_events: int, repeats: int) -> float:
    from emulation.chain import run_chain
    from emulation.fixed import from_float

    bundle = _bundle()
    et = from_float(_images(n_events), bundle.formats["et_in"])
    run_chain(bundle, et[:8])  # compile / load the numba cache
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for start in range(0, n_events, 128):
            run_chain(bundle, et[start:start + 128])
        best = min(best, time.perf_counter() - t0)
    return n_events / best


def float_cnn(bundle):
    """Keras float model of the CNN block with the bundle's weights (as real numbers)."""
    import tensorflow as tf

    from emulation.fixed import to_float

    f, c = bundle.formats, bundle.cnn
    k = to_float(c.dw_kernel, f["conv_w"])  # (L, 4, taps)
    kern = np.zeros((3, 3, 2, 4))
    for layer in range(2):
        for m in range(4):
            c0, e, p, q = k[layer, m]
            kern[:, :, layer, m] = [[q, e, q], [p, c0, p], [q, e, q]]
    x_in = tf.keras.Input((50, 64, 2))
    padded = tf.keras.layers.Lambda(lambda x: tf.pad(tf.concat([x[:, :, -1:], x, x[:, :, :1]], axis=2),
                                                     [[0, 0], [1, 1], [0, 0], [0, 0]]))(x_in)
    dw = tf.keras.layers.DepthwiseConv2D(3, depth_multiplier=4, activation="relu")
    feats = dw(padded)
    log_eta = to_float(c.log_eta, f["log_eta"]).astype(np.float32)
    eta_map = tf.keras.layers.Lambda(
        lambda t: tf.broadcast_to(tf.constant(log_eta)[None, :, None, None], tf.concat([tf.shape(t)[:3], [1]], 0)))(feats)
    h = tf.keras.layers.Concatenate()([feats, eta_map])
    d1 = tf.keras.layers.Dense(32, activation="relu")
    d2 = tf.keras.layers.Dense(32, activation="relu")
    d3 = tf.keras.layers.Dense(2, activation="hard_sigmoid")
    w = d3(d2(d1(h)))
    e_pred = tf.keras.layers.Lambda(lambda t: tf.reduce_sum(t[0] * t[1], axis=-1))([w, x_in])
    model = tf.keras.Model(x_in, e_pred)
    dw.set_weights([kern, to_float(c.dw_bias, f["conv_b"]).reshape(-1)])
    d1.set_weights([to_float(c.dense1_w, f["dense_w"]), to_float(c.dense1_b, f["dense_b"])])
    d2.set_weights([to_float(c.dense2_w, f["dense_w"]), to_float(c.dense2_b, f["dense_b"])])
    d3.set_weights([to_float(c.dense3_w, f["dense_w"]), to_float(c.dense3_b, f["dense_b"])])
    return model


def run_tensorflow(n_events: int, repeats: int, threads: int) -> float:
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    model = float_cnn(_bundle())
    images = _images(n_events).transpose(0, 2, 3, 1).astype(np.float32)
    infer = tf.function(lambda x: model(x, training=False))
    infer(images[:128])
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for start in range(0, n_events, 128):
            infer(images[start:start + 128]).numpy()
        best = min(best, time.perf_counter() - t0)
    return n_events / best


def _worker(args: argparse.Namespace) -> None:
    if args.worker == "emulator":
        rate = run_emulator(args.events, args.repeats)
    else:
        rate = run_tensorflow(args.events, args.repeats, args.threads)
    print(json.dumps({"events_per_s": rate}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--worker", choices=["emulator", "tensorflow"], help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        _worker(args)
        return
    cores = os.cpu_count() or 1
    rows = []
    for name, worker in (("emulator, whole chain (numba, bit-accurate)", "emulator"),
                         ("TensorFlow float, CNN only", "tensorflow")):
        for threads in sorted({1, cores}):
            env = dict(os.environ, NUMBA_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
                       OPENBLAS_NUM_THREADS=str(threads), TF_CPP_MIN_LOG_LEVEL="3")
            cmd = [sys.executable, __file__, "--worker", worker, "--threads", str(threads),
                   "--events", str(args.events), "--repeats", str(args.repeats)]
            out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
            rate = json.loads(out.strip().splitlines()[-1])["events_per_s"]
            rows.append((name, threads, rate))
    print(header("emulator throughput", ("numpy", "numba", "tensorflow-cpu")))
    print(f"# {args.events} events per pass, best of {args.repeats}, spec {SPEC}")
    print(f"| {'implementation':45s} | threads | events/s |")
    print(f"|{'-' * 47}|---------|----------|")
    for name, threads, rate in rows:
        print(f"| {name:45s} | {threads:7d} | {rate:8.0f} |")


if __name__ == "__main__":
    main()
