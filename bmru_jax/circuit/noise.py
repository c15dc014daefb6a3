"""Temporal noise: fresh at every frame, referred to the node where it acts.

Channel noise of a subthreshold branch carrying ``I`` has a current spectral density of
about ``2 q I`` (shot-like). A node integrates it over its bandwidth

    B = g_m / (2 pi C),    g_m = I_node / (n U_T),

where ``I_node`` is the current of the diode-connected device that sets the node's
impedance and ``C`` the node capacitance, so one branch adds ``2 q I B`` of variance.
Noise of independent branches into one node adds: the node carries one Gaussian with
the summed variance. The simulation therefore draws **one** number per cell and frame on
the candidate node, with

    sigma_c^2 = 2 q (sum_j |g_ij| I_j + |b_i| + c_i) B(c_i),

the branches being the mirror outputs and the bias source that feed the cell and the
cell's own input diode; it does not draw per device, and it draws the normals of all
layers and frames of a clip in one call. The cell's output is re-created
from its clean bias current and carries no noise of the candidate's. Correlations that
a shared upstream device would create between cells are neglected.

``B`` is the 3 dB bandwidth, as in the SPEC; the noise-equivalent bandwidth of a single
pole is ``pi / 2`` larger, which ``scale = sqrt(pi / 2)`` applies if wanted. Flicker
noise, optional, is a Gauss-Markov process per node whose per-frame sigma is
``flicker_rel`` times the node's branch current, correlated from frame to frame by
``flicker_correlation``.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from bmru_jax._validate import check_non_negative, is_concrete
from bmru_jax.circuit.devices import (
    ELEMENTARY_CHARGE_C,
    SLOPE_FACTOR_NMOS,
    thermal_voltage_V,
)
from bmru_jax.errors import InputError

# A candidate node joins the diode-connected 5 um x 5 um input device of the cell and
# its mirror copy: 2 x 25 um^2 of thick (3.3 V, ~7.5 nm) oxide at ~4.6 fF/um^2, of which
# weak inversion presents about (n - 1)/n, plus ~30 fF of wiring.
CANDIDATE_NODE_CAPACITANCE_FF = 100.0

# Variance below this (nA^2) is raised to it, so that sqrt has a finite gradient at
# a node that carries no current (1e-12 nA^2 is a sigma of 1 fA).
_VARIANCE_FLOOR_NA2 = 1e-12


class TemporalNoise(eqx.Module):
    """Per-frame noise on each cell's candidate node.

    Either physical (shot-like ``2 q I`` over the node bandwidth, times ``scale``) or,
    when ``sigma_nA`` is given, a fixed sigma per node. The numeric fields are arrays,
    so noise levels can be traced (``vmap``/``jit`` over them without recompiling).

    Attributes:
        capacitance_fF: candidate node capacitance ``C``, fF.
        scale: factor on the physical sigma.
        sigma_nA: fixed sigma, scalar or ``(cells,)``; replaces the physical model.
        flicker_rel: flicker sigma per frame relative to the node's branch current,
            or None for no flicker.
        flicker_correlation: frame-to-frame correlation of the flicker component.

    Example:
        >>> TemporalNoise(sigma_nA=0.01).sigma_nA.shape
        ()
    """

    capacitance_fF: Float[Array, ""]
    scale: Float[Array, ""]
    sigma_nA: Float[Array, "..."] | None
    flicker_rel: Float[Array, ""] | None
    flicker_correlation: Float[Array, ""]

    def __init__(
        self,
        *,
        capacitance_fF=CANDIDATE_NODE_CAPACITANCE_FF,
        scale=1.0,
        sigma_nA=None,
        flicker_rel=None,
        flicker_correlation=0.9,
    ):
        _check_positive("capacitance_fF", capacitance_fF)
        check_non_negative("scale", scale)
        self.capacitance_fF = jnp.asarray(capacitance_fF, jnp.float32)
        self.scale = jnp.asarray(scale, jnp.float32)
        self.sigma_nA = _optional_non_negative("sigma_nA", sigma_nA)
        self.flicker_rel = _optional_non_negative("flicker_rel", flicker_rel)
        check_non_negative("flicker_correlation", flicker_correlation)
        if is_concrete(flicker_correlation) and not float(flicker_correlation) < 1.0:
            raise InputError("flicker_correlation: must be in [0, 1)")
        self.flicker_correlation = jnp.asarray(flicker_correlation, jnp.float32)


def _check_positive(name, value):
    check_non_negative(name, value)
    if is_concrete(value) and not np.min(np.asarray(value)) > 0:
        raise InputError(f"{name}: must be positive")


def _optional_non_negative(name, value):
    if value is None:
        return None
    check_non_negative(name, value)
    return jnp.asarray(value, jnp.float32)


def node_bandwidth_Hz(
    node_current_nA: Float[ArrayLike, "..."],
    temperature_K: Float[ArrayLike, ""],
    capacitance_fF: Float[ArrayLike, ""],
) -> Float[Array, "..."]:
    """``B = g_m / (2 pi C)`` with ``g_m = I / (n U_T)`` (NMOS diode), in Hz.

    Example:
        >>> current, kelvin, farad = (jnp.asarray(v) for v in (1.0, 300.15, 100.0))
        >>> round(float(node_bandwidth_Hz(current, kelvin, farad)))
        43333
    """
    g_m_S = (
        node_current_nA * 1e-9 / (SLOPE_FACTOR_NMOS * thermal_voltage_V(temperature_K))
    )
    return g_m_S / (2 * jnp.pi * capacitance_fF * 1e-15)


def shot_noise_variance_nA2(
    current_nA: Float[ArrayLike, "..."], bandwidth_Hz: Float[ArrayLike, "..."]
) -> Float[Array, "..."]:
    """Variance ``2 q I B`` of one branch's current over bandwidth ``B``, in nA^2.

    Example:
        >>> variance = shot_noise_variance_nA2(jnp.asarray(1.0), jnp.asarray(1e4))
        >>> round(float(variance) * 1e6, 3)
        3.204
    """
    # 2 q (I 1e-9 A) B in A^2, times 1e18 for nA^2.
    return 2 * ELEMENTARY_CHARGE_C * jnp.asarray(current_nA) * bandwidth_Hz * 1e9


def candidate_noise_sigma_nA(
    noise: TemporalNoise,
    branch_current_nA: Float[Array, "time cells"],
    candidates_nA: Float[Array, "time cells"],
    temperature_K: Float[Array, ""],
) -> Float[Array, "time cells"]:
    """Per-frame sigma of each candidate node (module docstring), in nA.

    Args:
        noise: the noise settings.
        branch_current_nA: summed current of every branch into the node,
            ``(time, cells)``.
        candidates_nA: the node's diode current (the noiseless candidate).
        temperature_K: die temperature.

    Returns:
        Sigma, ``(time, cells)``, nA.
    """
    if noise.sigma_nA is not None:
        return jnp.broadcast_to(noise.sigma_nA, candidates_nA.shape)
    bandwidth = node_bandwidth_Hz(candidates_nA, temperature_K, noise.capacitance_fF)
    variance = shot_noise_variance_nA2(branch_current_nA, bandwidth)
    return noise.scale * jnp.sqrt(jnp.maximum(variance, _VARIANCE_FLOOR_NA2))


def candidate_noise_nA(
    noise: TemporalNoise,
    branch_current_nA: Float[Array, "time cells"],
    candidates_nA: Float[Array, "time cells"],
    temperature_K: Float[Array, ""],
    normals: Float[Array, "draws time cells"],
) -> Float[Array, "time cells"]:
    """The noise current on the candidate nodes, one value per cell and frame.

    The caller draws the standard normals in bulk (one ``jax.random.normal`` for all
    layers, see :func:`draw_normals`): ``normals[0]`` is the white part, ``normals[1]``
    drives the flicker part when there is one.

    Example:
        >>> import jax
        >>> z = draw_normals(jax.random.key(0), TemporalNoise(sigma_nA=0.5), 3, 2)
        >>> ones = jnp.ones((3, 2))
        >>> candidate_noise_nA(TemporalNoise(sigma_nA=0.5), ones, ones,
        ...     jnp.asarray(300.0), z).shape
        (3, 2)
    """
    sigma = candidate_noise_sigma_nA(
        noise, branch_current_nA, candidates_nA, temperature_K
    )
    white = sigma * normals[0]
    if noise.flicker_rel is None:
        return white
    slow = _gauss_markov(normals[1], noise.flicker_correlation)
    return white + noise.flicker_rel * branch_current_nA * slow


def draw_normals(
    key: PRNGKeyArray, noise: TemporalNoise, frames: int, cells: int
) -> Float[Array, "draws frames cells"]:
    """All standard normals a clip needs, in one call: ``(1 or 2, frames, cells)``.

    ``cells`` counts the cells of every layer together; two draws with flicker.
    """
    draws = 1 if noise.flicker_rel is None else 2
    return jax.random.normal(key, (draws, frames, cells))


def _gauss_markov(normals, rho):
    """Unit-variance AR(1) along axis 0: ``z_t = rho z_{t-1} + sqrt(1 - rho^2) e_t``.

    As one matrix product: ``z = L e`` with ``L[t, s] = rho^(t-s)`` times
    ``sqrt(1 - rho^2)`` for ``s > 0`` (the first draw starts stationary).
    """
    t = jnp.arange(normals.shape[0])
    lag = t[:, None] - t[None, :]
    gain = jnp.where(t[None, :] > 0, jnp.sqrt(1 - rho**2), 1.0)
    mixing = jnp.where(lag >= 0, rho ** jnp.maximum(lag, 0) * gain, 0.0)
    return mixing @ normals
