"""Training configuration: the run's settings (typed, serialised in run.json) and the paper's hyperparameters."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from codesign.errors import InputError

MODES = ("sequential", "e2e")
# Sequential training optimises one block at a time (upstream frozen); end-to-end all at once.
STAGES = {"sequential": ("quantiser", "cnn", "calibration"), "e2e": ("e2e",)}
# Epochs per stage of each preset; the learning rate halves every quarter of them (paper: 1000, every 250).
PRESET_EPOCHS = {"smoke": 6, "small": 100, "paper": 1000}


@dataclass(frozen=True)
class Hyper:
    """The paper's hyperparameters (sections 3.3-3.7), fixed for every run."""

    learning_rate: float = 1e-3
    lr_halvings: int = 4  # the rate halves every ceil(epochs / lr_halvings) epochs
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
    """One training run: what `codesign train` was asked for; a rerun must ask for the same."""

    spec: str
    data: str
    mode: str
    preset: str = "smoke"
    epochs: int | None = None  # per stage; None = the preset's
    seed: int = 0
    batch_size: int = 128
    max_steps_per_epoch: int | None = None  # cap on training (and validation) batches per epoch

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise InputError(f"--mode {self.mode!r}: expected one of {', '.join(MODES)}")
        if self.preset not in PRESET_EPOCHS:
            raise InputError(f"--preset {self.preset!r}: expected one of {', '.join(PRESET_EPOCHS)}")
        for name, value in (("--epochs", self.epochs), ("--batch-size", self.batch_size),
                            ("--max-steps-per-epoch", self.max_steps_per_epoch)):
            if value is not None and value < 1:
                raise InputError(f"{name} {value}: expected an integer >= 1")
        if self.seed < 0:
            raise InputError(f"--seed {self.seed}: expected an integer >= 0")

    @property
    def n_epochs(self) -> int:
        """Epochs per stage."""
        return self.epochs if self.epochs is not None else PRESET_EPOCHS[self.preset]

    @property
    def halve_every(self) -> int:
        """Epochs between learning-rate halvings (a quarter of the run, as 250 of the paper's 1000)."""
        return -(-self.n_epochs // HYPER.lr_halvings)

    @property
    def stages(self) -> tuple[str, ...]:
        return STAGES[self.mode]

    def learning_rate(self, epoch: int) -> float:
        return HYPER.learning_rate * 0.5 ** (epoch // self.halve_every)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> "TrainConfig":
        return cls(**obj)
