"""Per-frame loss and clip decisions for keyword spotting.

Training repeats the clip label at every frame and averages the cross-entropy; the clip
decision is the majority vote of the per-frame argmax.
"""

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int


def frame_cross_entropy(
    logits: Float[Array, "time classes"], label: Int[Array, ""] | int
) -> Float[Array, ""]:
    """Mean over frames of the cross-entropy against the clip label.

    Example:
        >>> import jax.numpy as jnp
        >>> round(float(frame_cross_entropy(jnp.zeros((5, 2)), 1)), 4)
        0.6931
    """
    log_p = jax.nn.log_softmax(logits, axis=-1)
    return -jnp.mean(log_p[:, label])


def clip_decision(logits: Float[Array, "time classes"]) -> Int[Array, ""]:
    """Majority vote of the per-frame argmax; a tie goes to the lower class index.

    Example:
        >>> import jax.numpy as jnp
        >>> int(clip_decision(jnp.array([[0.0, 1.0], [0.0, 1.0], [1.0, 0.0]])))
        1
    """
    votes = jax.nn.one_hot(jnp.argmax(logits, axis=-1), logits.shape[-1])
    return jnp.argmax(jnp.sum(votes, axis=0))


def frame_confidence(logits: Float[Array, "time classes"]) -> Float[Array, " classes"]:
    """Share of frames voting for each class."""
    votes = jax.nn.one_hot(jnp.argmax(logits, axis=-1), logits.shape[-1])
    return jnp.mean(votes, axis=0)
