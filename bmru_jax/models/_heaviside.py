"""The Heaviside step with a smooth surrogate gradient.

Forward, the exact step with ``H(0) = 1``: a cell at exactly a threshold counts as at or
above it. Backward, the derivative of a scaled arctan,

    dH/dx ~ a / (1 + (pi a x)^2),

which integrates to one over the real line, so the surrogate is a smoothed step of the
same height. ``a`` (the ``slope``) sets how sharply the gradient concentrates near zero.
"""

import functools

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float


def heaviside(x: Float[ArrayLike, "..."], slope: float = 1.0) -> Float[Array, "..."]:
    """Exact step forward, arctan surrogate backward.

    Args:
        x: values to threshold, any shape.
        slope: surrogate sharpness ``a`` (a static Python float).

    Returns:
        ``1.0`` where ``x >= 0``, else ``0.0``, in the floating dtype of ``x``.

    Example:
        >>> import jax
        >>> float(heaviside(0.0)), float(jax.grad(heaviside)(0.0))
        (1.0, 1.0)
    """
    x = jnp.asarray(x, dtype=jnp.result_type(x, jnp.float32))
    return _step(x, float(slope))


@functools.partial(jax.custom_jvp, nondiff_argnums=(1,))
def _step(x, slope):
    return (x >= 0).astype(x.dtype)


@_step.defjvp
def _step_jvp(slope, primals, tangents):
    (x,), (dx,) = primals, tangents
    surrogate = slope / (1.0 + (jnp.pi * slope * x) ** 2)
    return _step(x, slope), surrogate * dx


def signum(x: Float[ArrayLike, "..."], slope: float = 1.0) -> Float[Array, "..."]:
    """``+1`` where ``x >= 0`` (``sign(0) = +1``), else ``-1``; surrogate ``2 H'``."""
    return 2.0 * heaviside(x, slope) - 1.0
