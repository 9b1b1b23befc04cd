"""`codesign emulate` over a dataset: streamed results equal the emulator on the same events."""

from __future__ import annotations

import h5py
import numpy as np
from click.testing import CliRunner

from codesign.bundles import random_bundle
from codesign.cli import main
from codesign.data.reader import Dataset
from codesign.derived import derive
from codesign.paths import DEFAULT_SPEC
from codesign.spec import load_spec
from emulation.chain import OUTPUTS, run_chain_gev


def test_emulate_writes_results(tiny_dataset, tmp_path):
    bundle = random_bundle(derive(load_spec(DEFAULT_SPEC)), 3)
    bundle.save(tmp_path / "b")
    out = tmp_path / "res" / "results.h5"
    r = CliRunner().invoke(main, ["emulate", "--bundle", str(tmp_path / "b"), "--data", str(tiny_dataset),
                                  "--out", str(out), "--batch-size", "16", "--max-events", "40"])
    assert r.exit_code == 0, r.output
    ds = Dataset(tiny_dataset)
    batch = next(ds.batches("test", batch_size=40, pileup="frozen", shuffle=False))
    want = run_chain_gev(bundle, batch["image"])
    with h5py.File(out) as h5:
        assert h5.attrs["n_events"] == 40 and h5.attrs["bundle_hash"] == bundle.content_hash()
        assert h5.attrs["dataset_hash"] == ds.card["content_hash"]
        for name in OUTPUTS:
            assert np.array_equal(h5[name][:], want[name]), name
        assert np.array_equal(h5["event_id"][:], batch["event_id"])
    assert not list(out.parent.glob(".*partial"))


def test_emulate_bad_inputs(tiny_dataset, tmp_path):
    r = CliRunner().invoke(main, ["emulate", "--bundle", str(tmp_path), "--data", str(tiny_dataset),
                                  "--out", str(tmp_path / "r.h5")])
    assert r.exit_code == 2 and "manifest.json is missing" in r.output
    random_bundle(derive(load_spec(DEFAULT_SPEC)), 0).save(tmp_path / "b")
    r = CliRunner().invoke(main, ["emulate", "--bundle", str(tmp_path / "b"), "--data", str(tmp_path / "none"),
                                  "--out", str(tmp_path / "r.h5")])
    assert r.exit_code == 2 and r.output.startswith("error: dataset") and not (tmp_path / "r.h5").exists()


def test_emulate_on_a_dask_cluster_matches_local(tiny_dataset, tmp_path):
    from dask.distributed import LocalCluster

    random_bundle(derive(load_spec(DEFAULT_SPEC)), 5).save(tmp_path / "b")
    args = ["emulate", "--bundle", str(tmp_path / "b"), "--data", str(tiny_dataset), "--batch-size", "32"]
    assert CliRunner().invoke(main, args + ["--out", str(tmp_path / "local.h5")]).exit_code == 0
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        r = CliRunner().invoke(main, args + ["--out", str(tmp_path / "dask.h5"), "--dask-scheduler",
                                             cluster.scheduler_address])
    assert r.exit_code == 0, r.output
    with h5py.File(tmp_path / "local.h5") as a, h5py.File(tmp_path / "dask.h5") as b:
        assert set(a) == set(b) and a.attrs["n_events"] == b.attrs["n_events"] > 0
        for name in a:
            assert np.array_equal(a[name][:], b[name][:]), name
