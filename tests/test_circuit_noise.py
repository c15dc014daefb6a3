"""Temporal noise: node-referred against per-device draws, scaling, suppression."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bmru_jax import circuit
from bmru_jax.circuit.noise import (
    candidate_noise_sigma_nA,
    node_bandwidth_Hz,
    shot_noise_variance_nA2,
)
from bmru_jax.models import HardwareBackbone

T0 = jnp.float32(300.15)


def test_shot_noise_scales_with_current_and_bandwidth():
    # 2 q I B: 1 nA over 10 kHz is 3.204e-24 A^2 = 3.204e-6 nA^2.
    one = shot_noise_variance_nA2(jnp.float32(1.0), jnp.float32(1e4))
    assert float(one) == pytest.approx(3.2044e-6, rel=1e-4)
    assert float(shot_noise_variance_nA2(2.0, 1e4)) == pytest.approx(2 * float(one))
    assert float(shot_noise_variance_nA2(1.0, 3e4)) == pytest.approx(3 * float(one))
    # B = I / (n U_T) / (2 pi C): proportional to the node current, inverse to C.
    b = node_bandwidth_Hz(jnp.float32(1.0), T0, jnp.float32(100.0))
    assert float(node_bandwidth_Hz(2.0, T0, 100.0)) == pytest.approx(2 * float(b))
    assert float(node_bandwidth_Hz(1.0, T0, 50.0)) == pytest.approx(2 * float(b))


def test_node_referred_noise_equals_the_sum_of_per_device_draws():
    rng = np.random.default_rng(0)
    inputs, cells, samples = 6, 3, 40000
    u = rng.uniform(0.1, 1.0, inputs).astype(np.float32)
    W = rng.normal(0.0, 0.8, (cells, inputs)).astype(np.float32)
    b = np.array([0.2, -0.1, 0.3], np.float32)
    c = np.maximum(W @ u + b, 0.05).astype(np.float32)
    noise = circuit.TemporalNoise()
    branches = np.abs(W) @ u + np.abs(b) + c
    sigma = candidate_noise_sigma_nA(
        noise, jnp.asarray(branches[None]), jnp.asarray(c[None]), T0
    )[0]
    # Reference: every branch (each mirror output, the source, the cell's diode) draws
    # its own 2 q I B(c) noise; the node sees their sum.
    per_branch = np.concatenate([np.abs(W) * u, np.abs(b)[:, None], c[:, None]], axis=1)
    bandwidth = np.asarray(node_bandwidth_Hz(c, T0, noise.capacitance_fF))
    variances = np.asarray(shot_noise_variance_nA2(per_branch, bandwidth[:, None]))
    draws = rng.standard_normal((samples,) + variances.shape) * np.sqrt(variances)
    measured = draws.sum(axis=2).var(axis=0)
    tolerance = 5 * math.sqrt(2 / samples)
    np.testing.assert_allclose(measured, np.asarray(sigma) ** 2, rtol=tolerance)


def test_simulated_candidate_noise_has_the_predicted_variance():
    model = HardwareBackbone(width=4, key=jax.random.key(0))
    die = circuit.die_from_model(model, nonideal=circuit.NonIdealities.ideal())
    features = jax.random.normal(jax.random.key(1), (101, 13))
    # One compiled function for everything: zero sigma gives the clean candidates,
    # and the last three keys of the batch check that a key fixes the draw.
    run = jax.jit(
        jax.vmap(
            lambda k, sigma: (
                circuit.simulate(
                    die, features, key=k, noise=circuit.TemporalNoise(sigma_nA=sigma)
                ).candidates_nA
            ),
            in_axes=(0, None),
        )
    )
    key, other = jax.random.key(3), jax.random.key(4)
    keys = jnp.concatenate(
        [jax.random.split(jax.random.key(2), 197), jnp.stack([key, key, other])]
    )
    clean = run(keys, 0.0)[0]
    runs = run(keys, 0.02)
    mask = clean > 0.2  # far from the diode's cut-off at 0
    deviation = np.asarray(runs[:197] - clean)[:, mask]
    n = deviation.size
    assert abs(deviation.var() - 0.02**2) < 5 * 0.02**2 * math.sqrt(2 / n)
    assert jnp.array_equal(runs[197], runs[198])
    assert not jnp.array_equal(runs[197], runs[199])


def test_flicker_is_unit_variance_gauss_markov():
    from bmru_jax.circuit.noise import _gauss_markov

    rho = 0.8
    z = np.asarray(_gauss_markov(jax.random.normal(jax.random.key(0), (50, 4000)), rho))
    n = z[1:].size
    assert abs(z.var() - 1) < 5 * math.sqrt(2 / z.size) * 3  # correlated samples
    lag1 = np.mean(z[1:] * z[:-1])
    assert abs(lag1 - rho) < 5 * 3 / math.sqrt(n)


@pytest.mark.parametrize("state", [0.0, 1.0])
def test_nominal_cell_suppresses_noise_twentyfold_inside_its_window(state):
    # 10 pA of candidate noise, several times the physical ~2-5 pA, mid-window.
    result = circuit.noise_suppression(
        candidate_nA=0.25, sigma_nA=0.01, initial_state=state, key=jax.random.key(0)
    )
    assert float(result.factor) >= 20.0
    assert float(result.flip_probability) == 0.0


def test_flip_probability_near_a_threshold_is_the_gaussian_tail():
    trials = 40000
    result = circuit.noise_suppression(
        candidate_nA=0.34,
        sigma_nA=0.01,
        initial_state=0.0,
        frames=1,
        trials=trials,
        key=jax.random.key(1),
    )
    expected = 0.5 * math.erfc(1 / math.sqrt(2))  # P(c >= beta2 = c0 + 1 sigma)
    tolerance = 5 * math.sqrt(expected * (1 - expected) / trials)
    assert abs(float(result.flip_probability) - expected) < tolerance
    assert float(result.factor) < 20.0
