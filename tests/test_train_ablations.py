"""Training options behind the physics ablations: the background a run trains against, and bad options
(the e2e-calibration mode from another run's weights is tested in test_train_loop.py, on its sequential run)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from codesign.cli import main
from codesign.data.reader import Dataset
from codesign.errors import InputError


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
