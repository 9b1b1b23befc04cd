"""The training loop: Adam with the paper's schedule, best-validation checkpoints, resumable after a kill.

Every epoch ends with a checkpoint of the weights, the optimisers and the position (stage,
epoch, best validation loss); a rerun with the same settings restores it and continues. The
data order depends only on (dataset, seed, epoch) and no op is random, so a resumed run ends
with the same weights as an uninterrupted one.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from codesign.data.reader import Dataset
from codesign.errors import InputError
from codesign.derived import DerivedParams, derive
from codesign.spec import Spec, load_spec
from codesign.train.config import TrainConfig
from codesign.train.distribute import replica_share, training_strategy
from codesign.train.model import TriggerChain, build_model
from codesign.train.objectives import Batch, Objective
from codesign.train.rundir import RunDir, write_json
from codesign.train.tf_setup import DTYPE, tf

SPLITS = ("train", "val", "test")


def open_dataset(data: str | Path, spec: Spec) -> Dataset:
    """The dataset, checked to fit the spec's detector and to have events in every split."""
    ds = Dataset(data)
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

    @classmethod
    def open(cls, config: TrainConfig, out: Path, log: Callable[[str], None] = print) -> "Trainer":
        """Check the inputs, create or reopen the run directory and build the seeded model."""
        spec = load_spec(config.spec)
        derived = derive(spec)
        ds = open_dataset(config.data, spec)
        strategy = training_strategy()
        run = RunDir(Path(out))
        run.start(config, spec, Path(config.spec).read_text(), ds.content_hash)
        if strategy.num_replicas_in_sync > 1:
            log(f"data-parallel training: {type(strategy).__name__} over {strategy.num_replicas_in_sync} replicas "
                f"({', '.join(strategy.extended.worker_devices)})")
        with strategy.scope():
            model = build_model(spec, derived, config.seed)
        return cls(config, run, spec, derived, ds, model, strategy, log)

    # ------------------------------------------------------------------ pieces

    def _objective(self) -> Objective:
        g = self.dataset.geometry
        return Objective(self.model, g.eta_edges(), g.phi_edges(), g.eta_max)

    def _batches(self, split: str, epoch: int):
        cfg = self.config
        if split == "train":
            it = self.dataset.batches("train", cfg.batch_size, pileup="fresh", epoch=epoch, shuffle=True, seed=cfg.seed)
        else:
            # frozen pile-up and a fixed shuffle: every epoch sees the same class-mixed batches
            it = self.dataset.batches("val", cfg.batch_size, pileup="frozen", shuffle=True, seed=cfg.seed)
        for i, batch in enumerate(it):
            if cfg.max_steps_per_epoch is not None and i >= cfg.max_steps_per_epoch:
                return
            yield Batch.of(batch)

    def _functions(self, objective: Objective, stage: str, optimizer: tf.keras.optimizers.Optimizer):
        variables = objective.variables(stage)
        d = self.derived
        signature = [Batch.signature((d.n_layers, d.eta_bins, d.phi_bins), self._max_jets())]

        strategy = self.strategy
        sum_op = tf.distribute.ReduceOp.SUM

        def replica_train(b: Batch):
            with tf.GradientTape() as tape:
                parts = objective(stage, replica_share(b))
            grads = tape.gradient(parts["loss"], variables)
            optimizer.apply_gradients([(g, v) for g, v in zip(grads, variables) if g is not None])
            return parts

        @tf.function(input_signature=signature)
        def train_step(b: Batch):
            parts = strategy.run(replica_train, args=(b,))  # every replica gets b and keeps its share
            return {k: strategy.reduce(sum_op, v, axis=None) for k, v in parts.items()}

        @tf.function(input_signature=signature)
        def eval_step(b: Batch):
            parts = strategy.run(lambda b: objective(stage, replica_share(b)), args=(b,))
            return {k: strategy.reduce(sum_op, v, axis=None) for k, v in parts.items()}

        return train_step, eval_step

    def _max_jets(self) -> int:
        return int(self.dataset.card["truth_jets"]["max_jets"])

    def _epoch(self, step, batches) -> dict[str, float]:
        """Mean of each loss part over the batches (weighted by batch size)."""
        sums: dict[str, float] = {}
        n = 0
        for b in batches:
            parts = step(b)
            size = int(b.label.shape[0])
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
        objective = self._objective()
        with self.strategy.scope():
            optimizers = {s: tf.keras.optimizers.Adam(cfg.learning_rate(0)) for s in cfg.stages}
            for s, opt in optimizers.items():
                opt.build(objective.variables(s))
        position = {"stage": tf.Variable(0, dtype=tf.int64), "epoch": tf.Variable(0, dtype=tf.int64),
                    "best": tf.Variable(math.inf, dtype=DTYPE)}
        last = tf.train.CheckpointManager(tf.train.Checkpoint(model=self.model, **optimizers, **position),
                                          str(run.path("ckpt", "last")), max_to_keep=1)
        best = tf.train.CheckpointManager(tf.train.Checkpoint(model=self.model), str(run.path("ckpt", "best")),
                                          max_to_keep=1)
        history_path = run.path("history.json")
        history: list[dict] = []
        if last.latest_checkpoint:
            last.checkpoint.restore(last.latest_checkpoint).assert_existing_objects_matched()
            done = (int(position["stage"].numpy()), int(position["epoch"].numpy()))
            history = [h for h in json.loads(history_path.read_text())
                       if (h["stage_index"], h["epoch"]) < done] if history_path.exists() else []
            self.log(f"resuming {run.root} at stage {cfg.stages[done[0]]}, epoch {done[1] + 1}"
                     if done[0] < len(cfg.stages) else f"{run.root} has finished training")
        writer = tf.summary.create_file_writer(str(run.path("tensorboard")))
        with run.path("train.log").open("a") as log_file:
            for stage_index in range(int(position["stage"].numpy()), len(cfg.stages)):
                stage = cfg.stages[stage_index]
                train_step, eval_step = self._functions(objective, stage, optimizers[stage])
                for epoch in range(int(position["epoch"].numpy()), cfg.n_epochs):
                    t0 = time.perf_counter()
                    lr = cfg.learning_rate(epoch)
                    optimizers[stage].learning_rate.assign(lr)
                    train = self._epoch(train_step, self._batches("train", stage_index * cfg.n_epochs + epoch))
                    val = self._epoch(eval_step, self._batches("val", 0))
                    improved = val["loss"] < float(position["best"].numpy())
                    if improved:
                        position["best"].assign(val["loss"])
                        best.save()
                    history.append({"stage": stage, "stage_index": stage_index, "epoch": epoch, "lr": lr,
                                    "train": train, "val": val, "best": bool(improved)})
                    write_json(history_path, history)
                    position["epoch"].assign(epoch + 1)
                    last.save()
                    step = stage_index * cfg.n_epochs + epoch
                    with writer.as_default():
                        for name, parts in (("train", train), ("val", val)):
                            for k, v in parts.items():
                                tf.summary.scalar(f"{stage}/{name}_{k}", v, step=step)
                        tf.summary.scalar(f"{stage}/learning_rate", lr, step=step)
                    line = (f"[{stage}] epoch {epoch + 1}/{cfg.n_epochs}: train loss {train['loss']:.6g}, "
                            f"val loss {val['loss']:.6g}, lr {lr:.3g}, {time.perf_counter() - t0:.1f} s"
                            + (" (best)" if improved else ""))
                    self.log(line)
                    log_file.write(line + "\n")
                    log_file.flush()
                    if on_epoch_end is not None:
                        on_epoch_end(stage, epoch)
                best.checkpoint.restore(best.latest_checkpoint).assert_existing_objects_matched()
                position["stage"].assign(stage_index + 1)
                position["epoch"].assign(0)
                position["best"].assign(math.inf)
                last.save()
        writer.close()
        save_weights(self.model, run)
        run.set_status("trained")
        return history


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
    tf.train.Checkpoint(model=model).read(str(run.path("model", "weights"))).assert_existing_objects_matched()
    return model, config, spec, derived


def weight_values(model: TriggerChain) -> dict[str, np.ndarray]:
    """Every variable's value by name (tests compare runs with it)."""
    return {v.name: v.numpy() for v in model.variables}
