"""Dies looped on every CPU device: same numbers as one die at a time, any batch."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bmru_jax import circuit
from bmru_jax.circuit.montecarlo import map_dies
from bmru_jax.errors import InputError
from bmru_jax.models import HardwareBackbone, clip_decision

FRAMES, CLIPS = 30, 4


def test_the_suite_runs_on_two_cpu_devices():
    # Otherwise the splitting across devices below would go untested.
    assert len(jax.devices("cpu")) == 2


@pytest.mark.parametrize("count", [1, 2, 3, 5])
def test_map_dies_equals_a_python_loop_for_any_count(count):
    values = jnp.arange(count, dtype=jnp.float32) + 1.0
    keys = jax.vmap(lambda i: jax.random.fold_in(jax.random.key(0), i))(
        jnp.arange(count)
    )

    def fn(one, scale):
        value, key = one
        return {"scaled": value * scale, "draw": jax.random.normal(key, (3,))}

    got = jax.jit(lambda v, k, s: map_dies(fn, (v, k), s))(values, keys, 2.0)
    for i in range(count):
        expected = fn((values[i], keys[i]), 2.0)
        assert got["scaled"][i] == expected["scaled"]
        assert jnp.array_equal(got["draw"][i], expected["draw"])
    assert got["scaled"].shape == (count,)


def _noisy_decisions(nominal, clips, root, indices, devices=None):
    noise = circuit.TemporalNoise()

    def one_die(index):
        key = circuit.die_key(root, 0, index)
        die = circuit.perturb_die(nominal, circuit.Multiplicative(0.3), key=key)

        def one_clip(clip, features):
            result = circuit.simulate(
                die, features, key=circuit.noise_key(key, clip), noise=noise
            )
            return result.states, clip_decision(result.logits)

        return jax.vmap(one_clip)(jnp.arange(clips.shape[0]), clips)

    return map_dies(one_die, indices, devices=devices)


def test_a_dies_simulation_does_not_depend_on_batch_or_devices():
    nominal = circuit.die_from_model(HardwareBackbone(width=4, key=jax.random.key(1)))
    clips = jax.random.normal(jax.random.key(2), (CLIPS, FRAMES, 13))
    run = jax.jit(functools.partial(_noisy_decisions, nominal, clips))
    root = jax.random.key(3)
    whole = jax.device_get(run(root, jnp.arange(5)))
    # Another batch size, another position, another device split.
    again = jax.device_get(run(root, jnp.array([4, 2, 0])))
    for got, want in zip(again, whole):
        np.testing.assert_array_equal(got, want[[4, 2, 0]])
    # One die alone, on one device.
    one_device = jax.devices("cpu")[:1]
    alone = jax.jit(
        lambda i: _noisy_decisions(nominal, clips, root, i, devices=one_device)
    )(jnp.array([2]))
    for got, want in zip(jax.device_get(alone), whole):
        np.testing.assert_array_equal(got[0], want[2])


def test_map_dies_refuses_mismatched_die_axes(as_user):
    with pytest.raises(InputError, match="per_die"):
        map_dies(lambda a: a, (jnp.zeros(3), jnp.zeros(4)))
    with pytest.raises(InputError, match="per_die"):
        map_dies(lambda a: a, jnp.zeros((0, 2)))


def test_states_agree_with_the_numpy_twin_when_spread():
    from bmru_jax.bench.simulator import numpy_simulate

    nominal = circuit.die_from_model(HardwareBackbone(width=4, key=jax.random.key(4)))
    clips = jax.random.normal(jax.random.key(5), (CLIPS, FRAMES, 13))
    root = jax.random.key(6)

    def one_die(index):
        die = circuit.perturb_die(
            nominal, circuit.Multiplicative(0.3), key=circuit.die_key(root, 0, index)
        )
        logits = jax.vmap(lambda f: circuit.simulate(die, f).logits)(clips)
        return die, logits

    dies, logits = jax.jit(lambda i: map_dies(one_die, i))(jnp.arange(3))
    batched = jax.tree.map(lambda a: np.asarray(a)[:, None], dies)
    reference = numpy_simulate(batched, np.asarray(clips)[None])
    np.testing.assert_allclose(logits, reference["logits"], rtol=1e-4, atol=1e-5)
