"""The first-quadrant BMRU: the recurrent cell that maps onto current-mode hardware.

All signals are non-negative currents (one model unit = 1 nA). Per time step ``t``:

    u_t = max(x_t, 0)                    input currents
    c_t = max(W_c u_t + b_c, 0)          candidate current of each cell
    A_t = H(c_t - beta1)                 at or above the lower threshold
    B_t = H(c_t - beta2)                 at or above beta2 = beta1 + delta
    s_t = A_t (1 - B_t) s_{t-1} + B_t    Schmitt trigger, s in {0, 1}
    y_t = alpha s_t                      output current, exactly 0 or alpha
    o_t = max(W_p y_t + b_p, 0)          post-projection

Below ``beta1`` a cell resets, at or above ``beta2`` it sets, in between it holds: the
hysteresis window is the memory. The thresholds and the output level are learned
constants (``beta1 = |p1|``, ``delta = |p2|``, ``alpha = |p3|``), so each one becomes a
single bias current in the circuit.

Training uses the leaky family ``s_t = h_t s_{t-1} + (1 - h_t)(f_t + eps s_{t-1})``
with ``h_t = A_t (1 - B_t)`` and ``f_t = B_t``, annealing ``eps`` from 1 to 0;
``eps = 0`` is the BMRU itself.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from bmru_jax._validate import check_finite, check_positive_int, check_shape
from bmru_jax.models._heaviside import heaviside
from bmru_jax.models._scan import linear_recurrence


def fq_bmru_scan(
    candidates: Float[Array, "time cells"],
    beta1: Float[Array, " cells"],
    delta: Float[Array, " cells"],
    s0: Float[Array, " cells"],
    *,
    eps: float | Float[Array, ""] = 0.0,
    parallel: bool = False,
    slope: float = 1.0,
) -> Float[Array, "time cells"]:
    """States of the (leaky) Schmitt-trigger recurrence, differentiable.

    The exact step forward; the arctan surrogate of slope ``slope`` backward, so
    gradients reach the candidates, both thresholds and the initial state.

    Args:
        candidates: candidate currents ``c_t``, shape ``(time, cells)``, model units.
        beta1: lower thresholds, ``(cells,)``, non-negative.
        delta: hysteresis widths, ``(cells,)``, non-negative; ``beta2 = beta1 + delta``.
        s0: initial states, ``(cells,)``, in {0, 1}.
        eps: leak of the training family; ``0`` is the BMRU.
        parallel: evaluate with the associative scan.
        slope: sharpness of the surrogate gradient.

    Returns:
        States ``s_1 ... s_T``, shape ``(time, cells)``; in {0, 1} when ``eps = 0``.

    Example:
        >>> import jax.numpy as jnp
        >>> c = jnp.array([[0.6], [0.3], [0.1]])
        >>> one = jnp.ones(1)
        >>> fq_bmru_scan(c, 0.15 * one, 0.35 * one, 0 * one)[:, 0].tolist()
        [1.0, 1.0, 0.0]
    """
    _check_recurrence_args(candidates, beta1, delta, s0)
    above_low = heaviside(candidates - beta1, slope)
    above_high = heaviside(candidates - (beta1 + delta), slope)
    hold = above_low * (1.0 - above_high)
    a = hold + (1.0 - hold) * eps
    b = (1.0 - hold) * above_high
    return linear_recurrence(a, b, s0.astype(candidates.dtype), parallel=parallel)


def fq_bmru_states(
    candidates: Float[Array, "time cells"],
    beta1: Float[Array, " cells"],
    delta: Float[Array, " cells"],
    s0: Float[Array, " cells"],
    *,
    parallel: bool = False,
) -> Float[Array, "time cells"]:
    """States in {0, 1} of the first-quadrant BMRU on given candidate currents.

    ``s_t = A_t (1 - B_t) s_{t-1} + B_t`` with ``A_t = H(c_t - beta1)`` and
    ``B_t = H(c_t - beta1 - delta)``, ``H(0) = 1``: reset strictly below ``beta1``, hold
    in ``[beta1, beta1 + delta)``, set at or above ``beta1 + delta``.

    Args:
        candidates: candidate currents, shape ``(time, cells)``.
        beta1: lower thresholds, ``(cells,)``.
        delta: hysteresis widths, ``(cells,)``; ``0`` makes a plain comparator.
        s0: initial states, ``(cells,)``, in {0, 1}.
        parallel: use ``lax.associative_scan`` (same states bit for bit).

    Returns:
        States, shape ``(time, cells)``, exactly 0.0 or 1.0.

    Example:
        >>> import jax.numpy as jnp
        >>> c = jnp.array([[0.5], [0.2], [0.1]])
        >>> fq_bmru_states(c, jnp.array([0.15]), jnp.array([0.35]), jnp.zeros(1))[:, 0]
        Array([1., 1., 0.], dtype=float32)
    """
    return fq_bmru_scan(candidates, beta1, delta, s0, parallel=parallel)


def _check_recurrence_args(candidates, beta1, delta, s0):
    check_shape("candidates", candidates, (None, None))
    cells = candidates.shape[1]
    for name, value in (("beta1", beta1), ("delta", delta), ("s0", s0)):
        check_shape(name, value, (cells,))
    check_finite("candidates", candidates)


class FQBMRU(eqx.Module):
    """One first-quadrant BMRU layer with its post-projection.

    Parameters follow the published initialisation: ``b_c = 0.5``, ``beta1 = 0.15``,
    ``delta = 0.35`` (the hold window brackets the initial candidate), ``alpha`` from a
    fan-out variance-scaling draw, ``W_c`` non-negative at start but unconstrained in
    training (a negative weight becomes a sinking mirror).

    Example:
        >>> import jax
        >>> layer = FQBMRU(3, 4, 3, key=jax.random.key(0))
        >>> layer(jax.numpy.ones((10, 3))).shape
        (10, 3)
    """

    W_c: Float[Array, "cells inputs"]
    b_c: Float[Array, " cells"]
    p1: Float[Array, " cells"]
    p2: Float[Array, " cells"]
    p3: Float[Array, " cells"]
    s0_logit: Float[Array, " cells"]
    W_p: Float[Array, "outputs cells"]
    b_p: Float[Array, " outputs"]
    surrogate_slope: float = eqx.field(static=True, default=1.0)

    def __init__(
        self,
        in_size: int,
        state_size: int,
        out_size: int,
        *,
        key: PRNGKeyArray,
        surrogate_slope: float = 1.0,
    ):
        in_size = check_positive_int("in_size", in_size)
        state_size = check_positive_int("state_size", state_size)
        out_size = check_positive_int("out_size", out_size)
        k_c, k_alpha, k_p = jax.random.split(key, 3)
        self.W_c = jax.random.uniform(k_c, (state_size, in_size)) / jnp.sqrt(in_size)
        self.b_c = jnp.full((state_size,), 0.5)
        self.p1 = jnp.full((state_size,), 0.15)
        self.p2 = jnp.full((state_size,), 0.35)
        fan_out = jnp.sqrt(1.0 / out_size)
        self.p3 = fan_out * jax.random.truncated_normal(
            k_alpha, -2.0, 2.0, (state_size,)
        )
        self.s0_logit = jnp.full((state_size,), -0.5)
        self.W_p = jax.random.normal(k_p, (out_size, state_size)) / jnp.sqrt(state_size)
        self.b_p = jnp.zeros((out_size,))
        self.surrogate_slope = float(surrogate_slope)

    @property
    def beta1(self) -> Float[Array, " cells"]:
        """Lower (reset) threshold of each cell, model units."""
        return jnp.abs(self.p1)

    @property
    def delta(self) -> Float[Array, " cells"]:
        """Hysteresis width of each cell, model units."""
        return jnp.abs(self.p2)

    @property
    def beta2(self) -> Float[Array, " cells"]:
        """Upper (set) threshold of each cell, ``beta1 + delta``."""
        return self.beta1 + self.delta

    @property
    def alpha(self) -> Float[Array, " cells"]:
        """Output current of a set cell, model units."""
        return jnp.abs(self.p3)

    @property
    def initial_state(self) -> Float[Array, " cells"]:
        """The binary state before the first step (trainable through the surrogate)."""
        return heaviside(self.s0_logit, self.surrogate_slope)

    def candidate(self, x: Float[Array, "time inputs"]) -> Float[Array, "time cells"]:
        """Candidate currents ``max(W_c max(x, 0) + b_c, 0)`` for every step."""
        check_shape("x", x, (None, self.W_c.shape[1]))
        return jax.nn.relu(jax.nn.relu(x) @ self.W_c.T + self.b_c)

    def states(
        self,
        x: Float[Array, "time inputs"],
        *,
        eps: float | Float[Array, ""] = 0.0,
        parallel: bool = False,
    ) -> Float[Array, "time cells"]:
        """Cell states for the input sequence ``x``; in {0, 1} when ``eps = 0``."""
        return fq_bmru_scan(
            self.candidate(x),
            self.beta1,
            self.delta,
            self.initial_state,
            eps=eps,
            parallel=parallel,
            slope=self.surrogate_slope,
        )

    def project(
        self,
        states: Float[Array, "time cells"],
        *,
        dropout: float = 0.0,
        key: PRNGKeyArray | None = None,
    ) -> Float[Array, "time outputs"]:
        """Post-projection of the output currents, ``max(W_p (alpha s) + b_p, 0)``.

        With ``dropout > 0`` and a ``key``, output currents are dropped (training only).
        """
        y = self.alpha * states
        if dropout > 0.0 and key is not None:
            keep = jax.random.bernoulli(key, 1.0 - dropout, y.shape)
            y = jnp.where(keep, y / (1.0 - dropout), 0.0)
        return jax.nn.relu(y @ self.W_p.T + self.b_p)

    def __call__(
        self,
        x: Float[Array, "time inputs"],
        *,
        eps: float | Float[Array, ""] = 0.0,
        parallel: bool = False,
        dropout: float = 0.0,
        key: PRNGKeyArray | None = None,
    ) -> Float[Array, "time outputs"]:
        """Run the layer over one sequence (no batch axis; ``vmap`` for batches).

        Args:
            x: input currents, shape ``(time, inputs)``, model units.
            eps: leak of the training family; ``0`` is the BMRU.
            parallel: use the associative scan.
            dropout: dropout rate on the output currents (needs ``key``).
            key: PRNG key for dropout.

        Returns:
            Post-projected currents, shape ``(time, outputs)``.
        """
        states = self.states(x, eps=eps, parallel=parallel)
        return self.project(states, dropout=dropout, key=key)
