"""Trained models of the experiments, cached so that a rerun does not retrain.

Each (task, model kind, width, steps, seed) trains once with ``bmru_jax.training``
into ``runs/experiments/<task>/<kind>-d<width>-k<steps>-s<seed>/`` (gitignored); a
finished run is loaded from its ``best.json``, an interrupted one resumed.
"""

import pathlib

from _common import RUNS
from _tasks import Task

from bmru_jax import training

# Published optimiser (AdamW, cosine decay from 1e-3, clipping at 1.0) and eps
# annealing for every model; only width, steps and batch are scaled down.
BATCH_SIZE = 64
# The published 1e-3 leaves the pixel-sequence digits on their initial plateau within a
# few thousand steps of batch 64; 3e-3 (for every model) gets off it.
LEARNING_RATE = 3e-3


def run_folder(
    cache: pathlib.Path, task: Task, kind: str, width: int, steps: int, seed: int
):
    """Where one training run lives."""
    name = f"{kind}-d{width}-k{steps}-lr{LEARNING_RATE:g}-s{seed}"
    return pathlib.Path(cache) / task.name / name


def trained_model(
    task: Task,
    kind: str,
    *,
    width: int,
    steps: int,
    seed: int = 0,
    cache: pathlib.Path = RUNS,
    batch_size: int = BATCH_SIZE,
):
    """The best (validation loss, ``eps = 0``) model of one run, and its record.

    Returns ``(model, info)`` with ``info`` holding the best step, its validation
    metrics and whether it was trained now or loaded.
    """
    folder = run_folder(cache, task, kind, width, steps, seed)
    if _finished(folder, steps):
        state = training.read_metadata(folder / "best.json")["state"]
        info = {
            "best_step": state["step"],
            "best_validation": state["validation"],
            "trained_now": False,
        }
        return training.load_model(folder), info
    config = training.TrainConfig(
        model=training.ModelSpec(
            kind,
            width=width,
            n_layers=2,
            n_classes=task.n_classes,
            n_features=task.n_features,
        ),
        steps=steps,
        batch_size=batch_size,
        learning_rate=LEARNING_RATE,
        seed=seed,
        eval_every=max(steps // 8, 1),
        checkpoint_every=max(steps // 4, 1),
    )
    data = training.make_training_data(
        task.train, task.validation, {"task": task.name, "experiment": "robustness"}
    )
    result = training.train(
        config, data, folder, resume=(folder / "last.json").is_file()
    )
    info = {
        "best_step": result.best_step,
        "best_validation": result.best_validation,
        "steps_per_second": result.steps_per_second,
        "train_seconds": result.wall_seconds,
        "trained_now": True,
    }
    return result.model, info


def _finished(folder: pathlib.Path, steps: int) -> bool:
    """Whether the run in ``folder`` reached its last step (``last.json`` says so)."""
    last = folder / "last.json"
    if not (last.is_file() and (folder / "best.json").is_file()):
        return False
    return training.read_metadata(last)["state"]["step"] >= steps
