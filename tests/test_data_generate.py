"""Generation: determinism (local and on a dask cluster), resume, atomic shards, corruption."""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from codesign.data.generate import generate
from codesign.data.reader import Dataset
from codesign.data.shards import read_all, write_shard
from codesign.errors import InputError


def _shard_files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.glob("*.h5"))


def _assert_same_shards(a: Path, b: Path) -> None:
    assert _shard_files(a) == _shard_files(b)
    for name in _shard_files(a):
        x, y = read_all(a / name), read_all(b / name)
        assert x.keys() == y.keys()
        for key in x:
            np.testing.assert_array_equal(x[key], y[key], err_msg=f"{name}/{key}")


def test_same_seed_same_dataset_on_a_dask_cluster(tiny_dataset, tmp_path):
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        result = generate(tmp_path / "dask", preset="tiny", seed=0, scheduler=cluster.scheduler_address,
                          progress=False)
    assert len(result.generated) == len(_shard_files(tiny_dataset))
    assert result.card["content_hash"] == Dataset(tiny_dataset).content_hash
    _assert_same_shards(tiny_dataset, tmp_path / "dask")


def test_another_seed_gives_other_events(tiny_dataset, tmp_path):
    card = generate(tmp_path / "seed1", preset="tiny", seed=1, processes=["ZH_nnbb"], workers=2,
                    progress=False).card  # also runs the local process pool
    assert list(card["processes"]) == ["ZH_nnbb"]
    other = read_all(tmp_path / "seed1" / "ZH_nnbb_0000.h5")["image_mu0"]
    assert not np.array_equal(other, read_all(tiny_dataset / "ZH_nnbb_0000.h5")["image_mu0"])
    assert card["content_hash"] != Dataset(tiny_dataset).content_hash


def test_rerun_skips_complete_shards_and_finishes_interrupted_ones(tiny_dataset, tmp_path):
    out = tmp_path / "resume"
    shutil.copytree(tiny_dataset, out)
    (out / "card.json").unlink()
    (out / "qcd_0001.h5").unlink()
    stale = out / "qcd_0001.h5.tmp-999-deadbeef"
    stale.write_bytes(b"half a shard")
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.glob("*.h5")}

    result = generate(out, preset="tiny", seed=0, progress=False)
    assert [Path(p).name for p in result.generated] == ["qcd_0001.h5"]
    assert len(result.skipped) == len(mtimes)
    assert {n: (out / n).stat().st_mtime_ns for n in mtimes} == mtimes
    assert not stale.exists()
    assert result.card["content_hash"] == Dataset(tiny_dataset).content_hash
    _assert_same_shards(tiny_dataset, out)


def test_a_corrupt_shard_is_regenerated_on_rerun(tiny_dataset, tmp_path):
    out = tmp_path / "heal"
    shutil.copytree(tiny_dataset, out)
    (out / "ttbar_had_0000.h5").write_bytes((tiny_dataset / "ttbar_had_0000.h5").read_bytes()[:5000])
    result = generate(out, preset="tiny", seed=0, progress=False, log=lambda line: None)
    assert [Path(p).name for p in result.replaced_corrupt] == ["ttbar_had_0000.h5"]
    assert [Path(p).name for p in result.generated] == ["ttbar_had_0000.h5"]
    _assert_same_shards(tiny_dataset, out)


def test_rerun_with_other_settings_is_refused(tiny_dataset, tmp_path):
    out = tmp_path / "other"
    shutil.copytree(tiny_dataset, out)
    with pytest.raises(InputError, match="minbias_0000.h5 was generated with other settings"):
        generate(out, preset="tiny", seed=5, progress=False)


def test_an_interrupted_write_leaves_no_shard(tmp_path):
    path = tmp_path / "x_0000.h5"
    arrays = {"a": np.arange(10), "z": np.array([object()], dtype=object)}  # h5py fails on the second
    with pytest.raises(TypeError):
        write_shard(path, arrays, {"kind": "events"})
    assert list(tmp_path.iterdir()) == []


def test_truncated_shard_is_detected(tiny_dataset, tmp_path):
    out = tmp_path / "trunc"
    shutil.copytree(tiny_dataset, out)
    data = (out / "qcd_0000.h5").read_bytes()
    (out / "qcd_0000.h5").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"shard .*qcd_0000.h5 is truncated or corrupt"):
        Dataset(out)


def test_damaged_image_chunk_is_detected(tiny_dataset, tmp_path):
    out = tmp_path / "flip"
    shutil.copytree(tiny_dataset, out)
    path = out / "ggHH_4b_0000.h5"
    with h5py.File(path) as f:
        info = f["image_mu0"].id.get_chunk_info(0)
    raw = bytearray(path.read_bytes())
    for k in range(info.byte_offset + 100, info.byte_offset + 116):
        raw[k] ^= 0xFF
    path.write_bytes(bytes(raw))
    ds = Dataset(out)  # the header is intact ...
    with pytest.raises(InputError, match=r"ggHH_4b_0000.h5 is truncated or corrupt"):
        ds.verify()    # ... the checksum of the damaged chunk is not
    with pytest.raises(InputError, match=r"ggHH_4b_0000.h5 is truncated or corrupt"):
        for _ in ds.batches("train", processes=["ggHH_4b"], pileup="none", shuffle=False):
            pass
