"""The bipolar BMRU: the original cell, with an input-dependent threshold.

    c_t = W_c x_t + b_c,   beta_t = W_b x_t + b_b
    z_t = H(|c_t| - |beta_t|)                 write when the candidate clears beta
    s_t = z_t sign(c_t) + (1 - z_t) s_{t-1},  s in {-1, +1}, sign(0) = +1
    y_t = W_o (alpha s_t) + b_o

The cumulative variant adds instead of writing, ``s_t = s_{t-1} + z_t sign(c_t)``.
Both are members of one affine family, ``a_t = (1 - z_t) + eps z_t`` and
``b_t = z_t sign(c_t)``: ``eps = 0`` is the BMRU and ``eps = 1`` the cumulative cell. It
is kept for comparison: its threshold depends on the input, so it does not map onto a
fixed bias current.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from bmru_jax._validate import check_finite, check_positive_int, check_shape
from bmru_jax.models._heaviside import heaviside, signum
from bmru_jax.models._scan import linear_recurrence


class BipolarBMRU(eqx.Module):
    """One bipolar BMRU layer (states in {-1, +1}) with its output projection.

    Initialised with ``b_b = 1`` and ``alpha = 1`` as published.

    Example:
        >>> import jax
        >>> layer = BipolarBMRU(3, 4, 2, key=jax.random.key(0))
        >>> layer(jax.numpy.ones((5, 3))).shape
        (5, 2)
    """

    W_c: Float[Array, "cells inputs"]
    b_c: Float[Array, " cells"]
    W_b: Float[Array, "cells inputs"]
    b_b: Float[Array, " cells"]
    p_alpha: Float[Array, " cells"]
    s0_logit: Float[Array, " cells"]
    W_o: Float[Array, "outputs cells"]
    b_o: Float[Array, " outputs"]
    cumulative: bool = eqx.field(static=True, default=False)
    surrogate_slope: float = eqx.field(static=True, default=1.0)

    def __init__(
        self,
        in_size: int,
        state_size: int,
        out_size: int,
        *,
        key: PRNGKeyArray,
        cumulative: bool = False,
        surrogate_slope: float = 1.0,
    ):
        in_size = check_positive_int("in_size", in_size)
        state_size = check_positive_int("state_size", state_size)
        out_size = check_positive_int("out_size", out_size)
        k_c, k_b, k_o = jax.random.split(key, 3)
        scale = 1.0 / jnp.sqrt(in_size)
        self.W_c = scale * jax.random.normal(k_c, (state_size, in_size))
        self.b_c = jnp.zeros((state_size,))
        self.W_b = scale * jax.random.normal(k_b, (state_size, in_size))
        self.b_b = jnp.ones((state_size,))
        self.p_alpha = jnp.ones((state_size,))
        self.s0_logit = jnp.full((state_size,), 0.5)
        self.W_o = jax.random.normal(k_o, (out_size, state_size)) / jnp.sqrt(state_size)
        self.b_o = jnp.zeros((out_size,))
        self.cumulative = bool(cumulative)
        self.surrogate_slope = float(surrogate_slope)

    @property
    def alpha(self) -> Float[Array, " cells"]:
        """Output magnitude of each cell."""
        return jnp.abs(self.p_alpha)

    def states(
        self,
        x: Float[Array, "time inputs"],
        *,
        eps: float | Float[Array, ""] | None = None,
        parallel: bool = False,
    ) -> Float[Array, "time cells"]:
        """States for the input sequence ``x``.

        ``eps`` defaults to 1 for the cumulative variant and 0 otherwise.
        """
        check_shape("x", x, (None, self.W_c.shape[1]))
        check_finite("x", x)
        if eps is None:
            eps = 1.0 if self.cumulative else 0.0
        candidate = x @ self.W_c.T + self.b_c
        threshold = x @ self.W_b.T + self.b_b
        write = heaviside(jnp.abs(candidate) - jnp.abs(threshold), self.surrogate_slope)
        a = (1.0 - write) + eps * write
        b = write * signum(candidate, self.surrogate_slope)
        s0 = signum(self.s0_logit, self.surrogate_slope)
        return linear_recurrence(a, b, s0, parallel=parallel)

    def __call__(
        self,
        x: Float[Array, "time inputs"],
        *,
        eps: float | Float[Array, ""] | None = None,
        parallel: bool = False,
    ) -> Float[Array, "time outputs"]:
        """Outputs ``W_o (alpha s_t) + b_o`` for one sequence, ``(time, outputs)``."""
        states = self.states(x, eps=eps, parallel=parallel)
        return (self.alpha * states) @ self.W_o.T + self.b_o
