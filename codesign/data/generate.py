"""Dataset generation: plan shards, run them on local processes or a dask cluster, write the card.

Each shard is an independent task (one process, one Pythia seed) written atomically, so a rerun
skips the shards that are already complete and an interrupted one is simply generated again.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
from tqdm import tqdm

from codesign.cluster import connect
from codesign.data import splits
from codesign.data.card import CARD_FORMAT, package_versions, write_card
from codesign.data.configs import BASELINE, DataConfig
from codesign.data.detector import Geometry, calo_images, to_sparse
from codesign.data.events import EventSource
from codesign.data.jets import JET_FIELDS, JET_PT_MIN_GEV, JET_R, MAX_JETS, truth_jets
from codesign.data.pileup import MU, draw_many
from codesign.data.pool_diagnostics import hardest_window_et, overlay_reuse, pool_summary
from codesign.data.presets import Preset, check_hard_processes, get_preset
from codesign.data.processes import HH_PROXY_NOTE, PILEUP_PROCESS, PROCESSES
from codesign.data.response import get_response
from codesign.data.seeds import STREAM_FROZEN, event_id, pythia_seed
from codesign.data.shards import CorruptShardError, remove_stale_temporaries, shard_attrs, shard_name, write_shard
from codesign.errors import InputError
from codesign.paths import DEFAULT_SPEC
from codesign.spec import Spec, load_spec
from emulation.semantics import window_mask
from codesign.workers import run_all

# shard attributes that identify the work; a shard on disk must match them to count as done
_IDENTITY = ("kind", "process", "shard_index", "first_event", "n_events", "pythia_seed", "dataset_seed",
             "geometry", "pool_size", "mu")
# shard attributes copied into the card (and hashed with it)
_RECORDED = ("first_event", "n_events", "pythia_seed", "content_sha256", "sigma_gen_pb", "jets_truncated")


@dataclass(frozen=True)
class ShardTask:
    """Everything a worker needs to produce one shard file."""

    path: str
    kind: str  # "events" or "pool"
    process: str
    shard_index: int
    first_event: int
    n_events: int
    pythia_seed: int
    dataset_seed: int
    geometry: Geometry
    pool_size: int
    mu: float

    def identity(self) -> dict[str, Any]:
        """The attributes a finished shard of this task carries."""
        values = {k: getattr(self, k) for k in _IDENTITY if k != "geometry"}
        values["geometry"] = json.dumps(self.geometry.to_json(), sort_keys=True)
        if self.kind == "pool":  # pool events do not depend on the overlay settings
            values.update(pool_size=0, mu=0.0)
        return values


@dataclass
class GenerateResult:
    """The written card and which shard files this run produced or found complete."""

    card: dict[str, Any]
    generated: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    replaced_corrupt: list[str] = field(default_factory=list)


def run_task(task: ShardTask) -> dict[str, Any]:
    """Generate, process and write one shard; returns its attributes (the worker entry point)."""
    cpu0, wall0 = time.process_time(), time.perf_counter()
    process = PROCESSES[task.process]
    source = EventSource(process, task.pythia_seed)
    particles, weights = source.generate(task.n_events)
    images = calo_images(particles, task.geometry)
    jets_truncated = 0
    if task.kind == "pool":
        cells = to_sparse(images, task.geometry)
        arrays = {"offsets": cells.offsets, "cell": cells.cell, "et": cells.et}
    else:
        jets, n_jets, n_found = truth_jets(particles)
        jets_truncated = int((n_found > MAX_JETS).sum())
        ids = np.array([event_id(process.code, task.first_event + i) for i in range(task.n_events)], np.int64)
        offsets, pool_index = draw_many([[task.dataset_seed, STREAM_FROZEN, int(i)] for i in ids],
                                        task.mu, task.pool_size)
        arrays = {"image_mu0": images, "jets": jets, "n_jets": n_jets, "weight": weights.astype(np.float32),
                  "event_id": ids, "frozen_offsets": offsets, "frozen_pool_index": pool_index}
    attrs = {**task.identity(), "sigma_gen_pb": source.sigma_gen_pb(), "jets_truncated": jets_truncated,
             "cpu_s": time.process_time() - cpu0, "wall_s": time.perf_counter() - wall0}
    attrs["content_sha256"] = write_shard(Path(task.path), arrays, attrs)
    return attrs


def plan(out: Path, preset: Preset, processes: list[str], seed: int, geometry: Geometry) -> list[ShardTask]:
    """All shard tasks of a dataset: the pile-up pool first, then each hard process."""
    tasks = []
    jobs = [(PILEUP_PROCESS, "pool", preset.pool_events, preset.pool_shard_events)]
    jobs += [(name, "events", preset.events(name), preset.shard_events) for name in processes]
    for name, kind, total, per_shard in jobs:
        code = PROCESSES[name].code
        for index, first in enumerate(range(0, total, per_shard)):
            tasks.append(ShardTask(str(out / shard_name(name, index)), kind, name, index, first,
                                   min(per_shard, total - first), pythia_seed(seed, code, index), seed,
                                   geometry, preset.pool_events, MU))
    return tasks


def _existing(task: ShardTask) -> dict[str, Any] | None:
    """Attributes of the task's shard if it is already complete; None if it must be (re)generated."""
    path = Path(task.path)
    if not path.exists():
        return None
    attrs = shard_attrs(path)
    for key, want in task.identity().items():
        if attrs.get(key) != want:
            raise InputError(f"shard {path} was generated with other settings ({key} = {attrs.get(key)!r}, "
                             f"this run needs {want!r}); use another --out or delete it")
    return attrs


def _find_complete(tasks: list[ShardTask], result: GenerateResult,
                   log: Callable[[str], None]) -> dict[str, dict[str, Any]]:
    """Attributes of the tasks' shards already on disk, by path; corrupt ones are deleted for regeneration."""
    done = {}
    for task in tasks:
        try:
            attrs = _existing(task)
        except CorruptShardError as exc:
            log(f"{exc}: generating it again")
            Path(task.path).unlink()
            result.replaced_corrupt.append(task.path)
            continue
        if attrs is not None:
            done[task.path] = attrs
            result.skipped.append(task.path)
    return done


def _prepare_output(out: Path) -> Path:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"output directory {out}: cannot create it ({exc.strerror or exc})") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise InputError(f"output directory {out}: not writable")
    return out.resolve()


def _run_local(tasks: list[ShardTask], workers: int) -> Iterable[dict[str, Any]]:
    if workers == 1:
        yield from map(run_task, tasks)
        return
    yield from run_all(run_task, tasks, workers)  # workers die with this process and leave Ctrl-C to it


def _run_dask(tasks: list[ShardTask], address: str) -> Iterable[dict[str, Any]]:
    """Connect now (a bad address fails before any work starts); results stream as shards finish."""
    from dask.distributed import as_completed as dask_completed

    client = connect(address)

    def results() -> Iterable[dict[str, Any]]:
        with client:
            for fut in dask_completed(client.map(run_task, tasks, pure=False)):
                yield fut.result()

    return results()


def _shard_entry(attrs: dict[str, Any]) -> dict[str, Any]:
    return {"file": shard_name(attrs["process"], attrs["shard_index"]),
            **{k: attrs[k] for k in _RECORDED}}


def _build_card(preset: Preset, seed: int, geometry: Geometry, processes: list[str], config: DataConfig,
                shards: dict[str, list[dict[str, Any]]], spec: Spec, timings: dict[str, Any]) -> dict[str, Any]:
    def process_entry(name: str, events: int) -> dict[str, Any]:
        p = PROCESSES[name]
        return {"code": p.code, "role": p.role, "description": p.description, "note": p.note,
                "weighted": p.weighted, "events": events, "shards": shards[name],
                "pythia_settings": p.pythia_settings("<shard pythia_seed>")}

    return {
        "format": CARD_FORMAT,
        "preset": preset.name,
        "seed": seed,
        "geometry": geometry.to_json(),
        "image_dtype": "float32",
        "config": config.to_json(),
        "response": get_response(config.response).to_json(),
        "processes": {n: process_entry(n, preset.events(n)) for n in processes},
        "pileup": {**process_entry(PILEUP_PROCESS, preset.pool_events), "process": PILEUP_PROCESS,
                   "mu": MU, "distribution": "Poisson",
                   "storage": "sparse cells (offsets, cell, et) per pool shard",
                   "fresh": "drawn per (dataset seed, reader seed, epoch, event id) when reading",
                   "frozen": "pool indices drawn per (dataset seed, event id), stored in every event shard"},
        "truth_jets": {"algorithm": "anti-kt", "R": JET_R, "pt_min_gev": JET_PT_MIN_GEV, "max_jets": MAX_JETS,
                       "fields": list(JET_FIELDS), "inputs": "all visible final-state particles "
                       "(neutrinos excluded, muons included), every eta, mu = 0"},
        "splits": splits.to_json(),
        "hh_proxy_note": HH_PROXY_NOTE,
        "versions": package_versions(),
        "provenance": {"created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                       "host": socket.gethostname(), "spec": {"name": spec.name, "hash": spec.spec_hash(),
                                                             "source": spec.source},
                       **timings},
    }


def generate(out: Path | str, preset: str = "smoke", seed: int = 0, workers: int = 1,
             scheduler: str | None = None, processes: list[str] | None = None,
             spec: Path | str | None = None, progress: bool = True, config: DataConfig = BASELINE,
             log: Callable[[str], None] = lambda line: print(line, file=sys.stderr)) -> GenerateResult:
    """Generate (or finish) the dataset `preset` in `out` with physics `config` and write its card.

    Shards run on `workers` local processes, or on the dask cluster at `scheduler` when given.
    The card ends with the pile-up diagnostics, computed from the finished shards.
    """
    wall0 = time.perf_counter()
    chosen = get_preset(preset)
    names = check_hard_processes(processes, config.background)
    if not 0 <= seed < 2 ** 32:
        raise InputError(f"seed {seed}: expected an integer in 0..{2 ** 32 - 1}")
    if workers < 1:
        raise InputError(f"workers {workers}: expected at least 1")
    loaded = load_spec(Path(spec) if spec is not None else DEFAULT_SPEC)
    geometry = Geometry.from_spec(loaded)
    out = _prepare_output(Path(out))
    tasks = plan(out, chosen, names, seed, geometry)
    remove_stale_temporaries(out)

    result = GenerateResult(card={})
    done = _find_complete(tasks, result, log)
    if result.skipped:
        log(f"{len(result.skipped)} of {len(tasks)} shards already complete in {out}: skipping them")
    todo = sorted((t for t in tasks if t.path not in done), key=lambda t: -t.n_events)  # biggest first
    runner = _run_dask(todo, scheduler) if scheduler else _run_local(todo, workers)
    with tqdm(total=sum(t.n_events for t in todo), unit="ev", desc=f"{chosen.name}", file=sys.stderr,
              disable=not progress or not todo, mininterval=1.0, smoothing=0.1) as bar:
        for attrs in runner:
            path = str(out / shard_name(attrs["process"], attrs["shard_index"]))
            done[path] = attrs
            result.generated.append(path)
            bar.update(attrs["n_events"])

    by_process: dict[str, list[dict[str, Any]]] = {}
    for task in tasks:
        by_process.setdefault(task.process, []).append(_shard_entry(done[task.path]))
    timings = {"wall_s_this_run": round(time.perf_counter() - wall0, 2), "workers": workers,
               "scheduler": scheduler,
               "shard_cpu_s": {Path(p).name: round(a["cpu_s"], 3) for p, a in done.items()}}
    card = _build_card(chosen, seed, geometry, names, config, by_process, loaded, timings)
    write_card(out, card)  # the diagnostics read the dataset through its card
    card["pileup"]["diagnostics"] = pileup_diagnostics(out, window_mask(loaded.clusterer.window), config.background)
    result.card = write_card(out, card)
    return result


def pileup_diagnostics(directory: Path, mask: np.ndarray, background: str) -> dict[str, Any]:
    """Hard-scatter content of the pool, and its reuse in the frozen test overlay (all events, and the background's)."""
    from codesign.data.reader import Dataset

    ds = Dataset(directory)
    hardness = hardest_window_et(ds.pool, ds.geometry, mask)
    test = {"all": overlay_reuse(hardness, *ds.frozen_overlay("test"))}
    if background in ds.processes:
        test[background] = overlay_reuse(hardness, *ds.frozen_overlay("test", [background]))
    return {"hardness": "largest E_T in one clusterer window of the event (both layers), GeV",
            "window": int(mask.shape[0]), "pool": pool_summary(hardness), "frozen_test_overlay": test}
