"""Training options behind the physics ablations: e2e on the calibration and splines only, starting from
another run's weights, and the background a run trains against."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from codesign.cli import main
from codesign.data.reader import Dataset
from codesign.errors import InputError
from codesign.paths import DEFAULT_SPEC
from codesign.train.config import TrainConfig
from codesign.train.loop import Trainer

GROUPS = ("quantiser", "cnn", "calibration", "trigger")


def _config(data, mode, **kwargs) -> TrainConfig:
    return TrainConfig(spec=str(DEFAULT_SPEC), data=str(data), mode=mode, epochs=1, batch_size=16,
                       max_steps_per_epoch=1, **kwargs)


def _groups(trainer: Trainer) -> dict[str, list[np.ndarray]]:
    return {g: [v.numpy() for v in trainer.model.group(g)] for g in GROUPS}


def _equal(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a, b))


def test_e2e_calibration_from_a_sequential_run_moves_only_calibration_and_splines(tiny_dataset, tmp_path):
    base = Trainer.open(_config(tiny_dataset, "sequential"), tmp_path / "seq", log=lambda s: None)
    base.train()
    trained = _groups(base)
    lines: list[str] = []
    ablation = Trainer.open(_config(tiny_dataset, "e2e-calibration", init_from=str(tmp_path / "seq")),
                            tmp_path / "abl", log=lines.append)
    assert all(_equal(trained[g], v) for g, v in _groups(ablation).items())  # starts from the base's weights
    assert lines[0] == f"starting from the weights of {tmp_path / 'seq'}"
    history = ablation.train()
    assert [h["stage"] for h in history] == ["e2e_calibration"]
    after = _groups(ablation)
    for group in GROUPS:
        assert _equal(after[group], trained[group]) == (group in ("quantiser", "cnn")), group


def test_background_choice(tiny_dataset, tmp_path):
    ds = Dataset(tiny_dataset)
    assert ds.trigger_processes() == [*ds.signal_processes, "qcd"]
    with pytest.raises(InputError, match="background 'qcd_dijet': not in dataset .* \\(its backgrounds: qcd\\)"):
        ds.trigger_processes("qcd_dijet")


@pytest.mark.parametrize("extra, message", [
    (["--background", "qcd_dijet"], "background 'qcd_dijet': not in dataset"),
    (["--init-from", "NOWHERE"], "NOWHERE"),
])
def test_bad_ablation_options_are_one_line(tiny_dataset, tmp_path, extra, message):
    result = CliRunner().invoke(main, ["train", "--data", str(tiny_dataset), "--mode", "e2e", "--out",
                                       str(tmp_path / "r"), *extra])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr
    assert not (tmp_path / "r").exists()  # refused before the run directory is made
