"""The frame simulator: exactness against software, a NumPy twin, keys, grad, traces."""

import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bmru_jax import circuit
from bmru_jax.bench.simulator import numpy_simulate
from bmru_jax.circuit.montecarlo import DRAW_COMPILER_OPTIONS
from bmru_jax.errors import InputError
from bmru_jax.models import HardwareBackbone

FRAMES, CLIPS = 40, 6


def _signed_model(seed, width=4):
    """A random backbone with signed candidate weights (sinking mirrors too)."""
    model = HardwareBackbone(width=width, key=jax.random.key(seed))
    keys = jax.random.split(jax.random.key(seed + 100), len(model.layers))
    layers = tuple(
        eqx.tree_at(
            lambda m: m.W_c,
            layer,
            layer.W_c - 0.3 * jax.random.uniform(k, layer.W_c.shape),
        )
        for layer, k in zip(model.layers, keys)
    )
    return eqx.tree_at(lambda m: m.layers, model, layers)


def _clips(seed, width=13):
    return jax.random.normal(jax.random.key(seed), (CLIPS, FRAMES, width))


_run = jax.jit(jax.vmap(lambda die, x: circuit.simulate(die, x), in_axes=(None, 0)))
_trace = eqx.filter_jit(lambda model, x: jax.vmap(model.trace)(x))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ideal_die_reproduces_the_software_model(seed):
    model = _signed_model(seed)
    die = circuit.die_from_model(model, nonideal=circuit.NonIdealities.ideal())
    clips = _clips(seed)
    result = _run(die, clips)
    software = _trace(model, clips)
    assert jnp.array_equal(result.states, software.states)
    np.testing.assert_allclose(result.logits, software.logits, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        result.outputs_nA, software.outputs, rtol=1e-5, atol=1e-6
    )


def test_non_ideal_die_matches_the_numpy_twin():
    model = _signed_model(5)
    variation = (circuit.Multiplicative(0.3), circuit.GlobalShift(corner="ff"))
    die = circuit.sample_die(
        circuit.die_from_model(model), variation, key=jax.random.key(9)
    )
    clips = _clips(5)
    result = _run(die, clips)
    reference = numpy_simulate(die, np.asarray(clips))
    assert np.mean(np.asarray(result.states) == reference["states"]) == 1.0
    np.testing.assert_allclose(result.logits, reference["logits"], rtol=1e-4, atol=1e-5)


def test_non_idealities_move_the_output_levels_as_specified():
    model = _signed_model(6)
    die = circuit.die_from_model(model)
    result = jax.jit(circuit.simulate)(die, _clips(6)[0])
    s, c, y = result.states, result.candidates_nA, result.cell_outputs_nA
    alpha = jnp.stack([layer.alpha_nA for layer in die.layers])[:, None, :]
    low = y[s == 0]
    assert jnp.all((low >= 0.003 - 1e-7) & (low <= 0.007 + 1e-7))  # 3-7 pA leakage
    droop = 1 - (y / alpha)[s == 1]
    expected = 0.02 * jnp.minimum(c[s == 1] / 3.0, 1.0)
    np.testing.assert_allclose(droop, expected, atol=1e-6)


def test_settling_delays_a_marginal_switch_by_whole_frames():
    one = jnp.ones(1)
    device = circuit.DeviceParameters()
    settle = circuit.NonIdealities(settling=True)
    from bmru_jax.circuit.devices import schmitt_states

    # 0.2 pA past the set threshold: 1.8 fC by the sample, 2 fC per frame, 5 fC needed,
    # so the switch lands at the third frame; 10 pA past it switches at once.
    beta2 = jnp.float32(0.15) + jnp.float32(0.2)
    marginal = jnp.full((5, 1), beta2 + 0.0002)
    states = schmitt_states(marginal, 0.15 * one, 0.2 * one, 0 * one, settle, device)
    assert states[:, 0].tolist() == [0.0, 0.0, 1.0, 1.0, 1.0]
    clear = jnp.full((5, 1), beta2 + 0.01)
    states = schmitt_states(clear, 0.15 * one, 0.2 * one, 0 * one, settle, device)
    assert states[:, 0].tolist() == [1.0] * 5


def test_branch_currents_add_up():
    model = _signed_model(7)
    die = circuit.die_from_model(model, nonideal=circuit.NonIdealities.ideal())
    features = _clips(7)[0]
    simulate = jax.jit(circuit.simulate, static_argnames="record")
    currents = simulate(die, features, record=("currents",)).currents
    W_in = np.abs(np.asarray(die.W_in))
    expected = np.abs(np.asarray(features)) @ W_in.T  # each weight copies |m| once
    bank = currents.mirrors["input.W_in"]
    np.testing.assert_allclose(bank.source_nA + bank.sink_nA, expected, rtol=1e-5)
    static = sum(
        jnp.sum(getattr(currents.cells, f))
        for f in ("I_gain_nA", "I_thresh_nA", "I_width_nA")
    )
    np.testing.assert_allclose(
        currents.cells_total_nA(),
        static + jnp.sum(currents.cells.output_nA, axis=(0, 2)),
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        currents.total_nA(), currents.cells_total_nA() + currents.mirrors_total_nA()
    )


def test_die_numbers_do_not_depend_on_batching():
    nominal = circuit.die_from_model(_signed_model(8))
    root = jax.random.key(3)
    variation = (circuit.Multiplicative(0.2), circuit.Pelgrom())

    # Backend optimisation off, as the campaign draws its dies: compiling fast.
    @functools.partial(jax.jit, compiler_options=DRAW_COMPILER_OPTIONS)
    def dies(indices):
        return jax.vmap(
            lambda i: circuit.perturb_die(
                nominal, variation, key=circuit.die_key(root, 0, i)
            )
        )(indices)

    whole = dies(jnp.arange(4))
    halves = [dies(jnp.arange(2)), dies(jnp.arange(2, 4))]
    chunked = jax.tree.map(lambda a, b: jnp.concatenate([a, b]), *halves)
    assert all(jax.tree.leaves(jax.tree.map(jnp.array_equal, whole, chunked)))
    # Die 3 alone, in another position of another batch.
    alone = jax.tree.map(lambda a: a[0], dies(jnp.array([3, 0, 1, 2])))
    picked = jax.tree.map(lambda a: a[3], whole)
    assert all(jax.tree.leaves(jax.tree.map(jnp.array_equal, picked, alone)))


def test_grad_flows_through_the_simulator_to_the_model():
    model = _signed_model(10)
    features = _clips(10)[0]

    def loss(m):
        die = circuit.die_from_model(m)
        noise = circuit.TemporalNoise()
        logits = circuit.simulate(
            die, features, key=jax.random.key(0), noise=noise
        ).logits
        return jnp.mean(logits**2)

    grads = eqx.filter_jit(jax.grad(loss))(model)
    for leaf in (grads.W_in, grads.layers[0].W_c, grads.layers[0].p1, grads.W_fc):
        assert jnp.all(jnp.isfinite(leaf))
    assert jnp.any(grads.layers[0].W_c != 0)
    assert jnp.any(grads.layers[0].p1 != 0)  # the surrogate reaches the thresholds


def test_perturbed_model_is_the_sampled_die_and_keeps_gradients():
    model = _signed_model(11)
    settings = circuit.CircuitSettings()
    variation = circuit.Multiplicative(0.3)
    key = jax.random.key(4)
    noisy = circuit.perturb_model(model, variation, key=key, settings=settings)
    ideal = circuit.NonIdealities.ideal()
    die = circuit.perturb_die(
        circuit.die_from_model(model, nonideal=ideal), variation, key=key
    )
    clips = _clips(11)
    assert jnp.array_equal(_trace(noisy, clips).states, _run(die, clips).states)
    grads = eqx.filter_jit(
        jax.grad(
            lambda m: jnp.sum(
                circuit.perturb_model(m, variation, key=key).layers[0].W_c
            )
        )
    )(model)
    ratio = noisy.layers[0].W_c / model.layers[0].W_c
    np.testing.assert_allclose(grads.layers[0].W_c, ratio, rtol=1e-5)


def test_perturbed_model_keeps_a_die_whose_reset_threshold_went_negative():
    # A lower threshold trained to almost zero goes negative on many dies at high
    # mismatch; those cells never reset, and the perturbed model must agree.
    model = _signed_model(12)
    model = eqx.tree_at(lambda m: m.layers[0].p1, model, jnp.full((4,), 1e-3))
    variation = circuit.Multiplicative(1.0)
    ideal = circuit.NonIdealities.ideal()
    clips = _clips(12)
    negative = 0
    for seed in range(4):
        key = jax.random.key(seed)
        noisy = circuit.perturb_model(model, variation, key=key)
        die = circuit.perturb_die(
            circuit.die_from_model(model, nonideal=ideal), variation, key=key
        )
        negative += int(jnp.sum(die.layers[0].beta1_nA < 0))
        assert jnp.array_equal(_trace(noisy, clips).states, _run(die, clips).states)
    assert negative > 0  # the case under test did occur


def test_the_jitted_entry_point_traces_once():
    @eqx.filter_jit
    @eqx.debug.assert_max_traces(max_traces=1)
    def run(die, features, key):
        return circuit.simulate(die, features, key=key, noise=circuit.TemporalNoise())

    for seed in range(3):
        die = circuit.die_from_model(_signed_model(seed))
        run(die, _clips(seed)[0], jax.random.key(seed))


def test_bad_arguments_name_themselves(as_user):
    die = circuit.die_from_model(_signed_model(0))
    with pytest.raises(InputError, match="features"):
        circuit.simulate(die, jnp.zeros((10, 12)))
    with pytest.raises(InputError, match="key"):
        circuit.simulate(die, jnp.zeros((10, 13)), noise=circuit.TemporalNoise())
    with pytest.raises(InputError, match="record"):
        circuit.simulate(die, jnp.zeros((10, 13)), record=("everything",))
