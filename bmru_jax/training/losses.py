"""Losses and metrics over batches of clips.

Training repeats the clip label at every frame and averages the cross-entropy over
frames and clips; the clip decision is the majority vote of the per-frame argmax
(:func:`bmru_jax.models.clip_decision`).

The hardware backbone takes the leak ``eps`` of the training family; the continuous
baselines (:class:`~bmru_jax.models.ResidualStack`) have none and ignore it.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float, Int

from bmru_jax._validate import check_positive_int, check_shape
from bmru_jax.errors import InputError
from bmru_jax.models import HardwareBackbone, clip_decision, frame_cross_entropy


def clip_logits(
    model: eqx.Module,
    features: Float[Array, "time features"],
    *,
    eps: float | Float[Array, ""] = 0.0,
) -> Float[Array, "time classes"]:
    """Per-frame logits of one clip; ``eps`` reaches only models that have a leak."""
    if isinstance(model, HardwareBackbone):
        return model(features, eps=eps)
    return model(features)


def batch_loss(
    model: eqx.Module,
    features: Float[Array, "batch time features"],
    labels: Int[Array, " batch"],
    *,
    eps: float | Float[Array, ""] = 0.0,
) -> Float[Array, ""]:
    """Mean over clips and frames of the cross-entropy against the repeated label.

    ``L = -1/(B T) sum_b sum_t log softmax(logits_bt)[label_b]``.

    Example:
        >>> import jax
        >>> model = HardwareBackbone(width=4, key=jax.random.key(0))
        >>> batch_loss(model, jnp.zeros((3, 10, 13)), jnp.array([0, 1, 1])).shape
        ()
    """
    per_clip = jax.vmap(
        lambda x, y: frame_cross_entropy(clip_logits(model, x, eps=eps), y)
    )
    return jnp.mean(per_clip(features, labels))


class BatchMetrics(eqx.Module):
    """Sums over one batch, so that chunks of a data set add up exactly.

    Attributes:
        loss_sum: sum over clips of the mean per-frame cross-entropy.
        correct_clips: clips whose majority vote equals the label.
        correct_frames: frames whose argmax equals the label.
        clips: clips in the batch.
        frames: frames in the batch.
    """

    loss_sum: Float[Array, ""]
    correct_clips: Int[Array, ""]
    correct_frames: Int[Array, ""]
    clips: Int[Array, ""]
    frames: Int[Array, ""]


def batch_metrics(
    model: eqx.Module,
    features: Float[Array, "batch time features"],
    labels: Int[Array, " batch"],
    *,
    eps: float | Float[Array, ""] = 0.0,
    mask: Bool[Array, " batch"] | None = None,
) -> BatchMetrics:
    """Loss and accuracies of one batch, as sums (:class:`BatchMetrics`)."""
    logits = jax.vmap(lambda x: clip_logits(model, x, eps=eps))(features)
    return metrics_from_logits(logits, labels, mask=mask)


def metrics_from_logits(
    logits: Float[Array, "batch time classes"],
    labels: Int[Array, " batch"],
    *,
    mask: Bool[Array, " batch"] | None = None,
) -> BatchMetrics:
    """:class:`BatchMetrics` of given per-frame logits; clips where ``mask`` is False
    (padding) count for nothing."""
    if mask is None:
        mask = jnp.ones(labels.shape, bool)
    losses = jax.vmap(frame_cross_entropy)(logits, labels)
    decisions = jax.vmap(clip_decision)(logits)
    frame_hits = (jnp.argmax(logits, axis=-1) == labels[:, None]) & mask[:, None]
    return BatchMetrics(
        loss_sum=jnp.sum(jnp.where(mask, losses, 0.0)),
        correct_clips=jnp.sum((decisions == labels) & mask),
        correct_frames=jnp.sum(frame_hits),
        clips=jnp.sum(mask),
        frames=jnp.sum(mask) * logits.shape[1],
    )


@eqx.filter_jit
def _chunk_metrics(model, features, labels, mask, eps):
    return batch_metrics(model, features, labels, eps=eps, mask=mask)


def evaluate(
    model: eqx.Module,
    features: Float[np.ndarray, "clips time features"],
    labels: Int[np.ndarray, " clips"],
    *,
    eps: float = 0.0,
    batch_size: int = 512,
) -> dict[str, float]:
    """Loss, clip accuracy and frame accuracy of ``model`` on a whole data set.

    Runs in chunks of ``batch_size`` clips (the last one padded and masked, so one
    compilation serves every chunk).

    Args:
        model: a trained network (``HardwareBackbone`` or ``ResidualStack``).
        features: ``(clips, time, features)``, float32.
        labels: ``(clips,)`` integer class indices.
        eps: leak; keep 0 to evaluate the BMRU itself.
        batch_size: clips per compiled chunk.

    Returns:
        ``{"loss", "accuracy", "frame_accuracy", "clips"}``; accuracy is the share of
        clips whose majority vote is right.

    Example:
        >>> import jax
        >>> model = HardwareBackbone(width=4, key=jax.random.key(0))
        >>> x, y = np.zeros((5, 20, 13), np.float32), np.array([0, 1, 0, 1, 1])
        >>> sorted(evaluate(model, x, y))
        ['accuracy', 'clips', 'frame_accuracy', 'loss']
    """
    features, labels = check_dataset("features", features, labels)
    size = min(check_positive_int("batch_size", batch_size), len(labels))
    total = None
    for start in range(0, len(labels), size):
        x, y, mask = pad_chunk(features, labels, start, size)
        sums = _chunk_metrics(model, x, y, mask, jnp.asarray(eps, jnp.float32))
        total = sums if total is None else jax.tree.map(jnp.add, total, sums)
    return {
        "loss": float(total.loss_sum) / float(total.clips),
        "accuracy": float(total.correct_clips) / float(total.clips),
        "frame_accuracy": float(total.correct_frames) / float(total.frames),
        "clips": int(total.clips),
    }


@eqx.filter_jit
def _chunk_decisions(model, features):
    return jax.vmap(lambda x: clip_decision(clip_logits(model, x)))(features)


def clip_decisions(
    model: eqx.Module,
    features: Float[np.ndarray, "clips time features"],
    *,
    batch_size: int = 512,
) -> Int[np.ndarray, " clips"]:
    """Clip decisions (majority vote) of ``model`` at ``eps = 0`` for every clip.

    Example:
        >>> import jax
        >>> model = HardwareBackbone(width=4, key=jax.random.key(0))
        >>> clip_decisions(model, np.zeros((3, 20, 13), np.float32)).shape
        (3,)
    """
    features, _ = check_dataset("features", features, np.zeros(len(features), int))
    size = min(check_positive_int("batch_size", batch_size), len(features))
    decisions = []
    for start in range(0, len(features), size):
        x, _, mask = pad_chunk(features, np.zeros(len(features), int), start, size)
        decisions.append(np.asarray(_chunk_decisions(model, x))[mask])
    return np.concatenate(decisions)


def pad_chunk(features, labels, start: int, size: int):
    """Clips ``start .. start + size`` padded to ``size`` with the first, and a mask."""
    x, y = features[start : start + size], labels[start : start + size]
    mask = np.ones(size, bool)
    mask[len(y) :] = False
    missing = size - len(y)
    if missing:
        x = np.concatenate([x, np.repeat(features[:1], missing, axis=0)])
        y = np.concatenate([y, np.repeat(labels[:1], missing)])
    return x, y, mask


def check_dataset(name: str, features, labels) -> tuple[np.ndarray, np.ndarray]:
    """Features as float32 ``(clips, time, features)``, labels as int32 ``(clips,)``."""
    features = np.asarray(features, dtype=np.float32)
    labels = np.asarray(labels)
    check_shape(name, features, (None, None, None))
    check_shape("labels", labels, (features.shape[0],))
    if features.shape[0] == 0:
        raise InputError(f"{name}: needs at least one clip, got 0")
    if not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0:
        raise InputError("labels: must be non-negative integers")
    if not np.all(np.isfinite(features)):
        raise InputError(f"{name}: must be finite, found NaN or infinity")
    return features, labels.astype(np.int32)
