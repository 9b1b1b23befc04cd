"""Local worker processes that never outlive their parent and leave Ctrl-C to it.

`ProcessPoolExecutor` workers keep running their task when the parent is killed (SIGKILL gives
the parent no chance to stop them), and each prints a traceback on Ctrl-C. `pool` gives a pool
whose workers ignore SIGINT and exit as soon as the parent is gone (PR_SET_PDEATHSIG on Linux,
and a watchdog thread everywhere), and that kills its workers when the parent stops early.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from multiprocessing import get_context
from typing import Any, Callable, Iterable, Iterator

_PR_SET_PDEATHSIG = 1


def _watch_parent(parent: int) -> None:
    while True:
        time.sleep(0.2)
        if os.getppid() != parent:
            os._exit(1)


def worker_init(parent: int) -> None:
    """Initializer of every worker: ignore Ctrl-C, and exit when the parent process dies."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent died before this worker started
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


@contextmanager
def pool(workers: int) -> Iterator[ProcessPoolExecutor]:
    """A spawn-context process pool; on any early exit (Ctrl-C, an error) its workers are killed at once."""
    executor = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"), initializer=worker_init,
                                   initargs=(os.getpid(),))
    try:
        yield executor
    except BaseException:
        for proc in list((getattr(executor, "_processes", None) or {}).values()):
            proc.kill()
        executor.shutdown(wait=False, cancel_futures=True)
        raise
    executor.shutdown(wait=True)


def run_all(fn: Callable[[Any], Any], tasks: list[Any], workers: int) -> Iterable[Any]:
    """fn over tasks in `workers` processes, results as they finish."""
    with pool(workers) as executor:
        futures: list[Future] = [executor.submit(fn, t) for t in tasks]
        for fut in as_completed(futures):
            yield fut.result()
