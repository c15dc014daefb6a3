"""Noise-aware augmentation: train on the dies the circuit would realise.

Every training batch draws fresh frozen mismatch from the analog simulator
(:func:`bmru_jax.circuit.perturb_model`): each clip of the batch (or the whole batch)
runs on its own sampled die, whose parameters are the nominal ones times the die's
realised-to-nominal ratios. The ratios are constants for ``grad``, so the gradient
reaches the nominal parameters through the perturbed forward pass. Optionally the
candidate nodes also carry temporal noise, fresh at every frame
(:class:`bmru_jax.circuit.TemporalNoise`), through :func:`bmru_jax.circuit.simulate`.

Keys: the die of clip ``b`` at step ``k`` uses
``fold_in(fold_in(fold_in(root, NOISE_STREAM), k), b)`` (``b = 0`` for per-batch
dies), and its temporal noise ``noise_key(die key, 0)``, so batches differ from
step to step, repeat exactly for a seed, and do not depend on how the run was split by
a resume.

Temporal noise is drawn by the circuit simulator, which runs the BMRU itself
(``eps = 0``); while ``eps > 0`` a batch gets frozen mismatch only.
"""

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PRNGKeyArray

from bmru_jax.errors import InputError
from bmru_jax.models import HardwareBackbone
from bmru_jax.training.losses import clip_logits

# fold_in index of the noise-aware stream of a run's root key (batches use others).
NOISE_STREAM = 2
_PER = ("example", "batch")


@dataclasses.dataclass(frozen=True)
class NoiseAware:
    """What noise each training batch sees.

    Attributes:
        multiple: frozen multiplicative mismatch as a multiple of the measured analog
            noise (1x is ``p = 10 %`` at 3 sigma; 3.0 is ``p = 30 %``); 0 for none.
        pelgrom_scale: factor on the calibrated Pelgrom threshold mismatch; 0 for none.
        temporal_scale: factor on the physical (shot-like) temporal noise of the
            candidate nodes; 0 for none.
        per: ``"example"`` (a die per clip) or ``"batch"`` (one die per batch).

    Example:
        >>> NoiseAware(multiple=3.0).variation().p.item()
        0.30000001192092896
    """

    multiple: float = 3.0
    pelgrom_scale: float = 0.0
    temporal_scale: float = 0.0
    per: str = "example"

    def __post_init__(self):
        for name in ("multiple", "pelgrom_scale", "temporal_scale"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InputError(f"noise_aware.{name}: must be a number, got {value!r}")
            if not value >= 0:
                raise InputError(f"noise_aware.{name}: must be >= 0, got {value!r}")
        if self.per not in _PER:
            raise InputError(
                f"noise_aware.per: must be one of {_PER}, got {self.per!r}"
            )

    def variation(self):
        """The frozen variation for :func:`bmru_jax.circuit.perturb_model`, or None."""
        from bmru_jax import circuit

        parts = []
        if self.pelgrom_scale > 0:
            parts.append(circuit.Pelgrom(scale=self.pelgrom_scale))
        if self.multiple > 0:
            parts.append(circuit.Multiplicative.from_multiple(self.multiple))
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else tuple(parts)

    def temporal_noise(self):
        """The temporal noise for :func:`bmru_jax.circuit.simulate`, or None."""
        from bmru_jax import circuit

        if self.temporal_scale == 0:
            return None
        return circuit.TemporalNoise(scale=self.temporal_scale)


class NoiseSources(eqx.Module):
    """The circuit objects of a :class:`NoiseAware` setting, built outside ``jit``.

    Attributes:
        variation: frozen variation for :func:`bmru_jax.circuit.perturb_model`, or None.
        temporal: temporal noise for :func:`bmru_jax.circuit.simulate`, or None.
        per: ``"example"`` or ``"batch"`` (static).
    """

    variation: object
    temporal: object
    per: str = eqx.field(static=True)

    @classmethod
    def from_settings(cls, settings: NoiseAware) -> "NoiseSources":
        """Build the variation and noise objects (concrete values, checked once)."""
        return cls(settings.variation(), settings.temporal_noise(), settings.per)


def die_keys(root: PRNGKeyArray, step: Int[Array, ""], batch: int, per: str):
    """Keys of the dies of one batch, ``(batch,)`` (module docstring)."""
    step_key = jax.random.fold_in(jax.random.fold_in(root, NOISE_STREAM), step)
    index = jnp.arange(batch) if per == "example" else jnp.zeros(batch, jnp.int32)
    return jax.vmap(lambda i: jax.random.fold_in(step_key, i))(index)


def noisy_logits(
    model: HardwareBackbone,
    features: Float[Array, "time features"],
    noise: NoiseSources,
    *,
    eps: float | Float[Array, ""],
    key: PRNGKeyArray,
) -> Float[Array, "time classes"]:
    """Logits of one clip on the die drawn with ``key`` (frozen mismatch only)."""
    from bmru_jax import circuit

    if noise.variation is not None:
        model = circuit.perturb_model(model, noise.variation, key=key)
    return clip_logits(model, features, eps=eps)


def circuit_logits(
    model: HardwareBackbone,
    features: Float[Array, "time features"],
    noise: NoiseSources,
    *,
    key: PRNGKeyArray,
) -> Float[Array, "time classes"]:
    """Logits of one clip on the die of ``key`` with temporal noise (``eps = 0``).

    The ideal simulator (no device non-idealities) equals the model, so the only
    difference from :func:`noisy_logits` at ``eps = 0`` is the per-frame noise.
    """
    from bmru_jax import circuit

    if noise.variation is not None:
        model = circuit.perturb_model(model, noise.variation, key=key)
    die = circuit.die_from_model(model, nonideal=circuit.NonIdealities.ideal())
    slope = model.layers[0].surrogate_slope if model.layers else 1.0
    result = circuit.simulate(
        die,
        features,
        key=circuit.noise_key(key, 0),
        noise=noise.temporal,
        surrogate_slope=slope,
    )
    return result.logits


def noisy_batch_logits(
    model: HardwareBackbone,
    features: Float[Array, "batch time features"],
    noise: NoiseSources,
    *,
    eps: Float[Array, ""],
    root: PRNGKeyArray,
    step: Int[Array, ""],
) -> Float[Array, "batch time classes"]:
    """Per-frame logits of a batch, each clip on its own sampled die.

    Args:
        model: the nominal model (gradients flow to it).
        features: ``(batch, time, features)``.
        noise: the noise objects (:meth:`NoiseSources.from_settings`).
        eps: leak of the training family.
        root: the run's root key.
        step: training step (selects this batch's dies).

    Returns:
        Logits, ``(batch, time, classes)``.
    """
    if not isinstance(model, HardwareBackbone):
        raise InputError(
            "noise_aware: needs a HardwareBackbone (the circuit maps only the "
            f"hardware backbone), got {type(model).__name__}"
        )
    keys = die_keys(root, step, features.shape[0], noise.per)

    def leaky(model):
        clip = lambda x, k: noisy_logits(model, x, noise, eps=eps, key=k)  # noqa: E731
        return jax.vmap(clip)(features, keys)

    if noise.temporal is None:
        return leaky(model)

    def with_temporal(model):
        clip = lambda x, k: circuit_logits(model, x, noise, key=k)  # noqa: E731
        return jax.vmap(clip)(features, keys)

    params, static = eqx.partition(model, eqx.is_array)
    rebuild = lambda p: eqx.combine(p, static)  # noqa: E731
    return jax.lax.cond(
        eps > 0,
        lambda p: leaky(rebuild(p)),
        lambda p: with_temporal(rebuild(p)),
        params,
    )
