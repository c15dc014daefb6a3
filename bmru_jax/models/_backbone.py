"""The hardware backbone: the network that is built as a circuit.

    x0_t     = W_in m_t + b_in                      m_t: one feature frame (13 MFCCs)
    x_l      = FQBMRU_l(x_{l-1}) + x_{l-1}          l = 1..L, residual skip
    logits_t = W_fc x_L_t + b_fc

The model width ``d`` equals each layer's state size. There is no normalisation layer:
every operation maps onto mirrors, bias sources and cells.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from bmru_jax._validate import check_finite, check_positive_int, check_shape
from bmru_jax.models._fq_bmru import FQBMRU


class BackboneTrace(eqx.Module):
    """Everything inside one run of the backbone, for inspection and circuit checks.

    Shapes: ``candidates``, ``states`` and ``outputs`` are ``(layers, time, width)``;
    ``hidden`` is ``(layers + 1, time, width)`` (``x_0 ... x_L``); ``logits`` is
    ``(time, classes)``.
    """

    candidates: Float[Array, "layers time width"]
    states: Float[Array, "layers time width"]
    outputs: Float[Array, "layers time width"]
    hidden: Float[Array, "layers_plus_one time width"]
    logits: Float[Array, "time classes"]


class HardwareBackbone(eqx.Module):
    """Input projection, ``L`` first-quadrant BMRU layers with skips, classifier.

    Example:
        >>> import jax
        >>> model = HardwareBackbone(width=4, key=jax.random.key(0))
        >>> model(jax.numpy.zeros((101, 13))).shape
        (101, 2)
    """

    W_in: Float[Array, "width features"]
    b_in: Float[Array, " width"]
    layers: tuple[FQBMRU, ...]
    W_fc: Float[Array, "classes width"]
    b_fc: Float[Array, " classes"]

    def __init__(
        self,
        n_features: int = 13,
        width: int = 4,
        n_layers: int = 2,
        n_classes: int = 2,
        *,
        key: PRNGKeyArray,
    ):
        n_features = check_positive_int("n_features", n_features)
        width = check_positive_int("width", width)
        n_layers = check_positive_int("n_layers", n_layers)
        n_classes = check_positive_int("n_classes", n_classes)
        k_in, k_fc, *k_layers = jax.random.split(key, 2 + n_layers)
        self.W_in = jax.random.normal(k_in, (width, n_features)) / jnp.sqrt(n_features)
        self.b_in = jnp.zeros((width,))
        self.layers = tuple(FQBMRU(width, width, width, key=k) for k in k_layers)
        self.W_fc = jax.random.normal(k_fc, (n_classes, width)) / jnp.sqrt(width)
        self.b_fc = jnp.zeros((n_classes,))

    @property
    def width(self) -> int:
        """Model width ``d`` (state size of every layer)."""
        return self.W_in.shape[0]

    @property
    def n_features(self) -> int:
        """Features per frame."""
        return self.W_in.shape[1]

    @property
    def n_classes(self) -> int:
        """Output classes."""
        return self.W_fc.shape[0]

    def trace(
        self,
        features: Float[Array, "time features"],
        *,
        eps: float | Float[Array, ""] = 0.0,
        parallel: bool = False,
    ) -> BackboneTrace:
        """Run one clip and keep every intermediate signal."""
        check_shape("features", features, (None, self.n_features))
        check_finite("features", features)
        x = features @ self.W_in.T + self.b_in
        hidden, candidates, states, outputs = [x], [], [], []
        for layer in self.layers:
            candidates.append(layer.candidate(x))
            states.append(layer.states(x, eps=eps, parallel=parallel))
            outputs.append(layer.project(states[-1]))
            x = outputs[-1] + x
            hidden.append(x)
        return BackboneTrace(
            candidates=jnp.stack(candidates),
            states=jnp.stack(states),
            outputs=jnp.stack(outputs),
            hidden=jnp.stack(hidden),
            logits=x @ self.W_fc.T + self.b_fc,
        )

    def __call__(
        self,
        features: Float[Array, "time features"],
        *,
        eps: float | Float[Array, ""] = 0.0,
        parallel: bool = False,
        dropout: float = 0.0,
        key: PRNGKeyArray | None = None,
    ) -> Float[Array, "time classes"]:
        """Per-frame logits for one clip (no batch axis; ``vmap`` for batches).

        Args:
            features: feature frames, shape ``(time, features)``.
            eps: leak of the training family; ``0`` is the BMRU.
            parallel: use the associative scan in every layer.
            dropout: dropout on the cells' output currents (training; needs ``key``).
            key: PRNG key for dropout.

        Returns:
            Logits, shape ``(time, classes)``.
        """
        check_shape("features", features, (None, self.n_features))
        check_finite("features", features)
        keys = (
            (None,) * len(self.layers)
            if key is None
            else jax.random.split(key, len(self.layers))
        )
        x = features @ self.W_in.T + self.b_in
        for layer, layer_key in zip(self.layers, keys):
            x = layer(x, eps=eps, parallel=parallel, dropout=dropout, key=layer_key) + x
        return x @ self.W_fc.T + self.b_fc
