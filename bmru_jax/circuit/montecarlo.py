"""Run a per-die function over a batch of dies, on every CPU core.

A Monte Carlo evaluates the same program for many dies. Two measured facts on CPU
shape how :func:`map_dies` runs it:

- **a loop over dies beats vmap over dies.** With the clips of one die batched
  (``vmap``) and the dies looped (``lax.map``), the two-layer keyword network ran
  about twice as fast at d = 4, and three times at d = 64, as with both axes batched:
  the loop keeps each die's mirror gains in plain matrix products, where a die axis
  turns them into many tiny batched ones. A die's numbers are then also the same bits
  whatever the batch size, since its program does not depend on it.
- **XLA on CPU runs a loop on one core.** JAX can present each core as its own CPU
  device (:func:`use_cpu_cores`); the dies are then split across those devices
  (``shard_map``) and looped on each in parallel.

Example:
    >>> import jax.numpy as jnp
    >>> map_dies(lambda x, y: x * y, jnp.arange(5.0), 2.0).tolist()
    [0.0, 2.0, 4.0, 6.0, 8.0]
"""

import os
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, PartitionSpec

from bmru_jax.errors import InputError

DIE_AXIS = "dies"

# XLA on CPU hands matrix products to YNNPACK. For the tiny per-die mirror banks of a
# small network (13 x 4, 4 x 4 at d = 4) the call costs more than the product: with
# XLA's own emitter the d = 4 Monte Carlo ran 1.3-1.6x faster (none at d = 64).
_CPU_COMPILER_OPTIONS = {"xla_cpu_experimental_ynn_fusion_type": ""}

# For the program that draws a batch of dies: backend optimisation buys nothing for a
# die's few hundred random draws, and its compile time grows with every threefry
# instance.
DRAW_COMPILER_OPTIONS = {"xla_backend_optimization_level": 0}


def use_cpu_cores(count: int | None = None) -> int:
    """Present ``count`` CPU cores (default: all) to JAX as separate devices.

    Call it before the first JAX computation of the process: the number of CPU
    devices is fixed when JAX starts its backend. Without it JAX has one CPU device,
    and :func:`map_dies` runs on one core. The environment variable
    ``JAX_NUM_CPU_DEVICES``, when set, wins.

    Args:
        count: number of devices; None for the cores this process may run on.

    Returns:
        The number of CPU devices JAX now has.

    Example:
        >>> use_cpu_cores(2)  # once JAX has started, it keeps the devices it has
        2
    """
    if "JAX_NUM_CPU_DEVICES" not in os.environ:
        wanted = _usable_cores() if count is None else count
        if not isinstance(wanted, int) or wanted < 1:
            raise InputError(f"count: must be a positive integer, got {count!r}")
        try:
            jax.config.update("jax_num_cpu_devices", wanted)
        except RuntimeError:
            pass  # the backend has started: keep the devices it has
    return len(jax.devices("cpu"))


def compile_for_cpu(lowered, options: dict | None = None):
    """Compile a lowered Monte Carlo program with the CPU options that suit it.

    ``lowered`` comes from ``jax.jit(f).lower(...)``; ``options`` are further XLA
    compiler options. Where this XLA does not know the options above (they are
    experimental), the program is compiled without them.

    Example:
        >>> import jax.numpy as jnp
        >>> run = compile_for_cpu(jax.jit(lambda x: x @ x.T).lower(jnp.ones((3, 2))))
        >>> run(jnp.ones((3, 2))).shape
        (3, 3)
    """
    options = dict(options or {})
    try:
        return lowered.compile(_CPU_COMPILER_OPTIONS | options)
    except jax.errors.JaxRuntimeError as error:
        if "No such compile option" not in str(error):
            raise
        return lowered.compile(options or None)


def _usable_cores() -> int:
    # A container or a task set may allow fewer cores than the machine has.
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def map_dies(fn: Callable, per_die, *shared, devices=None):
    """``fn(one, *shared)`` for each entry ``one`` of ``per_die``, stacked.

    ``per_die`` is a pytree whose leaves share a leading die axis (dies, die keys,
    die indices, ...); ``shared`` are the same for every die (clips, a root key). The
    dies are split into equal runs across ``devices`` (default: every local device,
    at most one per die), padded with copies of the first die where they do not
    divide evenly, and looped one after another on each device. Traceable: use it
    inside ``jax.jit``.

    Args:
        fn: the per-die function; its outputs are stacked along a new leading axis.
        per_die: pytree of arrays with a leading die axis.
        shared: arguments passed unchanged to every call.
        devices: the devices to use; None for ``jax.local_devices()``.

    Returns:
        The stacked outputs, leading axis the dies of ``per_die``. They live on the
        devices that computed them: take them to the host (``np.asarray``,
        ``jax.device_get``) before mixing them with arrays of other devices.
    """
    count = _die_count(per_die)
    devices = list(jax.local_devices() if devices is None else devices)
    devices = devices[: max(1, min(len(devices), count))]
    runs = -(-count // len(devices))
    padded = jax.tree.map(lambda a: _pad(a, runs * len(devices)), per_die)

    def loop(batch, *shared):
        return jax.lax.map(lambda one: fn(one, *shared), batch)

    mesh = Mesh(np.asarray(devices), (DIE_AXIS,))
    spread = jax.shard_map(
        loop,
        mesh=mesh,
        in_specs=(PartitionSpec(DIE_AXIS),) + (PartitionSpec(),) * len(shared),
        out_specs=PartitionSpec(DIE_AXIS),
        check_vma=False,
    )
    outputs = spread(padded, *shared)
    return jax.tree.map(lambda a: a[:count], outputs)


def _die_count(per_die) -> int:
    sizes = {leaf.shape[0] for leaf in jax.tree.leaves(per_die) if leaf.ndim > 0}
    if len(sizes) != 1 or 0 in sizes:
        raise InputError(
            "per_die: leaves need one common, non-empty leading axis, "
            f"got sizes {sorted(sizes)}"
        )
    return sizes.pop()


def _pad(leaf, size):
    missing = size - leaf.shape[0]
    if missing == 0:
        return leaf
    return jnp.concatenate([leaf, jnp.repeat(leaf[:1], missing, axis=0)])
