"""Running sweep points in parallel: in this process, on local worker processes, or on a dask.distributed cluster."""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator

from codesign.cluster import connect
from codesign.workers import run_all

# Thread pools of each point's TensorFlow and numba, set for the worker processes only.
THREAD_VARIABLES = ("CODESIGN_THREADS", "NUMBA_NUM_THREADS")


@contextmanager
def _threads_per_worker(workers: int) -> Iterator[None]:
    """Share the CPUs among `workers` processes (unless the user set the thread counts), for as long as they run."""
    share = str(max(1, (os.cpu_count() or 1) // workers))
    saved = {k: os.environ.get(k) for k in THREAD_VARIABLES}
    for k, v in saved.items():
        if v is None:
            os.environ[k] = share
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)


def run_points(fn: Callable[[Any], dict], tasks: list[Any], workers: int = 1,
               scheduler: str | None = None) -> Iterable[dict]:
    """fn over the tasks, results as they finish: on the dask cluster at `scheduler`, else on `workers` processes
    (1: in this process). A bad scheduler address fails before any point runs."""
    if scheduler is not None:
        from dask.distributed import as_completed

        client = connect(scheduler)
        with client:
            for fut in as_completed(client.map(fn, tasks, pure=False)):
                yield fut.result()
    elif workers == 1 or len(tasks) <= 1:
        yield from map(fn, tasks)
    else:
        with _threads_per_worker(min(workers, len(tasks))):
            yield from run_all(fn, tasks, min(workers, len(tasks)))
