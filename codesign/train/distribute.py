"""Data-parallel training with tf.distribute: MirroredStrategy over every GPU when one is present.

Every replica receives the whole batch and keeps its own contiguous share of the events. The
losses are sums of per-event terms divided by normalisers that `global_sum` takes over all
replicas (event weights, pixel counts, matched pairs), and parameter-only penalties count
1/replicas on each, so the replicas' losses add up to the single-device loss of the whole batch
and the summed gradients equal its gradient. On a machine without GPUs,
CODESIGN_CPU_REPLICAS=N splits the CPU into N logical devices (codesign.train.tf_setup), for tests.
"""

from __future__ import annotations

from codesign.train.tf_setup import tf


def training_strategy() -> tf.distribute.Strategy:
    """MirroredStrategy over every GPU, or over the logical CPUs that CODESIGN_CPU_REPLICAS made; else one device."""
    if tf.config.list_physical_devices("GPU"):
        return tf.distribute.MirroredStrategy()
    cpus = tf.config.list_logical_devices("CPU")
    if len(cpus) > 1:
        return tf.distribute.MirroredStrategy([d.name for d in cpus])
    return tf.distribute.get_strategy()


def _replica() -> tuple[int | tf.Tensor, int]:
    """(this replica's index, number of replicas); (0, 1) outside a distributed step."""
    ctx = tf.distribute.get_replica_context()
    if ctx is None or ctx.num_replicas_in_sync == 1:
        return 0, 1
    return ctx.replica_id_in_sync_group, ctx.num_replicas_in_sync


def replica_count() -> int:
    """Number of replicas taking part in the current step (1 outside a distributed step)."""
    return _replica()[1]


def global_sum(x: tf.Tensor) -> tf.Tensor:
    """Sum of a (non-differentiated) normaliser over every replica's share of the batch."""
    x = tf.stop_gradient(x)
    if replica_count() == 1:
        return x
    return tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, x)


def replica_share(batch):
    """This replica's contiguous share of a batch (a NamedTuple of tensors with the event axis first)."""
    index, n = _replica()
    if n == 1:
        return batch
    size = tf.shape(batch[0])[0]
    start = size * index // n
    stop = size * (index + 1) // n
    return type(batch)(*(t[start:stop] for t in batch))
