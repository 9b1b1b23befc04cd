"""Run an iterable (a batch loader) in a background thread, a few items ahead of its consumer.

The loader's heavy parts (HDF5 decompression, the numba pile-up kernels) release the GIL for most
of their time, so batches are prepared while TensorFlow computes the previous step.
"""

from __future__ import annotations

import queue
import threading
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")

_ITEM, _END, _ERROR = range(3)


def prefetch(iterable: Iterable[T], depth: int = 2) -> Iterator[T]:
    """The items of `iterable`, in order, produced by a daemon thread: `depth` items queued, one more
    waiting for room.

    An exception raised by the producer is raised here, at the position where the next item was
    due. Closing this generator (break, close(), garbage collection) stops the producer, closes
    the iterable's iterator and joins the thread: no thread is left running.
    """
    if depth < 1:
        raise ValueError(f"depth {depth}: expected an integer >= 1")
    items: queue.Queue[tuple[int, object]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        iterator = iter(iterable)
        try:
            for item in iterator:
                items.put((_ITEM, item))
                if stop.is_set():
                    return
            items.put((_END, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            items.put((_ERROR, exc))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name="prefetch", daemon=True)
    thread.start()
    try:
        while True:
            kind, value = items.get()
            if kind == _END:
                return
            if kind == _ERROR:
                raise value  # type: ignore[misc]
            yield value  # type: ignore[misc]
    finally:
        stop.set()
        while thread.is_alive():  # free the queue so a blocked put returns and sees `stop`
            try:
                items.get(timeout=0.01)
            except queue.Empty:
                pass
        thread.join()
