"""The training loop: one jitted step, eps annealing, best-at-eps-0 checkpoints, resume.

Recipe (published): AdamW (b1 0.9, b2 0.99, eps 1e-8, weight decay 1e-4), learning
rate 1e-3 with cosine decay to 0, global-norm clipping at 1.0, batch 256; the leak
``eps`` of the training family annealed from 1 to 0
(:func:`~bmru_jax.training.schedule.eps_schedule`); per-frame cross-entropy with the
clip label repeated.

A run folder holds ``last.json`` (model, optimizer state, step and history, for
``resume``) and ``best.json`` (the model with the lowest validation loss among the
evaluations made at ``eps = 0``). Every random choice derives from the seed and the
step (batch ``k`` is drawn by ``default_rng([seed, k])``, its dies by
``fold_in(key(seed), k)``), so a resumed run gives the same parameters as an
uninterrupted one.
"""

import dataclasses
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from bmru_jax.errors import InputError
from bmru_jax.models import HardwareBackbone
from bmru_jax.training.augment import NoiseAware, NoiseSources, noisy_batch_logits
from bmru_jax.training.checkpoint import (
    ModelSpec,
    load_leaves,
    read_metadata,
    save_checkpoint,
)
from bmru_jax.training.init import centre_candidates
from bmru_jax.training.losses import (
    check_dataset,
    clip_logits,
    evaluate,
    metrics_from_logits,
)
from bmru_jax.training.schedule import eps_schedule, first_bmru_step


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run's numbers.

    Attributes:
        model: the network to train.
        steps: optimiser steps ``K``.
        batch_size: clips per step.
        learning_rate: peak of the cosine decay.
        weight_decay, b1, b2, adam_eps: AdamW settings.
        clip_norm: global gradient-norm clip.
        eps_hold, eps_decay: fractions of ``K`` for the eps schedule.
        seed: the run's seed (initialisation, batches, dies).
        eval_every: steps between validation evaluations (only at ``eps = 0``; the
            last step is always evaluated).
        checkpoint_every: steps between writes of ``last.json``.
        centre_candidates: before the first step, shift each BMRU layer's candidate
            bias so its mean candidate on the first batch sits in the hold window
            (:func:`~bmru_jax.training.init.centre_candidates`).
        noise_aware: noise-aware augmentation, or None.

    Example:
        >>> TrainConfig(ModelSpec(width=4), steps=5000).batch_size
        256
    """

    model: ModelSpec = ModelSpec()
    steps: int = 5000
    batch_size: int = 256
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    b1: float = 0.9
    b2: float = 0.99
    adam_eps: float = 1e-8
    clip_norm: float = 1.0
    eps_hold: float = 0.05
    eps_decay: float = 0.70
    seed: int = 0
    eval_every: int = 250
    checkpoint_every: int = 500
    centre_candidates: bool = True
    noise_aware: NoiseAware | None = None

    def __post_init__(self):
        for name in ("steps", "batch_size", "eval_every", "checkpoint_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"{name}: must be a positive integer, got {value!r}")
        for name in ("learning_rate", "weight_decay", "adam_eps", "clip_norm"):
            value = getattr(self, name)
            if (
                not (isinstance(value, int | float) and math.isfinite(value))
                or value < 0
            ):
                raise InputError(f"{name}: must be a finite number >= 0, got {value!r}")
        if first_bmru_step(self.steps, hold=self.eps_hold, decay=self.eps_decay) >= (
            self.steps
        ):
            raise InputError(
                f"steps: {self.steps} steps never reach eps = 0 with eps_hold "
                f"{self.eps_hold} and eps_decay {self.eps_decay}"
            )
        if self.noise_aware is not None and self.model.kind != "backbone":
            raise InputError(
                "noise_aware: only the hardware backbone maps onto the circuit, "
                f"got model {self.model.kind!r}"
            )

    def to_dict(self) -> dict:
        """Plain JSON-ready settings."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        """Inverse of :meth:`to_dict`."""
        data = dict(data)
        data["model"] = ModelSpec(**data["model"])
        if data.get("noise_aware") is not None:
            data["noise_aware"] = NoiseAware(**data["noise_aware"])
        return cls(**data)


class TrainingData(NamedTuple):
    """Training and validation features of one task.

    ``description`` says where they came from (folder, task, seed, feature settings,
    class names); it is stored in every checkpoint and compared on resume.
    """

    train_features: np.ndarray
    train_labels: np.ndarray
    validation_features: np.ndarray
    validation_labels: np.ndarray
    description: dict


def make_training_data(
    train: tuple[np.ndarray, np.ndarray],
    validation: tuple[np.ndarray, np.ndarray],
    description: dict | None = None,
) -> TrainingData:
    """Check arrays and wrap them as :class:`TrainingData`.

    Args:
        train: ``(features (clips, time, features), labels (clips,))``.
        validation: the same for the validation split.
        description: where the data came from (JSON-ready), default ``{}``.
    """
    x, y = check_dataset("train_features", *train)
    vx, vy = check_dataset("validation_features", *validation)
    if vx.shape[1:] != x.shape[1:]:
        raise InputError(
            f"validation_features: frames x features {vx.shape[1:]} differ from "
            f"training {x.shape[1:]}"
        )
    return TrainingData(x, y, vx, vy, dict(description or {}))


def load_training_data(
    root: str | Path,
    task: str = "binary",
    *,
    settings=None,
    seed: int = 0,
    max_per_class: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> TrainingData:
    """Training and validation features of a Speech Commands-style folder.

    Args:
        root: the data folder (Speech Commands, or the synthetic corpus).
        task: ``"binary"`` or ``"keywords11"``.
        settings: :class:`bmru_jax.data.FeatureSettings` (default published).
        seed: clip selection seed.
        max_per_class: clip cap (default: the task's published caps).
        progress: called with 1 per clip read when features are not cached.

    Example:
        >>> data = load_training_data("corpus", "binary")  # doctest: +SKIP
    """
    from bmru_jax.data import FeatureSettings, load_features

    settings = FeatureSettings() if settings is None else settings
    splits = {
        split: load_features(
            root,
            task,
            split,
            settings=settings,
            seed=seed,
            max_per_class=max_per_class,
            progress=progress,
        )
        for split in ("training", "validation")
    }
    description = {
        "root": str(Path(root).resolve()),
        "task": task,
        "seed": seed,
        "max_per_class": max_per_class,
        "class_names": list(splits["training"].class_names),
        "features": dataclasses.asdict(settings),
        "clips": {name: int(len(s.labels)) for name, s in splits.items()},
    }
    return make_training_data(
        splits["training"][:2], splits["validation"][:2], description
    )


class StepReport(NamedTuple):
    """What the progress callback receives.

    Attributes:
        step: steps done so far.
        loss: training loss of the latest step.
        accuracy: clip accuracy of the latest batch (majority vote).
        eps: the leak the latest step trained with.
        validation: the latest validation metrics (``evaluate``), or None.
    """

    step: int
    loss: float
    accuracy: float
    eps: float
    validation: dict | None


class TrainResult(NamedTuple):
    """A finished run.

    Attributes:
        model: the best model at ``eps = 0`` (the one in ``best.json``).
        best_step: the step it was saved at.
        best_validation: its validation metrics.
        history: every validation evaluation, ``{"step", "eps", "loss", ...}``.
        steps_per_second: training steps per second, without the first (compiling)
            step, evaluations and checkpoint writes.
        wall_seconds: time of this call.
        run_dir: the run folder.
    """

    model: eqx.Module
    best_step: int
    best_validation: dict
    history: list
    steps_per_second: float
    wall_seconds: float
    run_dir: Path


def make_optimizer(config: TrainConfig) -> optax.GradientTransformation:
    """Global-norm clipping, then AdamW with a cosine-decayed learning rate."""
    schedule = optax.cosine_decay_schedule(config.learning_rate, config.steps)
    return optax.chain(
        optax.clip_by_global_norm(config.clip_norm),
        optax.adamw(
            schedule,
            b1=config.b1,
            b2=config.b2,
            eps=config.adam_eps,
            weight_decay=config.weight_decay,
        ),
    )


def make_train_step(config: TrainConfig, optimizer: optax.GradientTransformation):
    """The jitted step ``(model, opt_state, x, y, batch, step) -> (model, opt_state,
    loss, accuracy)``.

    ``x``, ``y`` are the whole training set (on the device); ``batch`` the step's clip
    indices. ``step`` is a traced scalar, so ``eps`` and the dies change without
    recompiling: the step is traced once per run (checked).
    """
    noise = None
    if config.noise_aware is not None:
        noise = NoiseSources.from_settings(config.noise_aware)
    root = jax.random.key(config.seed)

    def logits_fn(model, x, eps, step):
        if noise is None:
            return jax.vmap(lambda clip: clip_logits(model, clip, eps=eps))(x)
        return noisy_batch_logits(model, x, noise, eps=eps, root=root, step=step)

    def loss_fn(model, x, y, eps, step):
        metrics = metrics_from_logits(logits_fn(model, x, eps, step), y)
        loss = metrics.loss_sum / metrics.clips
        return loss, metrics.correct_clips / metrics.clips

    @eqx.filter_jit
    @eqx.debug.assert_max_traces(max_traces=1)
    def train_step(model, opt_state, features, labels, batch, step):
        x, y = features[batch], labels[batch]
        eps = eps_schedule(
            step, config.steps, hold=config.eps_hold, decay=config.eps_decay
        )
        (loss, accuracy), grads = eqx.filter_value_and_grad(loss_fn, has_aux=True)(
            model, x, y, eps, step
        )
        params = eqx.filter(model, eqx.is_array)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return eqx.apply_updates(model, updates), opt_state, loss, accuracy

    return train_step


def batch_indices(seed: int, step: int, clips: int, batch_size: int) -> np.ndarray:
    """Clip indices of batch ``step``: ``batch_size`` distinct clips (with repeats
    only when the set is smaller), a pure function of ``(seed, step)``."""
    rng = np.random.default_rng([seed, step])
    return rng.choice(clips, batch_size, replace=batch_size > clips).astype(np.int32)


def train(
    config: TrainConfig,
    data: TrainingData,
    run_dir: str | Path,
    *,
    resume: bool = False,
    progress: Callable[[StepReport], None] | None = None,
    report_every: int = 25,
) -> TrainResult:
    """Train a model; write ``last.json`` and ``best.json`` into ``run_dir``.

    Args:
        config: the run's settings.
        data: training and validation features (:func:`load_training_data`).
        run_dir: folder for the checkpoints (created).
        resume: continue from ``run_dir/last.json`` (its settings must equal
            ``config`` and ``data``'s description); without it, a folder that already
            holds a run is refused.
        progress: called with a :class:`StepReport` every ``report_every`` steps,
            after each evaluation and at the end.
        report_every: steps between progress calls.

    Returns:
        :class:`TrainResult`.

    Raises:
        InputError: a run already in ``run_dir`` (without ``resume``), or a checkpoint
            whose settings differ from the ones asked for.

    Example:
        >>> result = train(TrainConfig(steps=5000), data, "runs/d4")  # doctest: +SKIP
    """
    start_time = time.perf_counter()
    run_dir = Path(run_dir)
    optimizer = make_optimizer(config)
    model = config.model.build(key=jax.random.fold_in(jax.random.key(config.seed), 0))
    _check_data_fits(config, data)
    if config.centre_candidates and isinstance(model, HardwareBackbone):
        first = batch_indices(config.seed, 0, len(data.train_labels), config.batch_size)
        model = centre_candidates(model, jnp.asarray(data.train_features[first]))
    opt_state = optimizer.init(eqx.filter(model, eqx.is_array))
    state = {"step": 0, "best_loss": None, "best_step": None, "history": []}
    metadata = {"training": config.to_dict(), "data": data.description}
    last = run_dir / "last.json"
    if resume and last.is_file():
        model, opt_state, state = _resume(last, metadata, model, opt_state)
    elif last.is_file() or (run_dir / "best.json").is_file():
        raise InputError(
            f"{run_dir}: already holds a run; resume it (resume=True, --resume) "
            "or pick another folder"
        )

    step_fn = make_train_step(config, optimizer)
    features = jnp.asarray(data.train_features)
    labels = jnp.asarray(data.train_labels)
    clips = len(data.train_labels)
    timed_steps, timed_seconds = 0, 0.0
    loss = accuracy = float("nan")
    try:
        while state["step"] < config.steps:
            k = state["step"]
            batch = batch_indices(config.seed, k, clips, config.batch_size)
            tic = time.perf_counter()
            model, opt_state, loss, accuracy = step_fn(
                model, opt_state, features, labels, batch, jnp.asarray(k, jnp.int32)
            )
            state["step"] = k + 1
            report = (k + 1) % report_every == 0 or k + 1 == config.steps
            validation = _maybe_evaluate(config, data, model, run_dir, state, metadata)
            if report or validation is not None:
                loss, accuracy = float(loss), float(accuracy)
            if k > 0:
                jax.block_until_ready(loss)
                timed_steps += 1
                timed_seconds += time.perf_counter() - tic
            if (k + 1) % config.checkpoint_every == 0 or k + 1 == config.steps:
                _save_state(last, model, opt_state, state, metadata)
            if progress is not None and (report or validation is not None):
                eps = float(_eps(config, k))
                progress(StepReport(k + 1, loss, accuracy, eps, validation))
    except KeyboardInterrupt:
        _save_state(last, model, opt_state, state, metadata)
        raise
    return _result(config, run_dir, state, timed_steps, timed_seconds, start_time)


def _eps(config: TrainConfig, step: int):
    return eps_schedule(
        step, config.steps, hold=config.eps_hold, decay=config.eps_decay
    )


def _check_data_fits(config: TrainConfig, data: TrainingData) -> None:
    spec = config.model
    frames_features = data.train_features.shape[2]
    if frames_features != spec.n_features:
        raise InputError(
            f"features: model expects {spec.n_features} features per frame, "
            f"the data has {frames_features}"
        )
    top = int(max(data.train_labels.max(), data.validation_labels.max()))
    if top >= spec.n_classes:
        raise InputError(
            f"labels: class index {top} needs n_classes > {top}, got {spec.n_classes}"
        )


def _maybe_evaluate(config, data, model, run_dir, state, metadata) -> dict | None:
    """Evaluate at ``eps = 0`` on schedule; save ``best.json`` on a new best."""
    k = state["step"]
    due = k % config.eval_every == 0 or k == config.steps
    if not due or float(_eps(config, k - 1)) > 0.0:
        return None
    validation = evaluate(model, data.validation_features, data.validation_labels)
    state["history"].append({"step": k, **validation})
    if state["best_loss"] is None or validation["loss"] < state["best_loss"]:
        state["best_loss"], state["best_step"] = validation["loss"], k
        best = {
            **metadata,
            "contents": "model",
            "model": dataclasses.asdict(config.model),
        }
        best["state"] = {"step": k, "validation": validation}
        save_checkpoint(run_dir / "best.json", model, best)
    return validation


def _save_state(path, model, opt_state, state, metadata) -> None:
    training = metadata["training"]
    record = {**metadata, "contents": "training-state", "model": training["model"]}
    record["state"] = state
    save_checkpoint(path, (model, opt_state), record)


def _resume(path: Path, metadata: dict, model, opt_state):
    """Model, optimizer state and loop state from ``last.json``, checked against the
    settings of this call."""
    record = read_metadata(path)
    for section in ("training", "data"):
        _compare(path, section, record.get(section), metadata[section])
    model, opt_state = load_leaves(path, (model, opt_state))
    state = record.get("state")
    if not isinstance(state, dict) or not isinstance(state.get("step"), int):
        raise InputError(f"{path}: field 'state.step' missing or not an integer")
    return model, opt_state, state


def _compare(path: Path, section: str, stored, wanted) -> None:
    """Raise naming the first setting of ``section`` that differs."""
    stored, wanted = _flatten(stored or {}), _flatten(wanted)
    for name in sorted(set(stored) | set(wanted)):
        if name == "root":  # the same data may be read from another folder
            continue
        if stored.get(name) != wanted.get(name):
            raise InputError(
                f"{path}: {section}.{name} is {stored.get(name)!r} in the checkpoint "
                f"but {wanted.get(name)!r} was asked for"
            )


def _flatten(tree: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = list(value) if isinstance(value, tuple) else value
    return flat


def _result(config, run_dir, state, timed_steps, timed_seconds, start_time):
    from bmru_jax.training.checkpoint import load_model

    best = next(h for h in state["history"] if h["step"] == state["best_step"])
    return TrainResult(
        model=load_model(run_dir / "best.json"),
        best_step=state["best_step"],
        best_validation=best,
        history=state["history"],
        steps_per_second=timed_steps / timed_seconds if timed_seconds else float("nan"),
        wall_seconds=time.perf_counter() - start_time,
        run_dir=run_dir,
    )
