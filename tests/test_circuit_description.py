"""The mapping from a model to circuit elements, its report and its JSON round trip."""

import warnings

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bmru_jax import circuit
from bmru_jax.errors import InputError
from bmru_jax.models import HardwareBackbone


def _model(width=4, seed=0):
    return HardwareBackbone(width=width, key=jax.random.key(seed))


def _in_range(model):
    """The model with every weight moved into the realisable gain range."""
    fix = lambda w: jnp.sign(w) * jnp.clip(jnp.abs(w), 0.2, 2.5)  # noqa: E731
    return jax.tree.map(
        lambda x: x,
        eqx.tree_at(
            lambda m: (
                m.W_in,
                m.W_fc,
                m.layers[0].W_c,
                m.layers[0].W_p,
                m.layers[1].W_c,
                m.layers[1].W_p,
            ),
            model,
            (
                fix(model.W_in),
                fix(model.W_fc),
                fix(model.layers[0].W_c),
                fix(model.layers[0].W_p),
                fix(model.layers[1].W_c),
                fix(model.layers[1].W_p),
            ),
        ),
    )


def _describe_quietly(model, settings=circuit.CircuitSettings()):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return circuit.describe(model, settings)


def test_cell_biases_invert_the_measured_transfer():
    model = _in_range(_model())
    layer = eqx.tree_at(
        lambda cell: (cell.p1, cell.p2, cell.p3),
        model.layers[0],
        (jnp.full(4, 0.15), jnp.full(4, -0.2), jnp.full(4, 0.5)),
    )
    model = eqx.tree_at(lambda m: m.layers[0], model, layer)
    cells = circuit.describe(model).layers[0].cells
    # I = (param_pA - offset) / slope, hand-worked.
    assert cells.I_gain_pA[0] == pytest.approx((500 - 6) / 1.017)
    assert cells.I_thresh_pA[0] == pytest.approx((350 + 11) / 0.983)
    assert cells.I_width_pA[0] == pytest.approx((200 + 12) / 0.986)


def test_mirror_width_and_polarity_follow_the_weight():
    model = _in_range(_model())
    W_c = jnp.array([[1.0, -2.8, 0.0, 0.5]] * 4)
    model = eqx.tree_at(lambda m: m.layers[0].W_c, model, W_c)
    bank = circuit.describe(model).layers[0].W_c
    assert bank.width_um[0][0] == pytest.approx(5.0)
    assert bank.width_um[0][1] == pytest.approx(15.0)
    assert bank.polarity[0][:3] == ("source", "sink", "none")
    assert bank.width_um[0][2] == 0.0
    # 0.5 lies on the 0.5-5 um segment: 0.5 + (0.5 - 0.14) * 4.5 / 0.86 um.
    assert bank.width_um[0][3] == pytest.approx(0.5 + 0.36 * 4.5 / 0.86)


@pytest.mark.parametrize("policy", ["keep", "clip"])
def test_out_of_range_weights_are_reported_and_the_policy_decides(policy):
    model = _in_range(_model())
    W_c = model.layers[0].W_c.at[0, 0].set(3.5).at[1, 1].set(-0.05).at[2, 2].set(0.1)
    model = eqx.tree_at(lambda m: m.layers[0].W_c, model, W_c)
    settings = circuit.CircuitSettings(out_of_range=policy)
    with pytest.warns(UserWarning, match="3 weights outside"):
        desc = circuit.describe(model, settings)
    found = {
        (r.layer, r.matrix, r.index): (r.value, r.limit) for r in desc.out_of_range
    }
    assert found[("layer1", "W_c", (0, 0))] == pytest.approx((3.5, 2.8))
    assert found[("layer1", "W_c", (1, 1))] == pytest.approx((0.05, 0.14))
    assert found[("layer1", "W_c", (2, 2))] == pytest.approx((0.1, 0.14))
    gains = np.asarray(circuit.nominal_die(desc).layers[0].W_c)
    if policy == "keep":
        expected = (3.5, -0.05, 0.1)
    else:  # nearest buildable: the largest gain, no mirror, the smallest gain
        expected = (2.8, 0.0, 0.14)
    assert gains[[0, 1, 2], [0, 1, 2]] == pytest.approx(expected)


def test_json_round_trip_and_nominal_die_equal_the_model():
    model = _model(seed=3)
    desc = _describe_quietly(model)
    again = circuit.CircuitDescription.from_json(desc.to_json())
    assert again == desc
    ideal = circuit.NonIdealities.ideal()
    from_desc = circuit.nominal_die(again, ideal)
    from_model = circuit.die_from_model(model, nonideal=ideal)
    same = jax.tree.map(lambda a, b: bool(jnp.array_equal(a, b)), from_desc, from_model)
    assert all(jax.tree.leaves(same))


@pytest.mark.parametrize(
    "path, value, field",
    [
        (("W_in", "width_um"), -1.0, "W_in.width_um"),
        (("b_in", "current_pA"), float("nan"), "b_in.current_pA"),
        (("W_fc", "polarity"), "both", "W_fc.polarity"),
    ],
)
def test_bad_description_names_the_field(path, value, field):
    data = _describe_quietly(_model()).to_dict()
    entry = data[path[0]][path[1]]
    if isinstance(entry[0], list):
        entry[0][0] = value
    else:
        entry[0] = value
    with pytest.raises(InputError, match=field):
        circuit.CircuitDescription.from_dict(data)


def test_bad_settings_and_model_are_refused(as_user):
    with pytest.raises(InputError, match="out_of_range"):
        circuit.CircuitSettings(out_of_range="squeeze")
    with pytest.raises(InputError, match="unit_current_nA"):
        circuit.CircuitSettings(unit_current_nA=-1.0)
    with pytest.raises(InputError, match="model"):
        circuit.describe("not a model")
    with pytest.raises(InputError, match="mirror_gains_sink"):
        circuit.DeviceParameters(mirror_gains_sink=(0.1, 1.0))


def _with_thresholds(model, p1, p2):
    """The model with each layer's ``p1``, ``p2`` replaced (one row per layer)."""
    layers = tuple(
        eqx.tree_at(
            lambda cell: (cell.p1, cell.p2), layer, (jnp.asarray(a), jnp.asarray(b))
        )
        for layer, a, b in zip(model.layers, p1, p2)
    )
    return eqx.tree_at(lambda m: m.layers, model, layers)


def test_nominal_cell_unit_maps_the_median_threshold_to_350_pA():
    # beta2 = |p1| + |p2| = (0.4, 0.6) and (0.0, 0.2): sorted 0, 0.2, 0.4, 0.6, whose
    # median is 0.3 model units; 350 pA / 0.3 = 1.167 nA per unit, 200 pA: 0.667.
    model = _with_thresholds(
        _model(width=2), [[0.1, -0.2], [0.0, 0.2]], [[0.3, 0.4], [-0.0, 0.0]]
    )
    unit = circuit.unit_current_for_nominal_cell(model)
    assert unit == pytest.approx(0.35 / 0.3)
    assert circuit.unit_current_for_nominal_cell(
        model, beta2_pA=200.0
    ) == pytest.approx(0.2 / 0.3)
    settings = circuit.CircuitSettings(unit_current_nA=unit)
    die = circuit.die_from_model(model, settings)
    beta2_nA = np.concatenate([layer.beta1_nA + layer.delta_nA for layer in die.layers])
    assert float(np.median(beta2_nA)) == pytest.approx(0.35)
    assert circuit.resolve_unit_current_nA(model, "auto") == unit
    assert circuit.resolve_unit_current_nA(model, 2) == 2.0


@pytest.mark.parametrize("factor", [0.5, 4.0])
def test_nominal_cell_unit_scales_inversely_with_the_thresholds(factor):
    model = _model(width=4, seed=5)
    keys = jax.random.split(jax.random.key(1), 2)
    p1 = jax.random.uniform(keys[0], (2, 4), minval=0.05, maxval=1.0)
    p2 = jax.random.uniform(keys[1], (2, 4), minval=0.05, maxval=1.0)
    unit = circuit.unit_current_for_nominal_cell(_with_thresholds(model, p1, p2))
    scaled = _with_thresholds(model, factor * p1, factor * p2)
    assert circuit.unit_current_for_nominal_cell(scaled) == pytest.approx(
        unit / factor, rel=1e-6
    )


@pytest.mark.parametrize("beta2_pA", [0.0, -350.0, float("nan"), True, "350"])
def test_nominal_cell_unit_refuses_bad_input(beta2_pA, as_user):
    model = _model(width=2)
    with pytest.raises(InputError, match="^beta2_pA: must be a positive"):
        circuit.unit_current_for_nominal_cell(model, beta2_pA=beta2_pA)
    zero = _with_thresholds(model, jnp.zeros((2, 2)), jnp.zeros((2, 2)))
    with pytest.raises(InputError, match="^model: median upper threshold"):
        circuit.unit_current_for_nominal_cell(zero)
    with pytest.raises(InputError, match="^unit_current_nA: .* or 'auto'"):
        circuit.resolve_unit_current_nA(model, "fast")
    with pytest.raises(InputError, match="^unit_current_nA: .* or 'auto'"):
        circuit.resolve_unit_current_nA(model, 0.0)
