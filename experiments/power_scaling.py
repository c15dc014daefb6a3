"""Power and accuracy of the BMRU keyword network against its state size.

For each width ``d`` (state size per layer, 2 layers) a hardware backbone is trained on
the binary keyword task of the offline corpus (``bmru_jax.training``, cached), mapped
onto its circuit at its own nominal-cell unit current (its median upper threshold at
the 350 pA on-threshold of the cell the static power was measured on,
``circuit.unit_current_for_nominal_cell``), and its nominal die simulated on test
clips; ``bmru_jax.power`` turns the branch currents into power (``P = V_DD x sum of
branch currents``), split into the recurrent core (the cells: linear in ``d``) and the
feedforward mirrors and sources (``d x d`` matrices: quadratic in ``d``). Next to it:
the clip accuracy of the same model's circuit (mapped at 1 nA per unit, as the
robustness sweep maps it). Error bars: the spread over test clips (power) and over
dies with 1x mismatch (accuracy, ``circuit.Multiplicative(0.1)``).

    python experiments/power_scaling.py [--out figures] [--quick] [--seed 0]
        [--widths 4,8,16,32,64] [--steps 2000]
"""

import pathlib
import sys

import equinox as eqx
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
from _common import RUNS, mean_and_spread, nominal_die, save, script_main
from _robustness import bmru_accuracy
from _tasks import QUICK_TASK, load_task
from _trained import trained_model
from matplotlib.ticker import NullFormatter
from tqdm import tqdm

from bmru_jax import circuit, power
from bmru_jax.training import evaluate

NAME = "power_scaling"
POWER_CLIPS = 200
ONE_X = circuit.Multiplicative(0.1)


def extra_arguments(parser) -> None:
    """Options of this experiment."""
    parser.add_argument("--widths", default="4,8,16,32,64", help="comma-separated d")
    # 2000 steps, as the robustness sweep: its d = 16 model is shared.
    parser.add_argument("--steps", type=int, default=2000, help="training steps")
    parser.add_argument("--dies", type=int, default=20, help="dies at 1x mismatch")
    parser.add_argument(
        "--cache", type=pathlib.Path, default=RUNS, help="trained-model cache"
    )


@eqx.filter_jit
def clip_power(die, features):
    """Mean power per clip of each block, nW, and energy per clip, nJ: ``(clips,)``."""

    def one(x):
        trace = power.network_power(die, x)
        return {
            "total_nW": jnp.mean(trace.total_nW()),
            "core_nW": jnp.mean(trace.core_nW()),
            "feedforward_nW": jnp.mean(trace.feedforward_nW()),
            "energy_nJ": trace.energy_nJ(),
        }

    return jax.vmap(one)(features)


def measure_width(task, width, steps, dies, seed, cache) -> dict:
    """Train (or load) the width-``d`` model; its power and accuracy."""
    model, info = trained_model(
        task, "backbone", width=width, steps=steps, seed=seed, cache=cache
    )
    die, out_of_range = nominal_die(model, unit_current_nA="auto")
    x, y = task.test
    per_clip = clip_power(die, jnp.asarray(x[:POWER_CLIPS]))
    entry = {
        "training": info,
        "unit_current_nA": die.unit_current_nA,
        "out_of_range_elements": out_of_range,
    }
    for name, values in per_clip.items():
        mean, spread = mean_and_spread(np.asarray(values))
        entry[name] = {"mean": float(mean), "std": float(spread)}
    levels = bmru_accuracy(
        model, x, y, [circuit.Multiplicative(0.0), ONE_X], dies, seed
    )
    entry["software_accuracy"] = evaluate(model, x, y)["accuracy"]
    entry["circuit_accuracy"] = float(levels[0, 0])
    mean, spread = mean_and_spread(levels[1])
    entry["accuracy_1x"] = {"mean": float(mean), "std": float(spread), "dies": dies}
    return entry


def fits(widths, entries) -> dict:
    """Least-squares fits: core ``a + b d``, feedforward ``a + b d + c d^2`` (nW)."""
    d = np.asarray(widths, float)
    core = np.asarray([e["core_nW"]["mean"] for e in entries])
    feedforward = np.asarray([e["feedforward_nW"]["mean"] for e in entries])
    degree = min(2, len(d) - 1)
    return {
        "core_linear_nW": np.polyfit(d, core, 1)[::-1],
        "feedforward_polynomial_nW": np.polyfit(d, feedforward, degree)[::-1],
        "core_per_cell_nW": core / (2 * d),
    }


def run(args) -> dict:
    """Every width: train/load, power, accuracy; plot; save."""
    if args.quick:
        widths, steps, dies = (4, 8), 150, 3
    else:
        widths = tuple(int(w) for w in args.widths.split(","))
        steps, dies = args.steps, args.dies
    task = load_task(QUICK_TASK if args.quick else "keywords_binary", quick=args.quick)
    entries = [
        measure_width(task, width, steps, dies, args.seed, args.cache)
        for width in tqdm(widths, desc="widths")
    ]
    numbers = {
        "task": task.name,
        "chance": task.chance,
        "widths": widths,
        "layers": 2,
        "training_steps": steps,
        "power_clips": min(POWER_CLIPS, len(task.test[1])),
        "per_width": dict(zip((str(w) for w in widths), entries)),
        "fits": fits(widths, entries),
        "published_d4_total_nW": 82.6,
    }
    return save(NAME, args, plot(widths, entries, task.chance), numbers)


def width_axis(ax, d) -> None:
    """A log axis of the widths, ticked at each."""
    ax.set(xscale="log", xlabel="state size per layer d (cells)")
    ax.set_xticks(d, [str(w) for w in d])
    ax.xaxis.set_minor_formatter(NullFormatter())


def plot(widths, entries, chance):
    """Power per block and energy against d; accuracy against d."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    d = np.asarray(widths)
    for name, label in (
        ("total_nW", "whole network"),
        ("core_nW", "recurrent core (cells)"),
        ("feedforward_nW", "mirrors and sources"),
    ):
        left.errorbar(
            d,
            [e[name]["mean"] for e in entries],
            yerr=[e[name]["std"] for e in entries],
            fmt="o-",
            capsize=3,
            label=label,
        )
    width_axis(left, d)
    left.set(
        yscale="log",
        ylabel="mean power over a clip (nW)",
        title="Power (power model, nominal die; bars: spread over clips)",
    )
    left.legend()
    right.plot(
        d, [100 * e["software_accuracy"] for e in entries], "s--", label="software"
    )
    right.plot(
        d, [100 * e["circuit_accuracy"] for e in entries], "o-", label="nominal circuit"
    )
    right.errorbar(
        d,
        [100 * e["accuracy_1x"]["mean"] for e in entries],
        yerr=[100 * e["accuracy_1x"]["std"] for e in entries],
        fmt="^-",
        capsize=3,
        label="circuit, 1x mismatch (mean +- std over dies)",
    )
    right.axhline(100 * chance, color="grey", ls=":", label="chance")
    width_axis(right, d)
    right.set(ylabel="test accuracy (%)", title="Binary keyword accuracy")
    right.legend()
    figure.tight_layout()
    return figure


main = script_main(__doc__, run, extra_arguments)


if __name__ == "__main__":
    main(sys.argv[1:])
