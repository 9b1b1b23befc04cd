"""The training loop on tiny data: reproducible, resumable after an interruption, stages freeze upstream blocks,
and bad input is one line with exit code 2."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from codesign.cli import main
from codesign.derived import derive
from codesign.paths import DEFAULT_SPEC
from codesign.spec import load_spec
from codesign.train.config import TrainConfig
from codesign.train.loop import Trainer, weight_values
from codesign.train.model import build_model


@pytest.fixture(scope="module")
def spec_and_derived():
    spec = load_spec(DEFAULT_SPEC)
    return spec, derive(spec)


class Interrupted(Exception):
    """Stands for a kill between two epochs (the checkpoint of the epoch is written)."""


def _config(data, mode="e2e", epochs=2, seed=0, steps=1) -> TrainConfig:
    return TrainConfig(spec=str(DEFAULT_SPEC), data=str(data), mode=mode, epochs=epochs, seed=seed, batch_size=16,
                       max_steps_per_epoch=steps)


def _train(config, out, on_epoch_end=None):
    trainer = Trainer.open(config, out, log=lambda line: None)
    trainer.train(on_epoch_end)
    return trainer


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def whole(tiny_dataset, tmp_path_factory):
    """An uninterrupted two-epoch end-to-end run."""
    return _train(_config(tiny_dataset), tmp_path_factory.mktemp("train") / "whole")


def test_training_is_reproducible_and_resumes_after_an_interruption(whole, tiny_dataset, spec_and_derived, tmp_path):
    """A run cut after epoch 1 and resumed ends with the same weights as the uninterrupted run: both computed
    every epoch afresh from the same seed, so this also shows that training is reproducible."""
    initial = weight_values(build_model(*spec_and_derived, seed=0))
    assert not _same(weight_values(whole.model), initial)  # training moved the weights

    def stop(stage, epoch):
        raise Interrupted

    with pytest.raises(Interrupted):
        _train(_config(tiny_dataset), tmp_path / "cut", on_epoch_end=stop)
    assert json.loads((tmp_path / "cut" / "run.json").read_text())["status"] == "started"
    lines = []
    resumed = Trainer.open(_config(tiny_dataset), tmp_path / "cut", log=lines.append)
    history = resumed.train()
    assert lines[0].startswith("resuming") and "epoch 2" in lines[0]
    assert _same(weight_values(whole.model), weight_values(resumed.model))
    assert [h["epoch"] for h in history] == [0, 1]
    assert (tmp_path / "cut" / "history.json").read_bytes() == (whole.run.root / "history.json").read_bytes()
    assert any((whole.run.root / "tensorboard").iterdir())


@pytest.fixture(scope="module")
def sequential(tiny_dataset, tmp_path_factory):
    """A one-epoch sequential run: (trainer, history, weights at the start, weights after each stage)."""
    snapshots = {}

    def snap(stage, epoch):
        snapshots[stage] = {g: [v.numpy() for v in trainer.model.group(g)] for g in ("quantiser", "cnn", "calibration")}

    trainer = Trainer.open(_config(tiny_dataset, mode="sequential", epochs=1), tmp_path_factory.mktemp("seq") / "seq",
                           log=lambda s: None)
    start = {g: [v.numpy() for v in trainer.model.group(g)] for g in ("quantiser", "cnn", "calibration")}
    history = trainer.train(snap)
    return trainer, history, start, snapshots


def test_sequential_stages_move_only_their_block(sequential):
    trainer, history, start, snapshots = sequential
    assert [h["stage"] for h in history] == ["quantiser", "cnn", "calibration"]

    def moved(a, b):
        return not all(np.array_equal(x, y) for x, y in zip(a, b))

    order = [("start", start), *[(s, snapshots[s]) for s in ("quantiser", "cnn", "calibration")]]
    for (_, before), (stage, after) in zip(order, order[1:]):
        for group in ("quantiser", "cnn", "calibration"):
            assert moved(before[group], after[group]) == (group == stage), (stage, group)


def _assert_input_error(result, message):
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr


def _cli(*args):
    return CliRunner().invoke(main, list(args))


@pytest.mark.parametrize("args, message", [
    (["--mode", "joint"], "--mode 'joint': expected one of sequential, e2e"),
    (["--mode", "e2e", "--preset", "huge"], "--preset 'huge': expected one of smoke, small, paper"),
    (["--mode", "e2e", "--epochs", "0"], "--epochs 0: expected an integer >= 1"),
    (["--mode", "e2e", "--seg-gradient-leak", "-0.1"], "--seg-gradient-leak -0.1: expected a number in [0, 1]"),
    (["--mode", "e2e", "--seg-gradient-leak", "nan"], "--seg-gradient-leak nan: expected a number in [0, 1]"),
])
def test_train_bad_arguments(tiny_dataset, tmp_path, args, message):
    _assert_input_error(_cli("train", "--data", str(tiny_dataset), "--out", str(tmp_path / "r"), *args), message)


def test_train_missing_or_mismatched_data(tiny_dataset, tmp_path):
    _assert_input_error(_cli("train", "--data", str(tmp_path / "nothing"), "--mode", "e2e", "--out",
                             str(tmp_path / "r")), "not a directory")
    spec = yaml.safe_load(DEFAULT_SPEC.read_text())
    spec["detector"]["eta_bins"] = 40
    spec["clusterer"]["window"] = 9
    other = tmp_path / "eta40.yaml"
    other.write_text(yaml.safe_dump(spec))
    _assert_input_error(_cli("train", "--spec", str(other), "--data", str(tiny_dataset), "--mode", "e2e", "--out",
                             str(tmp_path / "r")), "has 50x64 cells over |eta| < 2.5, spec 'hl-lhc-multijet' expects 40x64")


def test_run_directory_of_another_spec_or_settings(whole, tiny_dataset, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(whole.run.root, run)
    spec = yaml.safe_load(DEFAULT_SPEC.read_text())
    spec["name"] = "tighter"
    spec["precision"]["cnn"]["bits"] = 8
    other = tmp_path / "tighter.yaml"
    other.write_text(yaml.safe_dump(spec))
    base = ["train", "--data", str(tiny_dataset), "--mode", "e2e", "--out", str(run), "--batch-size", "16",
            "--max-steps-per-epoch", "1"]
    _assert_input_error(_cli(*base, "--spec", str(other), "--epochs", "2"),
                        "was trained under spec 'hl-lhc-multijet'")
    _assert_input_error(_cli(*base, "--epochs", "3"), "was started with epochs = 2, not 3")
    _assert_input_error(_cli("export", "--run", str(run), "--out", str(tmp_path / "b"), "--data",
                             str(tmp_path / "moved")), "not a directory")
    doc = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps(dict(doc, status="started")))
    _assert_input_error(_cli("export", "--run", str(run), "--out", str(tmp_path / "b")), "has not finished training")
    _assert_input_error(_cli("export", "--run", str(tmp_path), "--out", str(tmp_path / "b")), "run.json is missing")


def test_empty_split_is_refused(tiny_dataset, tmp_path, monkeypatch):
    from codesign.data.reader import Dataset

    real = Dataset.count
    monkeypatch.setattr(Dataset, "count", lambda self, split, process=None: 0 if split == "val" else real(self, split))
    _assert_input_error(_cli("train", "--data", str(tiny_dataset), "--mode", "e2e", "--out", str(tmp_path / "r")),
                        "has no events in the val split")


def test_e2e_calibration_from_a_sequential_run_moves_only_calibration_and_splines(sequential, tiny_dataset, tmp_path):
    """The ablation mode starts from the base run's weights (--init-from) and moves only the calibration and splines."""
    base = sequential[0]
    groups = ("quantiser", "cnn", "calibration", "trigger")

    def values(model, group):
        return {str(i): v.numpy() for i, v in enumerate(model.group(group))}

    trained = {g: values(base.model, g) for g in groups}
    lines: list[str] = []
    config = TrainConfig(spec=str(DEFAULT_SPEC), data=str(tiny_dataset), mode="e2e-calibration", epochs=1,
                         batch_size=16, max_steps_per_epoch=1, init_from=str(base.run.root))
    ablation = Trainer.open(config, tmp_path / "abl", log=lines.append)
    assert lines[0] == f"starting from the weights of {base.run.root}"
    assert all(_same(values(ablation.model, g), trained[g]) for g in groups)
    assert [h["stage"] for h in ablation.train()] == ["e2e_calibration"]
    for g in groups:
        assert _same(values(ablation.model, g), trained[g]) == (g in ("quantiser", "cnn")), g


def test_a_run_started_before_a_setting_existed_resumes_with_its_default(tmp_path):
    """run.json without a later TrainConfig field (seg_gradient_leak) is that field's default, not a mismatch."""
    from codesign.train.rundir import RunDir

    spec = load_spec(DEFAULT_SPEC)
    config = TrainConfig(spec=str(DEFAULT_SPEC), data="d", mode="e2e")
    run = RunDir(tmp_path / "run")
    run.start(config, spec, DEFAULT_SPEC.read_text(), "ab" * 32)
    doc = json.loads(run.run_json.read_text())
    del doc["config"]["seg_gradient_leak"]
    run.run_json.write_text(json.dumps(doc))
    run.start(config, spec, DEFAULT_SPEC.read_text(), "ab" * 32)  # resumes
    with pytest.raises(Exception, match="seg_gradient_leak = 0.0, not 0.5"):
        run.start(TrainConfig(spec=str(DEFAULT_SPEC), data="d", mode="e2e", seg_gradient_leak=0.5), spec,
                  DEFAULT_SPEC.read_text(), "ab" * 32)


def test_validation_batches_are_read_once_per_run(tiny_dataset, tmp_path, monkeypatch):
    """Every epoch validates on the same batches, so the loop reads the validation split once and keeps it."""
    trainer = Trainer.open(_config(tiny_dataset, epochs=3), tmp_path / "run", log=lambda line: None)
    reads = []
    batches = trainer.dataset.batches

    def counting(split, *args, **kwargs):
        reads.append(split)
        return batches(split, *args, **kwargs)

    monkeypatch.setattr(trainer.dataset, "batches", counting)
    history = trainer.train()
    assert reads.count("train") == 3 and reads.count("val") == 1
    assert len({h["val"]["loss"] for h in history}) > 1  # the kept batches are validated with each epoch's weights
