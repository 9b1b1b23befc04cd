"""Data parallelism inside one process: a step's heavy per-event work as concurrent single-threaded XLA computations.

XLA on the CPU spreads one computation over threads poorly: the CNN's small matrix products are
memory-bound, and each operation that two threads share costs a synchronisation. So TensorFlow
runs every XLA computation on one thread (`tf_setup`), and the steps split their events into
`tf_setup.SHARES` contiguous shares, one computation each, which TensorFlow's inter-op threads run
at once. Outputs are combined in a fixed order, so a step stays deterministic.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from codesign.train.tf_setup import tf


def run_shares(fn: Callable[..., Any], args: Sequence[tf.Tensor], shares: int, combine: str) -> Any:
    """`fn` over `shares` contiguous event shares of `args` (axis 0), run concurrently inside a graph.

    combine: "concat" joins the outputs along the event axis (per-event results), "sum" adds them
    (sums over events and their gradients). One share calls `fn` on the whole of `args`.
    """
    if combine not in ("concat", "sum"):
        raise ValueError(f"combine {combine!r}: expected 'concat' or 'sum'")
    if shares <= 1:
        return fn(*args)
    n = args[0].shape[0] if args[0].shape[0] is not None else tf.shape(args[0])[0]
    outs = [fn(*(a[n * k // shares:n * (k + 1) // shares] for a in args)) for k in range(shares)]
    join = (lambda *t: tf.add_n(list(t))) if combine == "sum" else (lambda *t: tf.concat(t, axis=0))
    return tf.nest.map_structure(join, *outs)
