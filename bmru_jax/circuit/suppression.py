"""How much candidate noise a BMRU cell lets through to its output.

The published claim is that the discrete output suppresses analog noise by at least
20x at each cell boundary: inside the hysteresis window a perturbation of the
candidate changes nothing at the output, which is re-created from a clean bias current.
:func:`noise_suppression` measures it on the behavioural cell by Monte Carlo.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from bmru_jax._validate import check_non_negative, check_positive_int
from bmru_jax.circuit.devices import (
    NOMINAL_CELL_ALPHA_PA,
    NOMINAL_CELL_BETA2_PA,
    NOMINAL_CELL_DELTA_PA,
    DeviceParameters,
    NonIdealities,
    cell_output_nA,
    schmitt_states,
)


class Suppression(eqx.Module):
    """Result of :func:`noise_suppression` (powers in nA^2).

    Attributes:
        input_power_nA2: variance of the noise on the candidate.
        output_power_nA2: mean square deviation of the output from the noiseless
            output (flips included).
        factor: ``input_power / output_power`` (inf when nothing gets through).
        flip_probability: share of frames whose state differs from the noiseless one.
    """

    input_power_nA2: Float[Array, ""]
    output_power_nA2: Float[Array, ""]
    factor: Float[Array, ""]
    flip_probability: Float[Array, ""]


def noise_suppression(
    *,
    candidate_nA: float | Float[Array, ""],
    sigma_nA: float | Float[Array, ""],
    initial_state: float | Float[Array, ""],
    key: PRNGKeyArray,
    alpha_nA: float = NOMINAL_CELL_ALPHA_PA / 1e3,
    beta1_nA: float = (NOMINAL_CELL_BETA2_PA - NOMINAL_CELL_DELTA_PA) / 1e3,
    delta_nA: float = NOMINAL_CELL_DELTA_PA / 1e3,
    frames: int = 101,
    trials: int = 2000,
    nonideal: NonIdealities = NonIdealities(),
    device: DeviceParameters = DeviceParameters(),
) -> Suppression:
    """Noise power in on the candidate against noise power out on the output current.

    A cell (default: the nominal cell, on at 350 pA, off at 150 pA, alpha 500 pA)
    starts in ``initial_state`` and sees the constant candidate ``c0 = candidate_nA``
    plus fresh Gaussian noise of sigma ``sigma_nA`` every frame, for ``frames``
    frames and ``trials`` independent runs. With ``y0`` the output of the same cell
    without noise,

        P_in  = var(c - c0)
        P_out = mean((y - y0)^2)
        suppression = P_in / P_out,    flip probability = mean(s != s0_noiseless).

    Away from the thresholds (several sigma), the output only moves through the small
    droop and leakage slopes and the suppression is large; near a threshold the flip
    probability approaches ``P(c0 + noise crosses it)`` and the suppression collapses.

    Args:
        candidate_nA: operating point ``c0``, nA.
        sigma_nA: candidate noise sigma per frame, nA.
        initial_state: 0 or 1.
        key: key of the noise draws.
        alpha_nA, beta1_nA, delta_nA: the cell.
        frames, trials: Monte Carlo size.
        nonideal, device: the cell's non-idealities and constants.

    Returns:
        A :class:`Suppression`.

    Example:
        >>> s = noise_suppression(candidate_nA=0.25, sigma_nA=0.01, initial_state=1.0,
        ...     key=jax.random.key(0), trials=100)
        >>> bool(s.factor > 20)
        True
    """
    for name, value in (("candidate_nA", candidate_nA), ("sigma_nA", sigma_nA)):
        check_non_negative(name, value)
    frames = check_positive_int("frames", frames)
    trials = check_positive_int("trials", trials)
    cell = (jnp.asarray([beta1_nA]), jnp.asarray([delta_nA]), jnp.asarray([alpha_nA]))
    s0 = jnp.asarray([initial_state], jnp.float32)

    def run(candidates):
        beta1, delta, alpha = cell
        c = candidates[:, None]
        s = schmitt_states(c, beta1, delta, s0, nonideal, device)
        y = cell_output_nA(s, c, alpha, beta1 + delta, 1.0, nonideal, device)
        return s[:, 0], y[:, 0]

    clean = jnp.full((frames,), candidate_nA, jnp.float32)
    s_clean, y_clean = run(clean)
    noise = sigma_nA * jax.random.normal(key, (trials, frames))
    noisy = jax.nn.relu(clean + noise)
    s, y = jax.vmap(run)(noisy)
    input_power = jnp.var(noisy - clean)
    output_power = jnp.mean((y - y_clean) ** 2)
    return Suppression(
        input_power_nA2=input_power,
        output_power_nA2=output_power,
        factor=input_power / output_power,
        flip_probability=jnp.mean(s != s_clean),
    )
