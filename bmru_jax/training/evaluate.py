"""Accuracy of a trained model on sampled dies of its circuit.

Each die is drawn from the model's nominal die (:func:`bmru_jax.circuit.die_from_model`,
with the simulator's default non-idealities unless told otherwise) with key
``die_key(key, 0, die)``, and every clip runs through
:func:`bmru_jax.circuit.simulate`; the clip decision is the majority vote.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Float, Int, PRNGKeyArray

from bmru_jax._validate import check_positive_int
from bmru_jax.models import HardwareBackbone, clip_decision
from bmru_jax.training.losses import check_dataset


def mismatch_accuracy(
    model: HardwareBackbone,
    features: Float[np.ndarray, "clips time features"],
    labels: Int[np.ndarray, " clips"],
    variation,
    *,
    dies: int,
    key: PRNGKeyArray,
    nonideal=None,
    dies_per_chunk: int = 10,
) -> Float[np.ndarray, " dies"]:
    """Clip accuracy of each of ``dies`` sampled dies of ``model``'s circuit.

    Args:
        model: a trained hardware backbone.
        features: ``(clips, time, features)``.
        labels: ``(clips,)``.
        variation: frozen variation (:class:`bmru_jax.circuit.Multiplicative`, ...),
            or None for the nominal die.
        dies: number of dies.
        key: root key; die ``i`` uses ``die_key(key, 0, i)``.
        nonideal: :class:`bmru_jax.circuit.NonIdealities` (default: the simulator's).
        dies_per_chunk: dies evaluated per compiled call (memory bound).

    Returns:
        Accuracy per die, ``(dies,)``, float64.

    Example:
        >>> from bmru_jax import circuit
        >>> model = HardwareBackbone(width=4, key=jax.random.key(0))
        >>> x, y = np.zeros((4, 20, 13), np.float32), np.array([0, 1, 0, 1])
        >>> mismatch_accuracy(model, x, y, circuit.Multiplicative(0.3), dies=3,
        ...     key=jax.random.key(1)).shape
        (3,)
    """
    from bmru_jax import circuit

    features, labels = check_dataset("features", features, labels)
    dies = check_positive_int("dies", dies)
    chunk = min(check_positive_int("dies_per_chunk", dies_per_chunk), dies)
    nonideal = circuit.NonIdealities() if nonideal is None else nonideal
    nominal = circuit.die_from_model(model, nonideal=nonideal)
    accuracy = []
    for start in range(0, dies, chunk):
        index = jnp.arange(start, start + chunk)
        hits = _die_hits(nominal, variation, key, index, features, labels)
        accuracy.append(np.asarray(hits)[: dies - start] / len(labels))
    return np.concatenate(accuracy)


@eqx.filter_jit
def _die_hits(nominal, variation, key, index, features, labels):
    from bmru_jax import circuit

    def one_die(i):
        die = nominal
        if variation is not None:
            die = circuit.perturb_die(
                nominal, variation, key=circuit.die_key(key, 0, i)
            )
        run = lambda x: clip_decision(circuit.simulate(die, x).logits)  # noqa: E731
        return jnp.sum(jax.vmap(run)(features) == labels)  # exact count

    return jax.vmap(one_die)(index)
