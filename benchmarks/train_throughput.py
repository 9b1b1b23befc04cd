"""Benchmark: QAT training events/s per mode and stage (data loading included), and each block's forward/backward time.

Every (stage, threads) configuration runs in its own process (TensorFlow fixes its thread pools
at start-up; `threads` = CODESIGN_THREADS, the number of concurrent single-threaded XLA computations
a step splits its events into, `codesign.train.shares`): it opens a fresh run on the dataset,
compiles the step and runs one epoch (not timed:
the first pass also fills the dataset's block cache, as in any run longer than an epoch), then
times `--steps` training steps as `codesign train` runs them, reading batches in the background
thread with fresh pile-up. Prints a table with machine, versions and date, and ends
with the line `e2e training: N events/s` (all cores, loading included) when e2e was measured.

    .venv/bin/python benchmarks/train_throughput.py --mode e2e --steps 30 [--data data/smoke]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import header

SPEC = "constraints/hl-lhc-multijet.yaml"
STAGES = {"e2e": ("e2e",), "sequential": ("quantiser", "cnn", "calibration")}


def _trainer(data: str, mode: str):
    from codesign.train.config import TrainConfig
    from codesign.train.loop import Trainer

    config = TrainConfig(spec=SPEC, data=data, mode=mode)
    return Trainer.open(config, Path(tempfile.mkdtemp()) / "run", log=lambda line: None)


def _steps(trainer, stage: str):
    import tensorflow as tf

    objective = trainer._objective()
    optimizer = tf.keras.optimizers.Adam(1e-3)
    optimizer.build(objective.variables(stage))
    return trainer._functions(objective, stage, optimizer)


def run_stage(data: str, mode: str, stage: str, steps: int) -> dict:
    """Training events/s of one stage, loading included (compilation excluded), and the loader's own cost."""
    trainer = _trainer(data, mode)
    train_step, _ = _steps(trainer, stage)
    per_epoch = trainer.config.steps_per_epoch(trainer.dataset.count("train"))
    full = trainer.dataset.count("train") // trainer.config.batch_size  # full batches of one epoch

    def batches():
        epoch = 0
        while True:
            for i, b in enumerate(trainer._batches("train", epoch, per_epoch)):
                if i < full:
                    yield b
            epoch += 1

    stream = batches()
    for _ in range(full):  # compile, then one pass that fills the dataset's block cache, as in a long run
        train_step(next(stream))
    events, t0, c0 = 0, time.perf_counter(), time.process_time()
    for _ in range(steps):
        b = next(stream)
        float(train_step(b)["loss"])
        events += b.events
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    stream.close()
    return {"events_per_s": events / wall, "cpu_ms_per_event": 1000 * cpu / events}


def run_blocks(data: str, repeats: int) -> list[tuple[str, float, float]]:
    """(block, forward ms, forward + backward ms) per batch of 128, each compiled with XLA on its own."""
    import tensorflow as tf

    trainer = _trainer(data, "e2e")
    m = trainer.model
    types = m.cnn_types()
    b = next(iter(trainer._batches("train", 0, 1)))
    raw = m.raw_input(b.image)
    et_dec = m.quantise_raw(raw)[0]
    e_pred = m.denoiser(et_dec, types)[0]
    clusters = m.clusterer(e_pred)
    hard = m.forward(b.image, types, chunked=True)

    def grad(loss_fn, variables, *inputs):
        def f(*args):
            with tf.GradientTape() as tape:
                tape.watch(args)
                loss = loss_fn(*args)
            return tape.gradient(loss, variables + [a for a in args if a.dtype.is_floating])
        return f

    cnn_vars, q_vars = m.group("cnn"), m.group("quantiser")
    cal_vars = m.group("calibration") + m.group("trigger")
    blocks = [
        ("quantisers (tables + every pixel)", lambda r: m.quantise_raw(r)[0],
         grad(lambda r: tf.reduce_sum(m.quantise_raw(r, True)[0]), q_vars), (raw,)),
        ("CNN, every pixel (forward in groups of 16 events)", lambda e: m.denoiser.chunked(e, types)[0],
         grad(lambda e: tf.reduce_sum(m.denoiser(e, types)[0]), cnn_vars), (et_dec,)),
        ("clusterer (the steps never differentiate it densely)", lambda e: m.clusterer(e)["cluster_pt"], None,
         (e_pred,)),
        ("calibration + trigger splines", lambda: m.trigger_outputs(clusters)["logit_pt1"],
         grad(lambda: tf.reduce_sum(m.trigger_outputs(clusters, True)["logit_pt1"]), cal_vars), ()),
        ("e2e: quantisers + CNN under the selected windows", None,
         grad(lambda: tf.reduce_sum(m.selected_cluster_pt(b.image, hard, types)), q_vars + cnn_vars), ()),
        ("whole chain, hard forward (evaluation)", lambda x: m.forward(x, types, chunked=True)["pt1"],
         None, (b.image,)),
    ]
    rows = []
    for name, forward, backward, inputs in blocks:
        times = []
        for fn in (forward, backward):
            if fn is None:
                times.append(float("nan"))
                continue
            compiled = tf.function(fn, jit_compile=True)
            compiled(*inputs)
            t0 = time.perf_counter()
            for _ in range(repeats):
                compiled(*inputs)
            times.append(1000 * (time.perf_counter() - t0) / repeats)
        rows.append((name, *times))
    return rows


def _worker(args: argparse.Namespace) -> None:
    if args.worker == "blocks":
        print(json.dumps(run_blocks(args.data, args.repeats)))
    else:
        mode = next(m for m, stages in STAGES.items() if args.worker in stages)
        print(json.dumps(run_stage(args.data, mode, args.worker, args.steps)))


def _child(args: argparse.Namespace, worker: str, threads: int):
    """Run one configuration in a fresh process limited to `threads` threads; its JSON result."""
    env = dict(os.environ, CODESIGN_THREADS=str(threads), NUMBA_NUM_THREADS=str(threads),
               OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads), TF_CPP_MIN_LOG_LEVEL="3")
    cmd = [sys.executable, __file__, "--worker", worker, "--data", args.data, "--steps", str(args.steps),
           "--repeats", str(args.repeats)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"error: {worker} on {threads} thread(s) failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", choices=["e2e", "sequential", "all"], default="all")
    ap.add_argument("--steps", type=int, default=30, help="timed training steps per configuration")
    ap.add_argument("--data", default="data/smoke", help="dataset (default data/smoke)")
    ap.add_argument("--threads", default=None, help="comma-separated thread counts (default: 1 and all cores)")
    ap.add_argument("--repeats", type=int, default=5, help="passes per block timing")
    ap.add_argument("--no-blocks", action="store_true", help="skip the per-block forward/backward table")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.steps < 1 or args.repeats < 1:
        sys.exit("error: --steps and --repeats: expected integers >= 1")
    if not (Path(args.data) / "card.json").is_file():
        sys.exit(f"error: --data {args.data!r}: no dataset there (codesign data generate --preset smoke --out DIR)")
    if args.worker:
        _worker(args)
        return
    cores = os.cpu_count() or 1
    threads = sorted({1, cores}) if args.threads is None else sorted({int(t) for t in args.threads.split(",")})
    stages = [s for mode, st in STAGES.items() if args.mode in (mode, "all") for s in st]
    rows = [(stage, n, _child(args, stage, n)) for stage in stages for n in threads]
    blocks = None if args.no_blocks else _child(args, "blocks", 1)
    print(header("QAT training throughput", ("tensorflow-cpu", "numpy", "numba")))
    print(f"# dataset {args.data}, spec {SPEC}, batch 128, {args.steps} timed steps per row after one warm-up "
          f"epoch; fresh pile-up read in a background thread (included)")
    print(f"| {'stage':12s} | threads | events/s | CPU ms per event |")
    print(f"|{'-' * 14}|---------|----------|------------------|")
    for stage, n, r in rows:
        print(f"| {stage:12s} | {n:7d} | {r['events_per_s']:8.0f} | {r['cpu_ms_per_event']:16.2f} |")
    if blocks is not None:
        print(f"\n# per block, batch of 128 events, one XLA computation on one thread, mean of {args.repeats}")
        print(f"| {'block':50s} | forward ms | forward + backward ms |")
        print(f"|{'-' * 52}|------------|-----------------------|")
        for name, fwd, both in blocks:
            print(f"| {name:50s} | {fwd:10.1f} | {both:21.1f} |")
    e2e = [r for stage, n, r in rows if stage == "e2e" and n == max(threads)]
    if e2e:
        print(f"e2e training: {e2e[0]['events_per_s']:.0f} events/s")


if __name__ == "__main__":
    main()
