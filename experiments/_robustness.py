"""Accuracy under frozen variation: the BMRU as a circuit, the baselines as software.

The published protocol scales parameters by ``1 + N(0, (p/3)^2)``, one draw per scalar,
per die, from the immutable nominal model. The two families get it differently:

- the first-quadrant BMRU (``HardwareBackbone``) is mapped onto its circuit and every
  circuit element varies (``bmru_jax.circuit.Multiplicative``: each mirror gain, bias
  source and cell bias current, the cell parameters through their measured transfers,
  factors floored at zero since a mirror cannot reverse its current), and the die is
  simulated with the circuit's non-idealities
  (``bmru_jax.training.mismatch_accuracy``);
- minGRU and LRU (``ResidualStack``) have no circuit: every scalar parameter of the
  software model is scaled, including LayerNorm gains and LRU's log-parameterised
  eigenvalues, as published, with no floor (a factor may change a sign).
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from bmru_jax import circuit
from bmru_jax.models import HardwareBackbone, clip_decision
from bmru_jax.training import mismatch_accuracy


def perturb_parameters(model: eqx.Module, p, *, key) -> eqx.Module:
    """Every inexact array leaf times ``1 + N(0, (p/3)^2)``, leaf ``i`` keyed by
    ``fold_in(key, i)`` (traceable in ``p``)."""
    params, static = eqx.partition(model, eqx.is_inexact_array)
    leaves, treedef = jax.tree.flatten(params)
    scaled = [
        leaf
        * (1.0 + (p / 3.0) * jax.random.normal(jax.random.fold_in(key, i), leaf.shape))
        for i, leaf in enumerate(leaves)
    ]
    return eqx.combine(jax.tree.unflatten(treedef, scaled), static)


def baseline_accuracy(model, features, labels, p_levels, dies: int, seed: int):
    """Accuracy of each (level, die) of a software model: ``(levels, dies)``.

    Die ``i`` of level ``l`` uses ``circuit.die_key(key(seed), l, i)``. Level and
    spread are traced, so every level runs through one compiled function.
    """
    root = jax.random.key(seed)
    x, y = jnp.asarray(features), jnp.asarray(labels)

    @eqx.filter_jit
    def level_accuracy(model, p, level):
        def one_die(index):
            key = circuit.die_key(root, level, index)
            noisy = perturb_parameters(model, p, key=key)
            decisions = jax.vmap(lambda clip: clip_decision(noisy(clip)))(x)
            return jnp.mean(decisions == y)

        return jax.lax.map(one_die, jnp.arange(dies))

    return np.stack(
        [
            np.asarray(level_accuracy(model, jnp.float32(p), jnp.int32(level)))
            for level, p in enumerate(p_levels)
        ]
    )


def bmru_accuracy(
    model: HardwareBackbone, features, labels, variations, dies: int, seed: int
) -> np.ndarray:
    """Accuracy of each (level, die) of the circuit of ``model``: ``(levels, dies)``.

    ``variations``: one frozen variation per level (``circuit.Multiplicative(p)``,
    ``circuit.Pelgrom(scale=s)``, ...). Die ``i`` of level ``l`` is keyed by
    ``die_key(fold_in(key(seed), l), 0, i)`` (``training.mismatch_accuracy``). No
    temporal noise: the published protocol varies frozen parameters only.
    """
    root = jax.random.key(seed)
    return np.stack(
        [
            mismatch_accuracy(
                model,
                features,
                labels,
                variation,
                dies=dies,
                key=jax.random.fold_in(root, level),
                dies_per_chunk=min(dies, 10),
            )
            for level, variation in enumerate(variations)
        ]
    )
