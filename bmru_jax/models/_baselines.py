"""Continuous recurrent baselines: minGRU and LRU in a pre-norm residual stack.

minGRU (a gated recurrence without hidden-state dependence in its gates):

    z_t = sigmoid(W_z x_t + b_z),   h~_t = W_h x_t + b_h
    h_t = (1 - z_t) h_{t-1} + z_t h~_t

LRU (a diagonal complex linear recurrence with a stable exponential parameterisation):

    lambda = exp(-exp(nu) + i exp(theta)),   |lambda| in [r_min, r_max]
    h_t = lambda h_{t-1} + gamma (B x_t),    gamma = sqrt(1 - |lambda|^2)
    y_t = Re(C h_t) + D x_t

Both are affine in the previous state, so they share the scans of the BMRU. The stack is
``x <- x + cell(norm(x))`` per layer, between an input projection and a classifier.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Complex, Float, PRNGKeyArray

from bmru_jax._validate import check_finite, check_positive_int, check_shape
from bmru_jax.errors import InputError
from bmru_jax.models._scan import linear_recurrence


class MinGRU(eqx.Module):
    """One minGRU layer mapping ``(time, size)`` to ``(time, size)``."""

    gate: eqx.nn.Linear
    candidate: eqx.nn.Linear

    def __init__(self, size: int, *, key: PRNGKeyArray):
        size = check_positive_int("size", size)
        k_z, k_h = jax.random.split(key)
        self.gate = eqx.nn.Linear(size, size, key=k_z)
        self.candidate = eqx.nn.Linear(size, size, key=k_h)

    def __call__(
        self, x: Float[Array, "time size"], *, parallel: bool = False
    ) -> Float[Array, "time size"]:
        """Hidden states for one sequence, starting from zero."""
        z = jax.nn.sigmoid(jax.vmap(self.gate)(x))
        h_tilde = jax.vmap(self.candidate)(x)
        h0 = jnp.zeros(x.shape[1], x.dtype)
        return linear_recurrence(1.0 - z, z * h_tilde, h0, parallel=parallel)


class LRU(eqx.Module):
    """One Linear Recurrent Unit layer mapping ``(time, size)`` to ``(time, size)``.

    Eigenvalues are drawn uniformly on the ring ``r_min <= |lambda| <= r_max``, with
    phase in ``[0, max_phase]`` (defaults 0.9, 0.999, 2 pi as published).
    """

    nu_log: Float[Array, " state"]
    theta_log: Float[Array, " state"]
    gamma_log: Float[Array, " state"]
    B_re: Float[Array, "state size"]
    B_im: Float[Array, "state size"]
    C_re: Float[Array, "size state"]
    C_im: Float[Array, "size state"]
    D: Float[Array, " size"]

    def __init__(
        self,
        size: int,
        state_size: int | None = None,
        *,
        r_min: float = 0.9,
        r_max: float = 0.999,
        max_phase: float = 2 * jnp.pi,
        key: PRNGKeyArray,
    ):
        size = check_positive_int("size", size)
        state = check_positive_int("state_size", state_size or size)
        if not 0.0 <= r_min < r_max <= 1.0:
            raise InputError(
                f"r_min, r_max: need 0 <= r_min < r_max <= 1, got {r_min}, {r_max}"
            )
        k_u1, k_u2, k_b1, k_b2, k_c1, k_c2, k_d = jax.random.split(key, 7)
        u1 = jax.random.uniform(k_u1, (state,))
        u2 = jax.random.uniform(k_u2, (state,))
        self.nu_log = jnp.log(-0.5 * jnp.log(u1 * (r_max**2 - r_min**2) + r_min**2))
        self.theta_log = jnp.log(max_phase * u2)
        magnitude = jnp.exp(-jnp.exp(self.nu_log))
        self.gamma_log = jnp.log(jnp.sqrt(1.0 - magnitude**2))
        b_scale = 1.0 / jnp.sqrt(2.0 * size)
        self.B_re = b_scale * jax.random.normal(k_b1, (state, size))
        self.B_im = b_scale * jax.random.normal(k_b2, (state, size))
        c_scale = 1.0 / jnp.sqrt(state)
        self.C_re = c_scale * jax.random.normal(k_c1, (size, state))
        self.C_im = c_scale * jax.random.normal(k_c2, (size, state))
        self.D = jax.random.normal(k_d, (size,))

    @property
    def eigenvalues(self) -> Complex[Array, " state"]:
        """The diagonal recurrence ``lambda``."""
        return jnp.exp(-jnp.exp(self.nu_log) + 1j * jnp.exp(self.theta_log))

    def __call__(
        self, x: Float[Array, "time size"], *, parallel: bool = False
    ) -> Float[Array, "time size"]:
        """Outputs for one sequence, starting from a zero state."""
        drive = (x @ (self.B_re + 1j * self.B_im).T) * jnp.exp(self.gamma_log)
        decay = jnp.broadcast_to(self.eigenvalues, drive.shape)
        h0 = jnp.zeros(drive.shape[1], drive.dtype)
        h = linear_recurrence(decay, drive, h0, parallel=parallel)
        return (h @ (self.C_re + 1j * self.C_im).T).real + self.D * x


_CELLS = {"mingru": MinGRU, "lru": LRU}


class ResidualStack(eqx.Module):
    """A pre-norm residual stack of continuous recurrent layers with a classifier.

    ``cell`` is ``"mingru"`` or ``"lru"``. The interface matches
    :class:`HardwareBackbone`: features ``(time, features)`` in, logits out.

    Example:
        >>> import jax
        >>> model = ResidualStack("lru", width=8, key=jax.random.key(0))
        >>> model(jax.numpy.zeros((20, 13))).shape
        (20, 2)
    """

    cell: str = eqx.field(static=True)
    encoder: eqx.nn.Linear
    norms: tuple[eqx.nn.LayerNorm, ...]
    layers: tuple[MinGRU | LRU, ...]
    classifier: eqx.nn.Linear

    def __init__(
        self,
        cell: str,
        n_features: int = 13,
        width: int = 4,
        n_layers: int = 2,
        n_classes: int = 2,
        *,
        key: PRNGKeyArray,
    ):
        if cell not in _CELLS:
            raise InputError(f"cell: must be one of {sorted(_CELLS)}, got {cell!r}")
        n_features = check_positive_int("n_features", n_features)
        width = check_positive_int("width", width)
        n_layers = check_positive_int("n_layers", n_layers)
        n_classes = check_positive_int("n_classes", n_classes)
        k_in, k_out, *k_layers = jax.random.split(key, 2 + n_layers)
        self.cell = cell
        self.encoder = eqx.nn.Linear(n_features, width, key=k_in)
        self.norms = tuple(eqx.nn.LayerNorm(width) for _ in k_layers)
        self.layers = tuple(_CELLS[cell](width, key=k) for k in k_layers)
        self.classifier = eqx.nn.Linear(width, n_classes, key=k_out)

    def __call__(
        self,
        features: Float[Array, "time features"],
        *,
        parallel: bool = False,
        key: PRNGKeyArray | None = None,
    ) -> Float[Array, "time classes"]:
        """Per-frame logits for one clip; ``key`` is accepted for a common interface."""
        check_shape("features", features, (None, self.encoder.in_features))
        check_finite("features", features)
        x = jax.vmap(self.encoder)(features)
        for norm, layer in zip(self.norms, self.layers):
            x = x + layer(jax.vmap(norm)(x), parallel=parallel)
        return jax.vmap(self.classifier)(x)
