"""DC characterisation of one behavioural BMRU cell, as a designer would measure it.

The input current of a single cell is swept up from 0 to 700 pA and back down in 1 pA
frames (one frame = 10 ms), and the output current is read each frame: the hysteresis
loop. Families of loops sweep each bias current (I_gain, I_thresh, I_width) with the
others at their nominal values, and the realised output level, switch-on and switch-off
points are read off each loop and plotted against the bias current that sets them,
next to the ideal one-to-one line. Error bars are the spread over Pelgrom-mismatched
dies (``bmru_jax.circuit.Pelgrom`` at its calibrated A_VT).

The cell is a one-feature, one-cell, one-layer hardware backbone with unit mirrors, so
the cell's candidate is the input current (through the input and candidate mirrors, with
their small input-dependent gain); the bias currents are set in its circuit description
and realised through the measured transfers, with leakage and droop on.

    python experiments/cell_characterisation.py [--out figures] [--quick] [--seed 0]
"""

import dataclasses
import sys

import equinox as eqx
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
from _common import save, script_main
from tqdm import tqdm

from bmru_jax import circuit
from bmru_jax.models import HardwareBackbone

NAME = "cell_characterisation"
# Nominal cell of the published design: on at ~350 pA, off at ~150 pA, alpha ~500 pA,
# written as the bias currents that realise it through the measured transfers.
NOMINAL_BIAS_PA = {"I_gain": 485.7, "I_thresh": 367.2, "I_width": 215.0}
SWEEP_TOP_PA = 700.0
FAMILIES_PA = {
    "I_gain": (100.0, 200.0, 300.0, 400.0, 500.0),
    "I_thresh": (250.0, 300.0, 350.0, 400.0, 450.0),
    "I_width": (10.0, 50.0, 100.0, 200.0, 300.0),
}
# Transfer sweeps over the ranges measured at transistor level (SPEC section 3). The
# threshold sweep uses a narrow window (I_width 50 pA) so that beta1 stays positive.
TRANSFERS_PA = {
    "I_gain": np.linspace(50.0, 500.0, 10),
    "I_thresh": np.linspace(100.0, 400.0, 7),
    "I_width": np.linspace(10.0, 300.0, 7),
}
TRANSFER_OTHERS_PA = {"I_thresh": {"I_width": 50.0}}
# The measured transfers the behavioural model is built on, for reference lines.
SPEC_FITS = {
    "I_gain": lambda d: (d.gain_slope, d.gain_offset_pA),
    "I_thresh": lambda d: (d.thresh_slope, d.thresh_offset_pA),
    "I_width": lambda d: (d.width_slope, d.width_offset_pA),
}
NO_VARIATION = circuit.Multiplicative(0.0)
# Mismatch of the error bars: Pelgrom at the calibrated A_VT of the GF180MCU models.
MISMATCH = circuit.Pelgrom()


def one_cell_model() -> HardwareBackbone:
    """One feature -> one cell -> one class, every mirror at unit gain, no biases."""
    model = HardwareBackbone(
        n_features=1, width=1, n_layers=1, n_classes=1, key=jax.random.key(0)
    )
    one, zero = jnp.ones((1, 1)), jnp.zeros((1,))
    layer = model.layers[0]
    layer = eqx.tree_at(
        lambda m: (m.W_c, m.b_c, m.W_p, m.b_p, m.s0_logit),
        layer,
        (one, zero, one, zero, -jnp.ones((1,))),
    )
    return eqx.tree_at(
        lambda m: (m.W_in, m.b_in, m.layers, m.W_fc, m.b_fc),
        model,
        (one, zero, (layer,), one, zero),
    )


def cell_die(base: circuit.CircuitDescription, biases_pA: dict) -> circuit.Die:
    """The nominal die of the one-cell circuit with the given bias currents (pA)."""
    layer = base.layers[0]
    cells = dataclasses.replace(
        layer.cells, **{f"{k}_pA": (float(v),) for k, v in biases_pA.items()}
    )
    desc = dataclasses.replace(base, layers=(dataclasses.replace(layer, cells=cells),))
    return circuit.nominal_die(desc)


def sweep_nA(step_pA: float) -> jnp.ndarray:
    """Input current up from 0 to the top and back down, one value per frame, nA."""
    up = np.arange(0.0, SWEEP_TOP_PA + step_pA / 2, step_pA)
    return jnp.asarray(np.concatenate([up, up[::-1]]) * 1e-3, jnp.float32)


@eqx.filter_jit
def loops(dies: circuit.Die, sweep: jnp.ndarray, keys, variation):
    """Candidate, state and output currents of every (setting, die): (S, K, T)."""

    def one(die, key):
        die = circuit.perturb_die(die, variation, key=key)
        result = circuit.simulate(die, sweep[:, None])
        return (
            result.candidates_nA[0, :, 0],
            result.states[0, :, 0],
            result.cell_outputs_nA[0, :, 0],
        )

    per_setting = jax.vmap(one, in_axes=(None, 0))
    return jax.vmap(per_setting, in_axes=(0, None))(dies, keys)


def extract(candidates, states, outputs) -> dict:
    """Switch-on, switch-off points and high/low output levels of loops, in pA.

    Arrays ``(..., T)`` of one up-then-down sweep; the on point is the candidate at the
    first set frame of the up half, the off point the candidate at the first reset
    frame of the down half. A cell that never sets (resets) has no on (off) point:
    NaN, e.g. a die whose mismatch pushed ``beta1`` to zero cannot reset.
    """
    half = candidates.shape[-1] // 2
    sets, resets = states[..., :half] > 0.5, states[..., half:] < 0.5
    up_on = np.argmax(sets, axis=-1)
    down_off = half + np.argmax(resets, axis=-1)
    take = lambda a, i: np.take_along_axis(a, i[..., None], -1)[..., 0]  # noqa: E731
    on = np.where(sets.any(-1), 1e3 * take(candidates, up_on), np.nan)
    return {
        "on_pA": on,
        "off_pA": np.where(resets.any(-1), 1e3 * take(candidates, down_off), np.nan),
        "alpha_pA": np.where(sets.any(-1), 1e3 * take(outputs, up_on), np.nan),
        "low_min_pA": 1e3 * outputs[..., 0],
        "low_max_pA": 1e3 * take(outputs, np.maximum(up_on - 1, 0)),
    }


def stack_dies(dies: list[circuit.Die]) -> circuit.Die:
    """Stack dies along a new leading axis (for ``vmap``)."""
    return jax.tree.map(lambda *leaves: jnp.stack(leaves), *dies)


def settings_of(bias: str, values) -> list[dict]:
    """Bias dictionaries sweeping ``bias`` over ``values``, others nominal."""
    others = {**NOMINAL_BIAS_PA, **TRANSFER_OTHERS_PA.get(bias, {})}
    return [{**others, bias: float(v)} for v in values]


def run(args) -> dict:
    """Simulate the nominal loop, the families and the transfers; plot; save."""
    step_pA = 5.0 if args.quick else 1.0
    n_dies = 4 if args.quick else 50
    base = circuit.describe(one_cell_model())
    sweep = sweep_nA(step_pA)
    root = jax.random.key(args.seed)
    die_keys = jax.vmap(lambda i: circuit.die_key(root, 1, i))(jnp.arange(n_dies))

    # Two batched simulations (two compilations): the nominal loop and the families
    # without variation, then every transfer setting over the mismatched dies.
    ideal = [NOMINAL_BIAS_PA] + [
        b for bias in FAMILIES_PA for b in settings_of(bias, FAMILIES_PA[bias])
    ]
    with tqdm(total=2, desc="simulating loops") as bar:
        dies = stack_dies([cell_die(base, b) for b in ideal])
        keys = jax.random.split(root, 1)
        c, s, y = (np.asarray(a)[:, 0] for a in loops(dies, sweep, keys, NO_VARIATION))
        bar.update()
        mismatched = [
            b for bias in TRANSFERS_PA for b in settings_of(bias, TRANSFERS_PA[bias])
        ]
        dies = stack_dies([cell_die(base, b) for b in mismatched])
        measured = extract(
            *(np.asarray(a) for a in loops(dies, sweep, die_keys, MISMATCH))
        )
        bar.update()

    loop = {"candidate_nA": c[0], "output_nA": y[0], "state": s[0]}
    numbers = {"nominal_bias_pA": NOMINAL_BIAS_PA, "sweep_step_pA": step_pA}
    numbers["nominal"] = {k: float(v[0]) for k, v in extract(c, s, y).items()}
    families, start = {}, 1
    for bias, values in FAMILIES_PA.items():
        families[bias] = (
            c[start : start + len(values)],
            y[start : start + len(values)],
        )
        start += len(values)
    transfers, start = {}, 0
    for bias, values in TRANSFERS_PA.items():
        part = slice(start, start + len(values))
        transfers[bias] = {k: v[part] for k, v in measured.items()}
        start += len(values)
    numbers["transfers"] = summarise_transfers(transfers, n_dies)
    figure = plot(loop, families, numbers)
    return save(NAME, args, figure, numbers)


def summarise_transfers(transfers: dict, n_dies: int) -> dict:
    """Per bias sweep: bias values, mean and spread over the dies where it is defined
    (and how many it is not) of each measured value, and the straight-line fit of the
    measured parameter against the bias current."""
    measured_of = {"I_gain": "alpha_pA", "I_thresh": "on_pA", "I_width": "width_pA"}
    summary = {}
    for bias, values in transfers.items():
        values = {**values, "width_pA": values["on_pA"] - values["off_pA"]}
        entry = {"bias_pA": TRANSFERS_PA[bias], "dies": n_dies}
        for name, array in values.items():
            entry[name] = {
                "mean": np.nanmean(array, axis=1),
                "std": np.nanstd(array, axis=1, ddof=1),
                "undefined_dies": np.isnan(array).sum(axis=1),
            }
        slope, offset = np.polyfit(
            TRANSFERS_PA[bias], entry[measured_of[bias]]["mean"], 1
        )
        entry["fit"] = {
            "parameter": measured_of[bias],
            "slope": slope,
            "offset_pA": offset,
        }
        summary[bias] = entry
    return summary


def plot(loop, families, numbers):
    """Nominal loop, three loop families, three transfers with error bars."""
    figure, axes = plt.subplots(2, 4, figsize=(18, 8.5))
    plot_nominal(axes[0, 0], loop, numbers["nominal"])
    plot_leakage(axes[1, 0], loop)
    labels = {"I_gain": "I_gain", "I_thresh": "I_thresh", "I_width": "I_width"}
    for column, bias in enumerate(FAMILIES_PA, start=1):
        c, y = families[bias]
        ax = axes[0, column]
        for index, value in enumerate(FAMILIES_PA[bias]):
            ax.plot(
                1e3 * c[index], 1e3 * y[index], label=f"{labels[bias]} = {value:.0f} pA"
            )
        ax.set(
            title=f"Loops sweeping {labels[bias]}",
            xlabel="input (candidate) current (pA)",
            ylabel="output current (pA)",
        )
        ax.legend(fontsize=7)
        plot_transfer(axes[1, column], bias, numbers["transfers"][bias])
    figure.suptitle("Behavioural BMRU cell: DC hysteresis and bias tuning")
    figure.tight_layout()
    return figure


def plot_nominal(ax, loop, nominal):
    c, y = 1e3 * np.asarray(loop["candidate_nA"]), 1e3 * np.asarray(loop["output_nA"])
    half = len(c) // 2
    ax.plot(c[:half], y[:half], "C3", label="sweep up")
    ax.plot(c[half:], y[half:], "C0--", label="sweep down")
    on, off, alpha = nominal["on_pA"], nominal["off_pA"], nominal["alpha_pA"]
    ideal_x = [0, off, off, on, on, c.max()]
    ideal_y_up = [0, 0, 0, 0, alpha, alpha]
    ax.plot(ideal_x, ideal_y_up, "k:", lw=1, label="ideal (0 or alpha)")
    ax.plot([off, off], [0, alpha], "k:", lw=1)
    ax.set(
        title=f"Nominal cell: on {on:.0f} pA, off {off:.0f} pA, alpha {alpha:.0f} pA",
        xlabel="input (candidate) current (pA)",
        ylabel="output current (pA)",
    )
    ax.legend(fontsize=8)


def plot_leakage(ax, loop):
    c, y = 1e3 * np.asarray(loop["candidate_nA"]), 1e3 * np.asarray(loop["output_nA"])
    low = np.asarray(loop["state"]) < 0.5
    ax.plot(c[low], y[low], "C0.", ms=2, label="reset level: leakage")
    ax.set(
        title="Non-ideal output levels",
        xlabel="input (candidate) current (pA)",
        ylabel="reset output current (pA)",
    )
    ax.legend(loc="upper left", fontsize=8)
    droop = ax.twinx()
    high = ~low
    relative = 100.0 * (y[high] / y[high].max() - 1.0)
    droop.plot(c[high], relative, "C1.", ms=2, label="set level: droop")
    droop.set_ylabel("set output relative to its maximum (%)")
    droop.legend(loc="lower right", fontsize=8)


def plot_transfer(ax, bias, entry):
    name = entry["fit"]["parameter"]
    x = np.asarray(entry["bias_pA"])
    ax.errorbar(
        x,
        entry[name]["mean"],
        yerr=entry[name]["std"],
        fmt="o",
        capsize=3,
        label=f"measured, mean +- std over {entry['dies']} Pelgrom dies",
    )
    ax.plot(x, x, "k:", label="ideal: parameter = bias current")
    device = circuit.DeviceParameters()
    slope, offset = SPEC_FITS[bias](device)
    ax.plot(
        x,
        slope * x + offset,
        "C2--",
        lw=1,
        label=f"transistor-level fit (SPEC): {slope:.3f} x {offset:+.0f} pA",
    )
    fit = entry["fit"]
    ax.plot(
        x,
        fit["slope"] * x + fit["offset_pA"],
        "C1-",
        lw=1,
        label=f"fit to the means: {fit['slope']:.3f} x {fit['offset_pA']:+.0f} pA",
    )
    parameter = {"alpha_pA": "alpha", "on_pA": "beta2 (on point)", "width_pA": "delta"}
    ax.set(
        title=f"{parameter[name]} vs {bias}",
        xlabel=f"{bias} (pA)",
        ylabel=f"{parameter[name]} (pA)",
    )
    ax.legend(fontsize=7)


main = script_main(__doc__, run)


if __name__ == "__main__":
    main(sys.argv[1:])
