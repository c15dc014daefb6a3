"""The BMRU model family: hand-worked hysteresis, a NumPy reference, transformations."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jaxtyping
import numpy as np
import pytest

from bmru_jax.errors import InputError
from bmru_jax.models import (
    FQBMRU,
    LRU,
    BipolarBMRU,
    HardwareBackbone,
    MinGRU,
    ResidualStack,
    clip_decision,
    fq_bmru_scan,
    fq_bmru_states,
    frame_cross_entropy,
    heaviside,
)


def _states(candidates, beta1=0.15, delta=0.35, s0=0.0, parallel=False):
    c = jnp.asarray(candidates, jnp.float32)[:, None]
    one = jnp.ones(1)
    return fq_bmru_states(c, beta1 * one, delta * one, s0 * one, parallel=parallel)[
        :, 0
    ]


def numpy_fq_bmru(candidates, beta1, delta, s0, eps=0.0):
    """Slow reference: the published step written as a Python loop."""
    s = np.array(s0, np.float64)
    out = []
    for c in candidates:
        above_low = (c >= beta1).astype(np.float64)
        above_high = (c >= beta1 + delta).astype(np.float64)
        hold = above_low * (1 - above_high)
        s = hold * s + (1 - hold) * (above_high + eps * s)
        out.append(s.copy())
    return np.array(out)


# --- Hand-worked hysteresis --------------------------------------------------------


@pytest.mark.parametrize("parallel", [False, True])
def test_reset_hold_set_by_hand(parallel):
    # beta1 = 0.15, beta2 = 0.5: below 0.15 resets, [0.15, 0.5) holds, >= 0.5 sets.
    c = [0.3, 0.6, 0.3, 0.2, 0.1, 0.3, 0.49, 0.5, 0.15, 0.1499]
    want = [0, 1, 1, 1, 0, 0, 0, 1, 1, 0]
    assert _states(c, parallel=parallel).tolist() == want


def test_exactly_at_thresholds():
    # H(0) = 1: c = beta1 holds (does not reset), c = beta2 sets.
    assert _states([0.25, 0.25], beta1=0.25, delta=0.25, s0=1.0).tolist() == [1, 1]
    assert _states([0.5], beta1=0.25, delta=0.25, s0=0.0).tolist() == [1]
    assert _states([0.25], beta1=0.25, delta=0.25, s0=0.0).tolist() == [0]


def test_initial_state_is_held_inside_window():
    assert _states([0.3] * 4, s0=1.0).tolist() == [1, 1, 1, 1]
    assert _states([0.3] * 4, s0=0.0).tolist() == [0, 0, 0, 0]


def test_zero_width_is_a_comparator():
    c = [0.1, 0.2, 0.2, 0.19, 0.3]
    assert _states(c, beta1=0.2, delta=0.0, s0=1.0).tolist() == [0, 1, 1, 0, 1]


@pytest.mark.parametrize("parallel", [False, True])
def test_long_hold_never_decays(parallel):
    c = np.full(100_000, 0.3, np.float32)
    c[0] = 0.9  # set once, then hold inside the window for 10^5 steps
    s = _states(c, parallel=parallel)
    assert s.dtype == jnp.float32
    assert bool(jnp.all(s == 1.0))


# --- Reference and parallel evaluation ---------------------------------------------


@pytest.mark.parametrize("seed", range(3))
def test_matches_numpy_loop(seed):
    rng = np.random.default_rng(seed)
    c = rng.uniform(0, 1, (200, 7)).astype(np.float32)
    beta1 = rng.uniform(0, 0.5, 7).astype(np.float32)
    delta = rng.uniform(0, 0.5, 7).astype(np.float32)
    delta[0] = 0.0
    s0 = rng.integers(0, 2, 7).astype(np.float32)
    args = [jnp.asarray(a) for a in (c, beta1, delta, s0)]
    want = numpy_fq_bmru(c, beta1, delta, s0)
    np.testing.assert_array_equal(fq_bmru_states(*args), want)
    np.testing.assert_array_equal(fq_bmru_states(*args, parallel=True), want)
    leaky = fq_bmru_scan(*args, eps=0.3, parallel=True)
    np.testing.assert_allclose(
        leaky, numpy_fq_bmru(c, beta1, delta, s0, 0.3), atol=1e-5
    )


def test_layer_matches_numpy_and_parallel():
    key_layer, key_x = jax.random.split(jax.random.key(1))
    layer = FQBMRU(5, 6, 3, key=key_layer)
    x = jax.random.normal(key_x, (300, 5))
    u = np.maximum(np.asarray(x), 0)
    cand = np.maximum(u @ np.asarray(layer.W_c).T + np.asarray(layer.b_c), 0)
    states = numpy_fq_bmru(
        cand, np.abs(layer.p1), np.abs(layer.p2), np.asarray(layer.initial_state)
    )
    want = np.maximum(
        (np.abs(layer.p3) * states) @ np.asarray(layer.W_p).T + layer.b_p, 0
    )
    np.testing.assert_array_equal(layer.states(x), states)
    np.testing.assert_array_equal(layer.states(x, parallel=True), states)
    np.testing.assert_allclose(layer(x), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer(x, parallel=True), want, rtol=1e-5, atol=1e-6)


def test_backbone_trace_and_call_agree():
    model = HardwareBackbone(width=8, key=jax.random.key(2))
    features = jax.random.normal(jax.random.key(3), (101, 13))
    trace = model.trace(features)
    np.testing.assert_allclose(trace.logits, model(features), rtol=1e-6)
    np.testing.assert_allclose(
        model(features, parallel=True), model(features), rtol=1e-5
    )
    assert trace.states.shape == (2, 101, 8)
    assert set(np.unique(trace.states)) <= {0.0, 1.0}
    # the residual: each hidden signal is the previous one plus the layer output
    np.testing.assert_allclose(
        trace.hidden[1:], trace.hidden[:-1] + trace.outputs, rtol=1e-6
    )


def test_bipolar_matches_numpy_loop():
    layer = BipolarBMRU(4, 5, 2, key=jax.random.key(4))
    x = np.asarray(jax.random.normal(jax.random.key(5), (80, 4)))
    W_c, b_c, W_b, b_b = (
        np.asarray(a) for a in (layer.W_c, layer.b_c, layer.W_b, layer.b_b)
    )
    for cumulative, eps in ((False, 0.0), (True, 1.0)):
        s = np.where(np.asarray(layer.s0_logit) >= 0, 1.0, -1.0)
        want = []
        for x_t in x:
            c, beta = W_c @ x_t + b_c, W_b @ x_t + b_b
            z = (np.abs(c) >= np.abs(beta)).astype(float)
            sign = np.where(c >= 0, 1.0, -1.0)
            s = (1 - z) * s + eps * z * s + z * sign
            want.append(s.copy())
        got = layer.states(jnp.asarray(x), eps=eps)
        np.testing.assert_allclose(got, np.array(want), atol=1e-5)
    bmru = layer.states(jnp.asarray(x))
    assert set(np.unique(bmru)) <= {-1.0, 1.0}
    np.testing.assert_array_equal(layer.states(jnp.asarray(x), parallel=True), bmru)


def test_cumulative_variant_defaults_to_eps_one():
    layer = BipolarBMRU(3, 4, 2, key=jax.random.key(6), cumulative=True)
    x = jax.random.normal(jax.random.key(7), (30, 3))
    np.testing.assert_array_equal(layer.states(x), layer.states(x, eps=1.0))


def test_lru_eigenvalues_in_ring():
    lru = LRU(16, key=jax.random.key(8))
    radius = np.abs(np.asarray(lru.eigenvalues))
    assert np.all((radius >= 0.9 - 1e-6) & (radius <= 0.999 + 1e-6))


@pytest.mark.parametrize("cell", [MinGRU, LRU])
def test_baseline_cells_parallel_equals_sequential(cell):
    layer = cell(6, key=jax.random.key(9))
    x = jax.random.normal(jax.random.key(10), (50, 6))
    np.testing.assert_allclose(layer(x, parallel=True), layer(x), rtol=1e-4, atol=1e-5)


def test_mingru_matches_numpy_loop():
    layer = MinGRU(3, key=jax.random.key(11))
    x = np.asarray(jax.random.normal(jax.random.key(12), (20, 3)))
    h, want = np.zeros(3), []
    for x_t in x:
        z = 1 / (1 + np.exp(-(np.asarray(layer.gate.weight) @ x_t + layer.gate.bias)))
        h_tilde = np.asarray(layer.candidate.weight) @ x_t + layer.candidate.bias
        h = (1 - z) * h + z * h_tilde
        want.append(h)
    np.testing.assert_allclose(
        layer(jnp.asarray(x)), np.array(want), rtol=1e-5, atol=1e-6
    )


# --- Surrogate gradient ------------------------------------------------------------


def test_heaviside_forward_and_surrogate():
    x = jnp.array([-1.0, -0.0, 0.0, 0.5])
    np.testing.assert_array_equal(heaviside(x), [0.0, 1.0, 1.0, 1.0])
    grad = jax.vmap(jax.grad(heaviside))(x)
    np.testing.assert_allclose(grad, 1 / (1 + (np.pi * np.asarray(x)) ** 2), rtol=1e-6)
    sharp = jax.grad(lambda v: heaviside(v, 4.0))(0.1)
    np.testing.assert_allclose(sharp, 4 / (1 + (np.pi * 0.4) ** 2), rtol=1e-6)


# --- Transformations on every model ------------------------------------------------


MODELS = {
    "backbone": lambda k: HardwareBackbone(width=4, key=k),
    "mingru": lambda k: ResidualStack("mingru", width=4, key=k),
    "lru": lambda k: ResidualStack("lru", width=4, key=k),
    "bipolar": lambda k: BipolarBMRU(13, 4, 2, key=k),
    "cumulative": lambda k: BipolarBMRU(13, 4, 2, key=k, cumulative=True),
}


def _loss(model, features, labels):
    logits = jax.vmap(model)(features)
    return jnp.mean(jax.vmap(frame_cross_entropy)(logits, labels))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_jit_vmap_grad_compose(name):
    model = MODELS[name](jax.random.key(13))
    features = jax.random.normal(jax.random.key(14), (3, 12, 13))
    labels = jnp.array([0, 1, 1])

    eager = jax.vmap(model)(features)
    jitted = eqx.filter_jit(lambda m, f: jax.vmap(m)(f))(model, features)
    np.testing.assert_allclose(jitted, eager, rtol=1e-5)

    grads = eqx.filter_jit(eqx.filter_grad(_loss))(model, features, labels)
    leaves = jax.tree_util.tree_leaves(eqx.filter(grads, eqx.is_inexact_array))
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in leaves)
    assert any(bool(jnp.any(g != 0)) for g in leaves)

    def per_example(feat, label):
        return eqx.filter_grad(_loss)(model, feat[None], label[None])

    batched = eqx.filter_jit(eqx.filter_vmap(per_example))(features, labels)
    mean_grad = jax.tree_util.tree_map(lambda g: jnp.mean(g, 0), batched)
    for got, want in zip(
        jax.tree_util.tree_leaves(eqx.filter(mean_grad, eqx.is_array)),
        jax.tree_util.tree_leaves(eqx.filter(grads, eqx.is_array)),
    ):
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-5)


def test_gradients_reach_every_cell_parameter():
    model = HardwareBackbone(width=4, key=jax.random.key(15))
    features = jax.random.normal(jax.random.key(16), (4, 30, 13))
    labels = jnp.array([0, 1, 0, 1])
    grads = eqx.filter_grad(_loss)(model, features, labels)
    for name in ("W_c", "b_c", "p1", "p2", "p3"):
        g = getattr(grads.layers[0], name)
        assert bool(jnp.any(g != 0)), f"no gradient reaches {name}"


def test_leaky_family_is_differentiable_in_eps():
    model = HardwareBackbone(width=4, key=jax.random.key(17))
    features = jax.random.normal(jax.random.key(18), (40, 13))
    d_eps = jax.grad(lambda e: jnp.sum(model(features, eps=e) ** 2))(0.5)
    assert np.isfinite(float(d_eps))


def test_jitted_entry_point_traces_once():
    model = HardwareBackbone(width=4, key=jax.random.key(19))

    @eqx.debug.assert_max_traces(max_traces=1)
    def run(model, features):
        return jax.vmap(model)(features)

    run_jit = eqx.filter_jit(run)
    for seed in range(3):
        run_jit(model, jax.random.normal(jax.random.key(seed), (2, 101, 13)))


# --- Losses ------------------------------------------------------------------------


def test_clip_decision_is_majority_vote():
    logits = jnp.array([[2.0, 0.0], [0.0, 1.0], [0.0, 3.0], [1.0, 0.0], [0.0, 1.0]])
    assert int(clip_decision(logits)) == 1
    tie = jnp.array([[1.0, 0.0], [0.0, 1.0]])
    assert int(clip_decision(tie)) == 0


def test_frame_cross_entropy_by_hand():
    logits = jnp.array([[np.log(3.0), 0.0], [0.0, 0.0]])
    want = -(np.log(3 / 4) + np.log(1 / 2)) / 2
    np.testing.assert_allclose(frame_cross_entropy(logits, 0), want, rtol=1e-6)


# --- Bad arguments -----------------------------------------------------------------


def test_bad_arguments_name_the_argument(as_user):
    c = jnp.ones((5, 3))
    three = jnp.ones(3)
    with pytest.raises(InputError, match="beta1"):
        fq_bmru_states(c, jnp.ones(4), three, three)
    with pytest.raises(InputError, match="candidates"):
        fq_bmru_states(jnp.ones(5), three, three, three)
    with pytest.raises(InputError, match="s0"):
        fq_bmru_states(c, three, three, jnp.ones((3, 1)))
    with pytest.raises(InputError, match="candidates: must be finite"):
        fq_bmru_states(c.at[2, 1].set(jnp.nan), three, three, three)
    with pytest.raises(InputError, match="state_size"):
        FQBMRU(3, -1, 3, key=jax.random.key(0))
    with pytest.raises(InputError, match="width"):
        HardwareBackbone(width=0, key=jax.random.key(0))
    with pytest.raises(InputError, match="cell"):
        ResidualStack("gru", key=jax.random.key(0))
    model = HardwareBackbone(width=4, key=jax.random.key(0))
    with pytest.raises(InputError, match=r"features: expected shape \(\*, 13\)"):
        model(jnp.ones((10, 12)))
    with pytest.raises(InputError, match="features: must be finite"):
        model(jnp.full((10, 13), jnp.nan))


def test_annotations_name_the_axes():
    # The run-time checks of the test suite catch a width mismatch by its axis name.
    with pytest.raises(jaxtyping.TypeCheckError, match="cells"):
        fq_bmru_states(jnp.ones((5, 3)), jnp.ones(4), jnp.ones(3), jnp.ones(3))
