"""Training configuration: the run's settings (typed, serialised in run.json) and the paper's hyperparameters."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from codesign.errors import InputError

MODES = ("sequential", "e2e", "e2e-calibration")
# Sequential training optimises one block at a time (upstream frozen); end-to-end all at once;
# e2e-calibration (an ablation) trains only the calibration and the trigger splines on the e2e loss.
STAGES = {"sequential": ("quantiser", "cnn", "calibration"), "e2e": ("e2e",), "e2e-calibration": ("e2e_calibration",)}


@dataclass(frozen=True)
class Schedule:
    """Optimiser steps per stage and the learning rate's halving interval, in steps."""

    steps: int
    halving_steps: int


# The paper trains 1000 epochs of its 360,000 training events (batch 128: 2,812.5 steps each) with
# the rate halved every 250 epochs. "small" is 100 epochs of the small dataset (72,000 training
# events, 562.5 steps each), "smoke" about 7 epochs of the smoke dataset (5,600); each halves 4 times.
PRESETS = {"smoke": Schedule(300, 75), "small": Schedule(56_250, 14_063), "paper": Schedule(2_812_500, 703_125)}


@dataclass(frozen=True)
class Hyper:
    """The paper's hyperparameters (sections 3.3-3.7), fixed for every run."""

    learning_rate: float = 1e-3
    lr_halvings: int = 4  # without a preset schedule, the rate halves every ceil(steps / lr_halvings) steps
    quantiser_init_width_gev: float = 0.4
    quantiser_temperature: float = 50.0  # T of the soft surrogate sum_i c_i softmax(-T |x - c_i|)
    quantiser_window: int = 4  # levels either side of the nearest one in the surrogate (the rest weigh < e^-(T*4*Delta))
    quantiser_lambda: float = 1e-3
    seed_threshold_gev: float = 0.0  # clusterer seeds: local maxima above this (paper: none)
    seed_softness_gev: float = 1.0  # sigmoid width of the seed surrogate's gradient
    match_dr: float = 0.3  # R_max of the calibration loss D_C
    truth_pt_min_gev: float = 20.0
    alpha: float = 5e-4  # weight of D_C in the end-to-end loss
    spline_knots: int = 16
    spline_lambda: float = 1e-3
    calib_hidden: int = 64


HYPER = Hyper()


@dataclass(frozen=True)
class TrainConfig:
    """One training run: what `codesign train` was asked for; a rerun must ask for the same.

    Steps per stage: `steps`, else `epochs` passes over the training split, else the preset's.
    The learning rate halves every `lr_halving_steps`, else every preset interval (with the
    preset's steps), else every quarter of the run. Validation and checkpoints follow each epoch.
    """

    spec: str
    data: str
    mode: str
    preset: str = "smoke"
    epochs: int | None = None  # per stage, instead of the preset's steps
    seed: int = 0
    batch_size: int = 128
    max_steps_per_epoch: int | None = None  # cap on training (and validation) batches per epoch
    steps: int | None = None  # optimiser steps per stage, instead of the preset's
    lr_halving_steps: int | None = None
    early_stopping: int | None = None  # end a stage after this many validations without improvement
    background: str | None = None  # background process trained against (default: the dataset configuration's)
    init_from: str | None = None  # a finished run on the same dataset whose weights start this one
    seg_gradient_leak: float = 0.0  # hard-sigmoid slope outside its band in the backward pass (0: the paper's)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise InputError(f"--mode {self.mode!r}: expected one of {', '.join(MODES)}")
        if self.preset not in PRESETS:
            raise InputError(f"--preset {self.preset!r}: expected one of {', '.join(PRESETS)}")
        for name, value in (("--epochs", self.epochs), ("--batch-size", self.batch_size),
                            ("--max-steps-per-epoch", self.max_steps_per_epoch), ("--steps", self.steps),
                            ("--lr-halving-steps", self.lr_halving_steps), ("--early-stopping", self.early_stopping)):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise InputError(f"{name} {value}: expected an integer >= 1")
        if self.seed < 0:
            raise InputError(f"--seed {self.seed}: expected an integer >= 0")
        for name, value in (("--background", self.background), ("--init-from", self.init_from)):
            if value is not None and (not isinstance(value, str) or not value):
                raise InputError(f"{name} {value!r}: expected a non-empty string")
        leak = self.seg_gradient_leak
        if isinstance(leak, bool) or not isinstance(leak, (int, float)) or not 0.0 <= leak <= 1.0:
            raise InputError(f"--seg-gradient-leak {leak!r}: expected a number in [0, 1]")
        if self.steps is not None and self.epochs is not None:
            raise InputError("--steps and --epochs both given: expected one of them")

    def steps_per_epoch(self, train_events: int) -> int:
        """Optimiser steps in one pass over the training split (capped by max_steps_per_epoch)."""
        n = -(-train_events // self.batch_size)
        return min(n, self.max_steps_per_epoch) if self.max_steps_per_epoch is not None else n

    def schedule(self, train_events: int) -> Schedule:
        """Steps per stage and halving interval for a training split of `train_events` events."""
        preset = PRESETS[self.preset]
        if self.steps is None and self.epochs is None:
            steps = preset.steps
            halving = self.lr_halving_steps or preset.halving_steps
        else:
            steps = self.steps if self.steps is not None else self.epochs * self.steps_per_epoch(train_events)
            halving = self.lr_halving_steps or -(-steps // HYPER.lr_halvings)
        return Schedule(steps, halving)

    @property
    def stages(self) -> tuple[str, ...]:
        return STAGES[self.mode]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> "TrainConfig":
        return cls(**obj)


def learning_rate(step: int, halving_steps: int) -> float:
    """The rate at optimiser step `step` (from 0): 1e-3 halved every `halving_steps`."""
    return HYPER.learning_rate * 0.5 ** (step // halving_steps)


def summed_learning_rate(steps: int, halving_steps: int) -> float:
    """Sum of the rate over the first `steps` steps: compares the training budgets of short and long runs."""
    full, rest = divmod(steps, halving_steps)
    return HYPER.learning_rate * (halving_steps * (2.0 - 2.0 * 0.5 ** full) + rest * 0.5 ** full)
