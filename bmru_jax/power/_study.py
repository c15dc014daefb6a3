"""Power of whole test sets: per-clip figures, dies under mismatch, scaling over ``d``.

All three are ``jit(vmap(...))`` over clips (and dies) of :func:`network_power`: one
compilation per network shape, no Python loop over clips or dies.
"""

import dataclasses
from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from bmru_jax._validate import check_positive_int, check_shape
from bmru_jax.circuit import (
    CircuitSettings,
    Die,
    NonIdealities,
    die_from_model,
    die_key,
    perturb_die,
    resolve_unit_current_nA,
)
from bmru_jax.errors import require
from bmru_jax.models import HardwareBackbone
from bmru_jax.power._model import PowerSettings, network_power
from bmru_jax.power._scaling import PowerLawFit, bootstrap_exponent, fit_power_law

BLOCKS = ("total_nW", "core_nW", "feedforward_nW", "square_banks_nW", "energy_nJ")


@eqx.filter_jit
def clip_power(
    die: Die,
    features: Float[Array, "clips time features"],
    settings: PowerSettings = PowerSettings(),
) -> dict[str, Float[Array, " clips"]]:
    """Clip-mean power of each block and the energy of each clip, for one die.

    Args:
        die: the chip.
        features: clips of feature frames, ``(clips, time, features)``, model units.
        settings: the power model's settings.

    Returns:
        ``{"total_nW", "core_nW", "feedforward_nW", "square_banks_nW", "energy_nJ"}``,
        each ``(clips,)``; ``square_banks_nW`` is the part of the feedforward in the
        ``d x d`` banks (``W_c`` and ``W_p`` outputs), the published quadratic term.

    Example:
        >>> model = HardwareBackbone(width=4, key=jax.random.key(0))
        >>> out = clip_power(die_from_model(model), jnp.zeros((2, 101, 13)))
        >>> out["energy_nJ"].shape
        (2,)
    """
    check_shape("features", features, (None, None, die.W_in.shape[1]))

    def one(clip):
        trace = network_power(die, clip, settings)
        return {
            "total_nW": trace.total_nW().mean(),
            "core_nW": trace.core_nW().mean(),
            "feedforward_nW": trace.feedforward_nW().mean(),
            "square_banks_nW": _square_banks_nW(trace).mean(),
            "energy_nJ": trace.energy_nJ(),
        }

    return jax.vmap(one)(features)


def _square_banks_nW(trace) -> Float[Array, " time"]:
    banks = [v for k, v in trace.mirror_nW.items() if k.endswith((".W_c", ".W_p"))]
    return sum(banks[1:], banks[0])


@eqx.filter_jit
def mismatch_power(
    die: Die,
    features: Float[Array, "clips time features"],
    variation,
    settings: PowerSettings = PowerSettings(),
    *,
    key: PRNGKeyArray,
    dies: int,
) -> dict[str, Float[Array, "dies clips"]]:
    """Power of ``dies`` sampled dies on every clip (bias currents vary with the die).

    Die ``i`` draws its frozen variation from ``die_key(key, 0, i)`` applied to the
    nominal ``die``, never to an earlier draw.

    Args:
        die: the nominal die.
        features: ``(clips, time, features)``.
        variation: a :mod:`bmru_jax.circuit` variation (``Multiplicative(0.1)``, ...).
        settings: the power model's settings.
        key: root key of the dies.
        dies: number of dies (static).

    Returns:
        Like :func:`clip_power`, each ``(dies, clips)``.
    """
    dies = check_positive_int("dies", dies)

    def one(index):
        sampled = perturb_die(die, variation, key=die_key(key, 0, index))
        return clip_power(sampled, features, settings)

    return jax.vmap(one)(jnp.arange(dies))


@dataclasses.dataclass(frozen=True)
class ScalingResult:
    """Power against state size.

    Attributes:
        state_dims: the sizes ``d``.
        samples: per block, ``(dims, models, clips)`` arrays of clip-mean power (nW) or
            clip energy (nJ).
        fits: per block (``"core_nW"``, ``"feedforward_nW"``, ``"total_nW"``), the OLS
            fit on the per-``d`` means.
        bootstrap_ci: per block, the bootstrap interval of the exponent.
        unit_current_nA: the unit current each model was mapped at, nA per model
            unit, ``(dims, models)``.
    """

    state_dims: tuple[int, ...]
    samples: dict[str, np.ndarray]
    fits: dict[str, PowerLawFit]
    bootstrap_ci: dict[str, tuple[float, float]]
    unit_current_nA: np.ndarray

    def mean(self, block: str) -> np.ndarray:
        """Mean over models and clips of one block, ``(dims,)``."""
        return self.samples[block].mean(axis=(1, 2))

    def std(self, block: str) -> np.ndarray:
        """Standard deviation over models and clips of one block, ``(dims,)``."""
        return self.samples[block].std(axis=(1, 2))


def mapped_die(
    model: HardwareBackbone,
    unit_current_nA: float | str = "auto",
    nonideal: NonIdealities = NonIdealities(),
) -> Die:
    """The nominal die of ``model`` at ``unit_current_nA`` (a number, or ``"auto"``).

    ``"auto"`` maps the model's median cell onto the nominal cell the static power and
    the bias transfers were measured on
    (:func:`bmru_jax.circuit.unit_current_for_nominal_cell`).

    Example:
        >>> die = mapped_die(HardwareBackbone(width=4, key=jax.random.key(0)))
        >>> round(die.unit_current_nA, 3)  # initial beta2 = 0.5 units -> 350 pA
        0.7
    """
    unit = resolve_unit_current_nA(model, unit_current_nA)
    return die_from_model(model, CircuitSettings(unit_current_nA=unit), nonideal)


def scaling_study(
    models: dict[int, Sequence[HardwareBackbone]],
    features: Float[Array, "clips time features"],
    settings: PowerSettings = PowerSettings(),
    *,
    key: PRNGKeyArray,
    unit_current_nA: float | str = "auto",
    nonideal: NonIdealities = NonIdealities(),
    resamples: int = 1000,
    progress: Callable[[int], None] | None = None,
) -> ScalingResult:
    """Power of the nominal die of each model on every clip, and the fitted exponents.

    Each model is mapped at ``unit_current_nA``; ``"auto"`` (the default) maps each at
    its own nominal-cell unit current, so that every size's cells sit at the operating
    point the cell's power was measured at.

    Args:
        models: per state size ``d``, one or more models of that width (the same number
            at every ``d``, so the bootstrap resamples a rectangular array).
        features: test clips, ``(clips, time, features)``.
        settings: the power model's settings.
        key: key of the bootstrap.
        unit_current_nA: nA per model unit, or ``"auto"`` (see :func:`mapped_die`).
        nonideal: non-idealities of the dies.
        resamples: bootstrap replicates.
        progress: called with 1 after each model.

    Returns:
        A :class:`ScalingResult`.
    """
    require(len(models) >= 3, f"models: need at least 3 state sizes, got {len(models)}")
    dims = tuple(sorted(check_positive_int("state_dims", d) for d in models))
    counts = {len(models[d]) for d in dims}
    require(len(counts) == 1, f"models: need the same count at every d, got {counts}")
    per_dim, units = [], []
    for d in dims:
        runs, dies = [], []
        for model in models[d]:
            require(model.width == d, f"models[{d}]: has width {model.width}, not {d}")
            dies.append(mapped_die(model, unit_current_nA, nonideal))
            runs.append(clip_power(dies[-1], features, settings))
            if progress is not None:
                progress(1)
        per_dim.append({b: np.stack([np.asarray(r[b]) for r in runs]) for b in BLOCKS})
        units.append([die.unit_current_nA for die in dies])
    samples = {b: np.stack([p[b] for p in per_dim]) for b in BLOCKS}
    dims_array = np.asarray(dims, np.float64)
    blocks = ("core_nW", "feedforward_nW", "square_banks_nW", "total_nW")
    fits = {b: fit_power_law(dims_array, samples[b].mean(axis=(1, 2))) for b in blocks}
    ci = {
        b: bootstrap_exponent(
            dims_array, samples[b], key=jax.random.fold_in(key, i), resamples=resamples
        )
        for i, b in enumerate(blocks)
    }
    return ScalingResult(dims, samples, fits, ci, np.asarray(units, np.float64))


def summarise(
    values: Float[np.ndarray, "..."] | Float[Array, "..."],
) -> dict[str, float]:
    """Mean, standard deviation, minimum, maximum and relative spread of an array."""
    values = np.asarray(values, np.float64).ravel()
    mean = float(values.mean())
    std = float(values.std(ddof=1)) if values.size > 1 else 0.0
    return {
        "mean": mean,
        "std": std,
        "min": float(values.min()),
        "max": float(values.max()),
        "relative_std": std / mean if mean else 0.0,
    }
