"""Frozen die variation: statistics from the sample count, traceable levels, errors."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bmru_jax import circuit
from bmru_jax.circuit.devices import (
    SLOPE_FACTOR_NMOS,
    SLOPE_FACTOR_PMOS,
    thermal_voltage_V,
)
from bmru_jax.errors import InputError
from bmru_jax.models import HardwareBackbone

DIES = 4000


def _nominal():
    model = HardwareBackbone(width=4, key=jax.random.key(0))
    W_c = jnp.ones((4, 4)).at[:, 1].set(-1.0)  # unit gains: 5 um mirrors
    model = eqx.tree_at(lambda m: m.layers[0].W_c, model, W_c)
    return circuit.die_from_model(model)


@eqx.filter_jit
def _dies(nominal, variation, keys):
    return jax.vmap(lambda k: circuit.perturb_die(nominal, variation, key=k))(keys)


@eqx.filter_jit
@eqx.debug.assert_max_traces(max_traces=1)
def _multiplicative_dies(nominal, p, keys):
    """Levels are traced: every ``p`` runs through one compilation."""
    return _dies(nominal, circuit.Multiplicative(p), keys)


def _keys(n=DIES):
    return jax.vmap(lambda i: circuit.die_key(jax.random.key(1), 0, i))(jnp.arange(n))


def _assert_mean_sigma(samples, mean, sigma):
    """Mean and sigma within 5 standard errors of their estimators."""
    n = samples.size
    assert abs(float(np.mean(samples)) - mean) < 5 * sigma / math.sqrt(n)
    assert abs(float(np.std(samples)) - sigma) < 5 * sigma / math.sqrt(2 * n)


def test_multiplicative_spread_is_p_over_three_at_every_level():
    nominal = _nominal()
    for p in (0.1, 0.3):  # one trace for both levels
        dies = _multiplicative_dies(nominal, jnp.float32(p), _keys())
        ratio = np.asarray(dies.layers[0].W_c / nominal.layers[0].W_c)
        _assert_mean_sigma(ratio, 1.0, p / 3)
        bias = np.asarray(dies.W_in / nominal.W_in)
        _assert_mean_sigma(bias, 1.0, p / 3)
    assert float(circuit.Multiplicative.from_multiple(1.0).p) == pytest.approx(0.1)


def test_cell_parameters_vary_through_the_bias_transfer():
    nominal = _nominal()
    p = 0.3
    dies = _multiplicative_dies(nominal, jnp.float32(p), _keys())
    alpha0 = nominal.layers[0].alpha_nA
    # alpha' - 6 pA = (alpha - 6 pA)(1 + e): the bias current carries the spread.
    ratio = np.asarray((dies.layers[0].alpha_nA - 0.006) / (alpha0 - 0.006))
    _assert_mean_sigma(ratio, 1.0, p / 3)


def test_pelgrom_gain_spread_matches_the_subthreshold_model():
    nominal = _nominal()
    dies = _dies(nominal, circuit.Pelgrom(5.0, 4.0), _keys())
    log_gain = np.log(np.asarray(dies.layers[0].W_c / nominal.layers[0].W_c))
    u_t_mV = 1e3 * float(thermal_voltage_V(300.15))
    for column, a_vt, n in ((0, 4.0, SLOPE_FACTOR_PMOS), (1, 5.0, SLOPE_FACTOR_NMOS)):
        # Input and output device, 5 um x 5 um each: sqrt(2) A_VT / 5 um / (n U_T).
        sigma = math.sqrt(2) * a_vt / 5.0 / (n * u_t_mV)
        _assert_mean_sigma(log_gain[:, 0, column], 0.0, sigma)
    # Mirrors of one column share the input device: their errors correlate by 1/2.
    corr = np.corrcoef(log_gain[:, 0, 0], log_gain[:, 1, 0])[0, 1]
    assert abs(corr - 0.5) < 5 * (1 - 0.25) / math.sqrt(DIES)


def test_no_variation_is_the_nominal_die_and_draws_never_compound():
    nominal = _nominal()
    zero = _multiplicative_dies(nominal, jnp.float32(0.0), _keys())
    assert jnp.array_equal(zero.layers[0].W_c[2], nominal.layers[0].W_c)
    key = jax.random.key(5)
    first = circuit.sample_die(nominal, circuit.Multiplicative(0.2), key=key)
    circuit.sample_die(nominal, circuit.Multiplicative(0.2), key=jax.random.key(6))
    again = circuit.sample_die(nominal, circuit.Multiplicative(0.2), key=key)
    assert jnp.array_equal(first.layers[1].W_p, again.layers[1].W_p)


def test_global_shift_moves_leakage_temperature_and_supply():
    nominal = _nominal()
    same = circuit.sample_die(nominal, circuit.GlobalShift(), key=jax.random.key(0))
    np.testing.assert_allclose(same.layers[0].W_c, nominal.layers[0].W_c, rtol=1e-6)
    assert float(same.leakage_scale) == pytest.approx(1.0, rel=1e-5)
    hot = circuit.sample_die(
        nominal, circuit.GlobalShift("ss", 67.0, 1.62), key=jax.random.key(0)
    )
    u_t_mV = 1e3 * float(thermal_voltage_V(340.15))
    expected = math.exp(-30.0 / (SLOPE_FACTOR_NMOS * u_t_mV)) * 2.0**2
    assert float(hot.leakage_scale) == pytest.approx(expected, rel=1e-5)
    assert float(hot.temperature_K) == pytest.approx(340.15)
    ratio = hot.layers[0].W_c / nominal.layers[0].W_c
    np.testing.assert_allclose(ratio, 1 - 0.18 / 20.0, rtol=1e-5)


@pytest.mark.parametrize(
    "make, field",
    [
        (lambda: circuit.GlobalShift(corner="fast"), "corner"),
        (lambda: circuit.GlobalShift(temperature_C=float("nan")), "temperature_C"),
        (lambda: circuit.GlobalShift(temperature_C=-300.0), "temperature_C"),
        (lambda: circuit.GlobalShift(vdd_V=-1.0), "vdd_V"),
        (lambda: circuit.Multiplicative(-0.1), "p"),
        (lambda: circuit.Multiplicative(float("nan")), "p"),
        (lambda: circuit.Pelgrom(scale=-1.0), "scale"),
        (lambda: circuit.TemporalNoise(sigma_nA=-0.01), "sigma_nA"),
        (lambda: circuit.TemporalNoise(capacitance_fF=0.0), "capacitance_fF"),
        (
            lambda: circuit.sample_die(
                _nominal(), "ten percent", key=jax.random.key(0)
            ),
            "variation",
        ),
    ],
)
def test_bad_variation_names_the_field(make, field, as_user):
    with pytest.raises(InputError, match=field):
        make()
