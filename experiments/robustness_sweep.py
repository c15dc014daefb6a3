"""Accuracy under frozen multiplicative variation: BMRU circuit vs minGRU and LRU.

The published protocol: every parameter scaled by ``1 + N(0, (p/3)^2)`` per die,
``p`` in {5, 10, ..., 40, 50, ..., 100} % (0.5x to 10x the measured analog noise, where
1x is ``p = 10 %``), plus ``p = 0``. Three models per task, trained comparably with
``bmru_jax.training`` (same width, layers, steps, batch of 64, AdamW with cosine decay
from 3e-3 and global-norm clipping, eps annealing for the BMRU): the first-quadrant
BMRU hardware backbone, and minGRU and LRU in a pre-norm residual stack. What varies
differs by family (``_robustness.py``): the BMRU is simulated as its circuit with every
circuit element varied
(``bmru_jax.circuit.Multiplicative``), the baselines have every software parameter
varied. Tasks (``_tasks.py``): the binary and 11-way keyword tasks of the offline
corpus, the scikit-learn 8 x 8 digits read pixel by pixel (plain and permuted), and
pixel-by-pixel MNIST when its idx files are found (``--mnist DIR``).

Accuracy is the clip accuracy of the majority vote over frames on the test split; the
figure shows mean +- std over dies per level, the full range and a 0-2x zoom.

    python experiments/robustness_sweep.py [--out figures] [--quick] [--seed 0]
        [--tasks digits,keywords_binary] [--dies 100] [--width 16] [--steps 2000]
        [--mnist DIR]
"""

import pathlib
import sys

import matplotlib.pyplot as plt
import numpy as np
from _common import RUNS, mean_and_spread, save, script_main
from _robustness import baseline_accuracy, bmru_accuracy
from _tasks import QUICK_TASK, TASKS, load_task
from _trained import BATCH_SIZE, LEARNING_RATE, trained_model
from tqdm import tqdm

from bmru_jax import circuit
from bmru_jax.training import evaluate

NAME = "robustness_sweep"
LEVELS_PERCENT = (0, 5, 10, 15, 20, 25, 30, 35, 40, 50, 60, 70, 80, 90, 100)
QUICK_LEVELS_PERCENT = (0, 10, 50)
KINDS = ("backbone", "mingru", "lru")
LABELS = {"backbone": "FQ-BMRU (circuit)", "mingru": "minGRU", "lru": "LRU"}
ONE_X_PERCENT = 10.0


def extra_arguments(parser) -> None:
    """Options of this experiment."""
    parser.add_argument("--tasks", default=",".join(TASKS), help="comma-separated")
    parser.add_argument("--dies", type=int, default=100, help="dies per level")
    parser.add_argument("--width", type=int, default=16, help="model width d")
    parser.add_argument("--steps", type=int, default=2000, help="training steps")
    parser.add_argument(
        "--mnist", type=pathlib.Path, default=None, help="folder of MNIST idx files"
    )
    parser.add_argument(
        "--cache", type=pathlib.Path, default=RUNS, help="trained-model cache"
    )


def sweep_model(task, kind, model, levels_percent, dies, seed) -> dict:
    """Accuracy per level and die of one trained model on the task's test split."""
    x, y = task.test
    p = [level / 100.0 for level in levels_percent]
    if kind == "backbone":
        variations = [circuit.Multiplicative(level) for level in p]
        accuracy = bmru_accuracy(model, x, y, variations, dies, seed)
    else:
        accuracy = baseline_accuracy(model, x, y, p, dies, seed)
    mean, spread = mean_and_spread(accuracy, axis=1)
    return {
        "software_accuracy": evaluate(model, x, y)["accuracy"],
        "accuracy_mean": mean,
        "accuracy_std": spread,
        "accuracy_min": accuracy.min(axis=1),
        "accuracy_max": accuracy.max(axis=1),
    }


def run(args) -> dict:
    """Train (or load) every model of every task, sweep the noise; plot; save."""
    if args.quick:
        levels, dies = QUICK_LEVELS_PERCENT, 3
        names = [QUICK_TASK]
        width, steps = 8, 200
    else:
        levels, dies = LEVELS_PERCENT, args.dies
        names = [name.strip() for name in args.tasks.split(",") if name.strip()]
        width, steps = args.width, args.steps
    results, skipped = {}, {}
    for name in tqdm(names, desc="tasks"):
        task = load_task(name, quick=args.quick, mnist=args.mnist)
        if task is None:
            skipped[name] = f"no MNIST idx files in {args.mnist}"
            continue
        entry = {
            "chance": task.chance,
            "clips": {"train": len(task.train[1]), "test": len(task.test[1])},
            "steps": task.train[0].shape[1],
            "models": {},
        }
        for kind in tqdm(KINDS, desc=name, leave=False):
            model, info = trained_model(
                task, kind, width=width, steps=steps, seed=args.seed, cache=args.cache
            )
            sweep = sweep_model(task, kind, model, levels, dies, args.seed)
            entry["models"][kind] = {"training": info, **sweep}
        results[name] = entry
    numbers = {
        "levels_percent": levels,
        "levels_multiple": [level / ONE_X_PERCENT for level in levels],
        "dies_per_level": dies,
        "width": width,
        "layers": 2,
        "training_steps": steps,
        "batch_size": BATCH_SIZE,
        "learning_rate": LEARNING_RATE,
        "tasks": results,
        "skipped": skipped,
        "variation": {
            "backbone": "circuit: every mirror gain, bias source and cell bias current "
            "x max(1 + N(0, (p/3)^2), 0), default non-idealities",
            "mingru, lru": "software: every scalar parameter x (1 + N(0, (p/3)^2))",
        },
    }
    return save(NAME, args, plot(results, levels), numbers)


def plot(results, levels):
    """One row per task: full range and a 0-2x zoom, mean +- std over dies."""
    rows = max(len(results), 1)
    figure, axes = plt.subplots(rows, 2, figsize=(13, 3.8 * rows), squeeze=False)
    multiple = np.asarray(levels) / ONE_X_PERCENT
    for row, (name, entry) in enumerate(results.items()):
        for column, limit in enumerate((None, 2.0)):
            ax = axes[row, column]
            for index, (kind, model) in enumerate(entry["models"].items()):
                shown = multiple <= (limit or np.inf)
                ax.errorbar(
                    multiple[shown] + 0.02 * (index - 1) * (limit or 5),
                    100 * np.asarray(model["accuracy_mean"])[shown],
                    yerr=100 * np.asarray(model["accuracy_std"])[shown],
                    fmt="o-",
                    ms=3,
                    capsize=2,
                    label=LABELS[kind],
                )
            ax.axhline(100 * entry["chance"], color="grey", ls=":", label="chance")
            zoom = "" if limit is None else ", 0-2x zoom"
            ax.set(
                title=f"{name}{zoom}",
                xlabel="frozen variation (multiple of measured noise; 1x = p 10 %)",
                ylabel="test accuracy (%)",
            )
            ax.legend(fontsize=8)
    figure.suptitle(
        "Accuracy vs multiplicative variation (mean +- std over dies per level)"
    )
    figure.tight_layout()
    return figure


main = script_main(__doc__, run, extra_arguments)


if __name__ == "__main__":
    main(sys.argv[1:])
