"""Schedules of one training run: the leak ``eps`` and the learning rate.

The leaky training family ``s_t = h_t s_{t-1} + (1 - h_t)(f_t + eps s_{t-1})`` starts
at ``eps = 1`` (a smooth, trainable recurrence) and is annealed to the BMRU at
``eps = 0``:

    eps(k) = 1                                   k <  hold K
    eps(k) = 1 - (k - hold K) / (decay K)        hold K <= k < (hold + decay) K
    eps(k) = 0                                   k >= (hold + decay) K

with ``K`` the total number of steps, ``hold = 5 %`` and ``decay = 70 %`` (published).
A model is only evaluated, checkpointed or exported as a BMRU once ``eps`` is 0.
"""

import jax.numpy as jnp
import optax
from jaxtyping import Array, Float, Int

from bmru_jax._validate import check_positive_int, check_real
from bmru_jax.errors import require

EPS_HOLD_FRACTION = 0.05
EPS_DECAY_FRACTION = 0.70


def eps_schedule(
    step: Int[Array, ""] | int,
    total_steps: int,
    *,
    hold: float = EPS_HOLD_FRACTION,
    decay: float = EPS_DECAY_FRACTION,
) -> Float[Array, ""]:
    """Leak ``eps`` at ``step`` of ``total_steps`` (module docstring), traceable.

    Args:
        step: training step, 0-based (a Python int or a scalar array).
        total_steps: steps of the whole run ``K``.
        hold: fraction of ``K`` held at ``eps = 1``.
        decay: fraction of ``K`` over which ``eps`` falls linearly to 0.

    Returns:
        ``eps`` in [0, 1], float32 scalar.

    Example:
        >>> [float(eps_schedule(k, 100)) for k in (0, 4, 5, 40, 75, 99)]
        [1.0, 1.0, 1.0, 0.5, 0.0, 0.0]
    """
    check_positive_int("total_steps", total_steps)
    check_real("hold", hold, low=0.0, high=1.0)
    check_real("decay", decay, low=0.0, high=1.0)
    require(hold + decay <= 1.0, f"hold + decay: must be <= 1, got {hold + decay}")
    hold_steps = hold * total_steps
    step = jnp.asarray(step, jnp.float32)
    if decay == 0:  # a jump from 1 to 0 once the hold is over
        return jnp.where(step < hold_steps, 1.0, 0.0)
    progress = (step - hold_steps) / (decay * total_steps)
    return jnp.clip(1.0 - progress, 0.0, 1.0)


def first_bmru_step(
    total_steps: int,
    *,
    hold: float = EPS_HOLD_FRACTION,
    decay: float = EPS_DECAY_FRACTION,
) -> int:
    """The first step at which ``eps`` is exactly 0 (checkpoints start there).

    Example:
        >>> first_bmru_step(5000)
        3750
    """
    # The schedule is computed in float32; search from the exact-arithmetic guess.
    k = max(int((hold + decay) * total_steps) - 2, 0)
    while float(eps_schedule(k, total_steps, hold=hold, decay=decay)) > 0.0:
        k += 1
    return k


def learning_rate_schedule(total_steps: int, peak: float = 1e-3) -> optax.Schedule:
    """Cosine decay of the learning rate from ``peak`` to 0 over ``total_steps``.

    Example:
        >>> schedule = learning_rate_schedule(100)
        >>> round(float(schedule(0)), 6), round(float(schedule(50)), 6)
        (0.001, 0.0005)
    """
    check_positive_int("total_steps", total_steps)
    check_real("learning_rate", peak, low=0.0)
    return optax.cosine_decay_schedule(peak, total_steps)
