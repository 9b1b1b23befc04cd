"""The training loop: Adam with the paper's schedule in steps, best-validation checkpoints, resumable after a kill.

Every epoch ends with a checkpoint of the weights, the optimisers and the position (stage,
epoch, best validation loss); a rerun with the same settings restores it and continues. The
data order depends only on (dataset, seed, epoch) and no op is random, so a resumed run ends
with the same weights as an uninterrupted one.

Speed: each step is compiled with XLA, once per CNN number type (`CnnTypes`, from the current
weights), and batches are read in a background thread while the step runs.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from codesign.data.prefetch import prefetch
from codesign.data.reader import Dataset
from codesign.errors import InputError
from codesign.derived import DerivedParams, derive
from codesign.spec import Spec, load_spec
from codesign.train.cnn import CnnTypes
from codesign.train.config import Schedule, TrainConfig, learning_rate, summed_learning_rate
from codesign.train.distribute import replica_share, training_strategy
from codesign.train.finetune import check_base_run, copy_weights
from codesign.train.model import TriggerChain, build_model
from codesign.train.objectives import Batch, Objective
from codesign.train.rundir import RunDir, write_json
from codesign.train.tf_setup import DTYPE, SHARES, tf

SPLITS = ("train", "val", "test")
# Blocks of the dataset kept in memory after their first read (a batch then costs ~6 ms, not ~40):
# about 13 MB for the smoke preset, 190 MB for small, 0.9 GB for paper.
CACHE_MB = 2048


def open_dataset(data: str | Path, spec: Spec) -> Dataset:
    """The dataset, checked to fit the spec's detector and to have events in every split."""
    ds = Dataset(data, cache_mb=CACHE_MB)
    d = spec.detector
    g = ds.geometry
    if (g.eta_bins, g.phi_bins, g.eta_max) != (d.eta_bins, d.phi_bins, d.eta_max):
        raise InputError(f"dataset {str(data)!r} has {g.eta_bins}x{g.phi_bins} cells over |eta| < {g.eta_max}, "
                         f"spec {spec.name!r} expects {d.eta_bins}x{d.phi_bins} over |eta| < {d.eta_max}")
    layers = tuple(ds.card["geometry"].get("layers", ()))
    if layers != d.layers:
        raise InputError(f"dataset {str(data)!r} has layers {list(layers)}, spec {spec.name!r} expects {list(d.layers)}")
    for split in SPLITS:
        if ds.count(split) == 0:
            raise InputError(f"dataset {str(data)!r} has no events in the {split} split")
    if not ds.signal_processes or not ds.background_processes:
        raise InputError(f"dataset {str(data)!r} needs signal and background processes "
                         f"(has {', '.join(ds.processes)})")
    return ds


@dataclass
class Trainer:
    """One run: model, optimisers, checkpoints and the epoch loop."""

    config: TrainConfig
    run: RunDir
    spec: Spec
    derived: DerivedParams
    dataset: Dataset
    model: TriggerChain
    strategy: tf.distribute.Strategy
    log: Callable[[str], None] = print
    _val_batches: list[Batch] | None = field(default=None, init=False, repr=False)

    @classmethod
    def open(cls, config: TrainConfig, out: Path, log: Callable[[str], None] = print) -> "Trainer":
        """Check the inputs, create or reopen the run directory and build the seeded model."""
        spec = load_spec(config.spec)
        derived = derive(spec)
        ds = open_dataset(config.data, spec)
        ds.trigger_processes(config.background)  # a background the dataset lacks fails before the run starts
        if config.init_from is not None:
            check_base_run(Path(config.init_from), ds.content_hash, config.data, "--init-from")
        strategy = training_strategy()
        run = RunDir(Path(out))
        run.start(config, spec, Path(config.spec).read_text(), ds.content_hash)
        if strategy.num_replicas_in_sync > 1:
            log(f"data-parallel training: {type(strategy).__name__} over {strategy.num_replicas_in_sync} replicas "
                f"({', '.join(strategy.extended.worker_devices)})")
        with strategy.scope():
            model = build_model(spec, derived, config.seed)
        model.denoiser.seg_gradient_leak = config.seg_gradient_leak
        if config.init_from is not None:  # a resumed run then restores its own checkpoint over these
            skipped = copy_weights(load_trained(RunDir(Path(config.init_from)))[0], model)
            log(f"starting from the weights of {config.init_from}" + (
                f"; seeded start kept for {', '.join(skipped)} (other shape)" if skipped else ""))
        return cls(config, run, spec, derived, ds, model, strategy, log)

    # ------------------------------------------------------------------ pieces

    def _objective(self) -> Objective:
        g = self.dataset.geometry
        return Objective(self.model, g.eta_edges(), g.phi_edges(), g.eta_max,
                         shares=SHARES if self.strategy.num_replicas_in_sync == 1 else 0)

    def _batches(self, split: str, epoch: int, limit: int | None = None):
        """Batches of the training split (fresh pile-up of `epoch`) or of the validation split, read ahead."""
        cfg = self.config
        processes = self.dataset.trigger_processes(cfg.background)
        if split == "train":
            it = self.dataset.batches("train", cfg.batch_size, processes, pileup="fresh", epoch=epoch, shuffle=True,
                                      seed=cfg.seed)
        else:
            # frozen pile-up and a fixed shuffle: every epoch sees the same class-mixed batches
            it = self.dataset.batches("val", cfg.batch_size, processes, pileup="frozen", shuffle=True, seed=cfg.seed)
        if cfg.max_steps_per_epoch is not None:
            limit = min(limit, cfg.max_steps_per_epoch) if limit is not None else cfg.max_steps_per_epoch

        def batches():
            for i, batch in enumerate(it):
                if limit is not None and i >= limit:
                    return
                yield Batch.of(batch, cfg.batch_size)

        return prefetch(batches(), depth=2)

    def _validation_batches(self) -> Iterable[Batch]:
        """The validation batches: read (ahead) in the first epoch, then kept; they never change (frozen pile-up, fixed order).

        Keeping them (about 0.9 GB for the small preset, 4.6 GB for paper) spares every later epoch the reading, overlay and response.
        """
        if self._val_batches is not None:
            return self._val_batches

        def keeping():
            kept = []
            for b in self._batches("val", 0):
                kept.append(b)
                yield b
            self._val_batches = kept

        return keeping()

    def schedule(self) -> Schedule:
        """Steps per stage and the learning rate's halving interval for this run's training split."""
        return self.config.schedule(self._train_events())

    def _train_events(self) -> int:
        """Events of the training split that the run reads (the signals and its background)."""
        return sum(self.dataset.count("train", p) for p in self.dataset.trigger_processes(self.config.background))

    def _signature(self) -> list[Batch]:
        d = self.derived
        return [Batch.signature(self.config.batch_size, (d.n_layers, d.eta_bins, d.phi_bins), self._max_jets())]

    def _functions(self, objective: Objective, stage: str, optimizer: tf.keras.optimizers.Optimizer):
        """(train_step(batch, types), eval_step(batch, types)): one compiled function per CnnTypes.

        On one device the frozen blocks run before the tape, like every evaluation without
        surrogates, as XLA computations over concurrent event shares (`Objective.per_event`). The
        loss and its gradients are one more XLA computation, except where their heavy part is per
        event (the CNN stage, the e2e recomputation under the selected windows): that part runs in
        shares too. Data-parallel replicas (which all-reduce inside the loss) run as plain graphs.
        """
        variables = objective.variables(stage)
        strategy = self.strategy
        sum_op = tf.distribute.ReduceOp.SUM
        xla = strategy.num_replicas_in_sync == 1
        cache: dict[tuple[CnnTypes, str], Callable] = {}

        def compiled(types: CnnTypes, kind: str) -> Callable:
            key = (types, kind)
            if key in cache:
                return cache[key]

            def loss_gradients(b: Batch, frozen: dict[str, tf.Tensor]):
                with tf.GradientTape() as tape:
                    parts = objective.loss(stage, b, types, frozen, soft=True)
                return parts, tape.gradient(parts["loss"], variables)

            def evaluate_loss(b: Batch, frozen: dict[str, tf.Tensor]):
                return objective.loss(stage, b, types, frozen, soft=False)

            rest = loss_gradients if kind == "train" else evaluate_loss
            if xla and not objective.shares_inside(stage, soft=kind == "train"):
                rest = tf.function(rest, jit_compile=True)

            def inner(b: Batch):
                frozen = objective.frozen(stage, b, types)
                if stage == "cnn" and kind == "train":
                    return objective.cnn_gradients(b, types, frozen)
                return rest(b, frozen)

            def replica_train(b: Batch):
                parts, grads = inner(replica_share(b))
                optimizer.apply_gradients([(g, v) for g, v in zip(grads, variables) if g is not None])
                return parts

            def replica_eval(b: Batch):
                return inner(replica_share(b))

            replica = replica_train if kind == "train" else replica_eval

            @tf.function(input_signature=self._signature())
            def step(b: Batch):
                parts = strategy.run(replica, args=(b,))  # every replica gets b and keeps its share
                return {k: strategy.reduce(sum_op, v, axis=None) for k, v in parts.items()}

            cache[key] = step
            return step

        cnn_trained = stage in ("cnn", "e2e")
        fixed_types: list[CnnTypes] = []

        def types_now() -> CnnTypes:
            """The CNN's exact types: re-read after every step while the CNN trains, once otherwise."""
            if cnn_trained or not fixed_types:
                fixed_types[:] = [self.model.cnn_types()]
            return fixed_types[0]

        def train_step(b: Batch):
            return compiled(types_now(), "train")(b)

        def eval_step(b: Batch):
            return compiled(types_now(), "eval")(b)

        return train_step, eval_step

    def _max_jets(self) -> int:
        return int(self.dataset.card["truth_jets"]["max_jets"])

    def _epoch(self, step, batches) -> dict[str, float]:
        """Mean of each loss part over the batches (weighted by batch size)."""
        sums: dict[str, float] = {}
        n = 0
        for b in batches:
            parts = step(b)
            size = b.events
            for k, v in parts.items():
                sums[k] = sums.get(k, 0.0) + float(v) * size
            n += size
        return {k: v / n for k, v in sums.items()}

    # ------------------------------------------------------------------ the loop

    def train(self, on_epoch_end: Callable[[str, int], None] | None = None) -> list[dict]:
        """Run (or resume) every stage; the model ends with the best validation weights of the last stage.

        Returns the history (one entry per epoch). `on_epoch_end(stage, epoch)` runs after each
        epoch's checkpoint (tests use it to interrupt a run).
        """
        cfg, run = self.config, self.run
        sched = self.schedule()
        per_epoch = cfg.steps_per_epoch(self._train_events())
        n_epochs = -(-sched.steps // per_epoch)
        objective = self._objective()
        with self.strategy.scope():
            optimizers = {s: tf.keras.optimizers.Adam(learning_rate(0, sched.halving_steps)) for s in cfg.stages}
            for s, opt in optimizers.items():
                opt.build(objective.variables(s))
        position = {"stage": tf.Variable(0, dtype=tf.int64), "epoch": tf.Variable(0, dtype=tf.int64),
                    "best": tf.Variable(math.inf, dtype=DTYPE), "stale": tf.Variable(0, dtype=tf.int64),
                    "steps": tf.Variable(sched.steps, dtype=tf.int64),
                    "halving_steps": tf.Variable(sched.halving_steps, dtype=tf.int64)}
        last = tf.train.CheckpointManager(tf.train.Checkpoint(model=self.model, **optimizers, **position),
                                          str(run.path("ckpt", "last")), max_to_keep=1)
        best = tf.train.CheckpointManager(tf.train.Checkpoint(model=self.model), str(run.path("ckpt", "best")),
                                          max_to_keep=1)
        history_path = run.path("history.json")
        history: list[dict] = []
        if last.latest_checkpoint:
            restore(lambda: last.checkpoint.restore(last.latest_checkpoint), run, "ckpt/last")
            started = (int(position["steps"].numpy()), int(position["halving_steps"].numpy()))
            if started != (sched.steps, sched.halving_steps):
                raise InputError(f"run {str(run.root)!r} was started with {started[0]} steps per stage, the rate "
                                 f"halved every {started[1]}; the same settings now give {sched.steps} and "
                                 f"{sched.halving_steps} (the preset changed): use another --out")
            done = (int(position["stage"].numpy()), int(position["epoch"].numpy()))
            history = [h for h in json.loads(history_path.read_text())
                       if (h["stage_index"], h["epoch"]) < done] if history_path.exists() else []
            self.log(f"resuming {run.root} at stage {cfg.stages[done[0]]}, epoch {done[1] + 1}"
                     if done[0] < len(cfg.stages) else f"{run.root} has finished training")
        self.log(f"schedule: {sched.steps} steps per stage ({n_epochs} epochs of {per_epoch} steps, batch "
                 f"{cfg.batch_size}), learning rate {learning_rate(0, sched.halving_steps):g} halved every "
                 f"{sched.halving_steps} steps; summed learning rate {summed_learning_rate(sched.steps, sched.halving_steps):.4g}")
        writer = tf.summary.create_file_writer(str(run.path("tensorboard")))
        with run.path("train.log").open("a") as log_file:
            for stage_index in range(int(position["stage"].numpy()), len(cfg.stages)):
                stage = cfg.stages[stage_index]
                optimizer = optimizers[stage]
                train_step, eval_step = self._functions(objective, stage, optimizer)

                def one_step(b: Batch) -> dict:
                    optimizer.learning_rate.assign(learning_rate(int(optimizer.iterations.numpy()),
                                                                 sched.halving_steps))
                    return train_step(b)

                for epoch in range(int(position["epoch"].numpy()), n_epochs):
                    t0 = time.perf_counter()
                    steps = min(per_epoch, sched.steps - epoch * per_epoch)
                    train = self._epoch(one_step, self._batches("train", stage_index * n_epochs + epoch, steps))
                    val = self._epoch(eval_step, self._validation_batches())
                    done_steps = int(optimizer.iterations.numpy())
                    lr = learning_rate(done_steps - 1, sched.halving_steps)
                    summed = summed_learning_rate(done_steps, sched.halving_steps)
                    improved = val["loss"] < float(position["best"].numpy())
                    if improved:
                        position["best"].assign(val["loss"])
                        position["stale"].assign(0)
                        best.save()
                    else:
                        position["stale"].assign_add(1)
                    stop = cfg.early_stopping is not None and int(position["stale"].numpy()) >= cfg.early_stopping
                    history.append({"stage": stage, "stage_index": stage_index, "epoch": epoch, "lr": lr,
                                    "steps": done_steps, "summed_lr": summed, "train": train, "val": val,
                                    "best": bool(improved), "stopped_early": stop})
                    write_json(history_path, history)
                    position["epoch"].assign(n_epochs if stop else epoch + 1)
                    last.save()
                    with writer.as_default():
                        for name, parts in (("train", train), ("val", val)):
                            for k, v in parts.items():
                                tf.summary.scalar(f"{stage}/{name}_{k}", v, step=done_steps)
                        tf.summary.scalar(f"{stage}/learning_rate", lr, step=done_steps)
                        tf.summary.scalar(f"{stage}/summed_learning_rate", summed, step=done_steps)
                    seconds = time.perf_counter() - t0
                    line = (f"[{stage}] epoch {epoch + 1}/{n_epochs} (step {done_steps}/{sched.steps}): "
                            f"train loss {train['loss']:.6g}, val loss {val['loss']:.6g}, lr {lr:.3g}, "
                            f"summed lr {summed:.4g}, {seconds:.1f} s, {steps * cfg.batch_size / seconds:.0f} events/s"
                            + (" (best)" if improved else "")
                            + (f" (stopped: {cfg.early_stopping} validations without improvement)" if stop else ""))
                    self.log(line)
                    log_file.write(line + "\n")
                    log_file.flush()
                    if on_epoch_end is not None:
                        on_epoch_end(stage, epoch)
                    if stop:
                        break
                best.checkpoint.restore(best.latest_checkpoint).assert_existing_objects_matched()
                position["stage"].assign(stage_index + 1)
                position["epoch"].assign(0)
                position["best"].assign(math.inf)
                position["stale"].assign(0)
                last.save()
        writer.close()
        save_weights(self.model, run)
        run.set_status("trained")
        return history


def restore(load: Callable[[], Any], run: RunDir, what: str) -> None:
    """Restore a run's checkpoint (`load` returns the restore status); one line when another model wrote it."""
    try:
        load().assert_existing_objects_matched()
    except (AssertionError, ValueError, tf.errors.OpError) as exc:
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise InputError(f"run {str(run.root)!r}: {what} was written by another version of the model or the "
                         f"training loop ({first}): use another --out") from None


def save_weights(model: TriggerChain, run: RunDir) -> None:
    """The final weights under RUN/model (checkpoint format, written under a temp name then renamed)."""
    tmp = run.path(".model.tmp")
    tf.train.Checkpoint(model=model).write(str(tmp / "weights"))
    final = run.path("model")
    if final.exists():
        for f in final.iterdir():
            f.unlink()
        final.rmdir()
    tmp.rename(final)


def load_trained(run: RunDir) -> tuple[TriggerChain, TrainConfig, Spec, DerivedParams]:
    """The trained model of a finished run (one-line error when the run has not finished)."""
    doc = run.read()
    if doc.get("status") != "trained":
        raise InputError(f"run {str(run.root)!r} has not finished training (status {doc.get('status')!r}): "
                         f"rerun codesign train with the same settings to complete it")
    config = run.config()
    spec, derived = run.spec()
    model = build_model(spec, derived, config.seed)
    restore(lambda: tf.train.Checkpoint(model=model).read(str(run.path("model", "weights"))), run, "model")
    return model, config, spec, derived


def weight_values(model: TriggerChain) -> dict[str, np.ndarray]:
    """Every variable's value by name (tests compare runs with it)."""
    return {v.name: v.numpy() for v in model.variables}
