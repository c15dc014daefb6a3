"""One chip as simulation arrays: realised gains, currents and thresholds in nA.

A :class:`Die` is an Equinox module (a pytree of JAX arrays), with no batch axis: a
Monte Carlo over dies is ``jax.vmap`` over the functions that make and use it. Its
arrays are the *realised* circuit, read back through the measured transfers: signed
mirror gains (unitless, current out per current in), signed bias-source currents, and
per cell ``beta1``, ``delta`` and ``alpha`` in nA. Which non-idealities apply and the
device constants travel with it as static fields.

Two ways to make the nominal die, which agree to the last bit:

- :func:`nominal_die` from a :class:`~bmru_jax.circuit.description.CircuitDescription`
  (the designer's route, through bias currents and widths);
- :func:`die_from_model` straight from a model (traceable and differentiable: training
  and ``grad`` through the simulator use it).
"""

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from bmru_jax.circuit.description import CircuitDescription, CircuitSettings
from bmru_jax.circuit.devices import (
    NOMINAL_TEMPERATURE_K,
    DeviceParameters,
    NonIdealities,
)
from bmru_jax.models import HardwareBackbone


class DieLayer(eqx.Module):
    """One BMRU layer of a die (arrays in nA; gains unitless, signed).

    Attributes:
        W_c: candidate mirror gains, ``(cells, inputs)``.
        b_c_nA: candidate bias sources, ``(cells,)``.
        beta1_nA, delta_nA, alpha_nA: realised thresholds and output level,
            ``(cells,)``.
        s0: initial states in {0, 1}, ``(cells,)``.
        W_p: post-projection mirror gains, ``(outputs, cells)``.
        b_p_nA: post-projection bias sources, ``(outputs,)``.
    """

    W_c: Float[Array, "cells inputs"]
    b_c_nA: Float[Array, " cells"]
    beta1_nA: Float[Array, " cells"]
    delta_nA: Float[Array, " cells"]
    alpha_nA: Float[Array, " cells"]
    s0: Float[Array, " cells"]
    W_p: Float[Array, "outputs cells"]
    b_p_nA: Float[Array, " outputs"]

    @property
    def beta2_nA(self) -> Float[Array, " cells"]:
        """Upper (set) threshold, ``beta1 + delta``."""
        return self.beta1_nA + self.delta_nA


class Die(eqx.Module):
    """A whole chip: input projection, BMRU layers, readout, global conditions.

    Attributes:
        W_in, b_in_nA: input projection mirrors ``(width, features)`` and sources.
        layers: the BMRU layers.
        W_fc, b_fc_nA: readout mirrors ``(classes, width)`` and sources.
        temperature_K: die temperature (thermal voltage, noise bandwidth).
        leakage_scale: factor on the cells' leakage from corner and temperature.
        unit_current_nA: nA per model unit (static).
        nonideal: which non-idealities the simulation applies (static).
        device: device constants (static).
    """

    W_in: Float[Array, "width features"]
    b_in_nA: Float[Array, " width"]
    layers: tuple[DieLayer, ...]
    W_fc: Float[Array, "classes width"]
    b_fc_nA: Float[Array, " classes"]
    temperature_K: Float[Array, ""]
    leakage_scale: Float[Array, ""]
    unit_current_nA: float = eqx.field(static=True)
    nonideal: NonIdealities = eqx.field(static=True)
    device: DeviceParameters = eqx.field(static=True)


def nominal_die(
    desc: CircuitDescription, nonideal: NonIdealities = NonIdealities()
) -> Die:
    """The die a description describes, with no variation, at 27 C and 1.8 V.

    Cell parameters are read back through the bias transfers in float64
    (``alpha = 1.017 I_gain + 6 pA`` ...) and only then rounded to float32, so a
    description of a model gives that model's numbers exactly.

    Args:
        desc: the circuit description.
        nonideal: which non-idealities the simulation of this die applies.

    Returns:
        The nominal :class:`Die`.

    Example:
        >>> import jax
        >>> from bmru_jax.circuit.description import describe
        >>> import warnings
        >>> model = HardwareBackbone(width=4, key=jax.random.key(0))
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")  # the report is in desc.out_of_range
        ...     desc = describe(model)
        >>> die = nominal_die(desc)
        >>> die.layers[0].W_c.shape
        (4, 4)
    """
    device = desc.settings.device
    layers = tuple(_layer_from_description(layer, device) for layer in desc.layers)
    return _die(
        W_in=desc.W_in.signed_gain(),
        b_in_nA=desc.b_in.signed_nA(),
        layers=layers,
        W_fc=desc.W_fc.signed_gain(),
        b_fc_nA=desc.b_fc.signed_nA(),
        settings=desc.settings,
        nonideal=nonideal,
    )


def _layer_from_description(layer, device: DeviceParameters) -> DieLayer:
    cells = layer.cells
    alpha = _realised_nA(cells.I_gain_pA, device.gain_slope, device.gain_offset_pA)
    beta2 = _realised_nA(
        cells.I_thresh_pA, device.thresh_slope, device.thresh_offset_pA
    )
    delta = _realised_nA(cells.I_width_pA, device.width_slope, device.width_offset_pA)
    return DieLayer(
        W_c=_f32(layer.W_c.signed_gain()),
        b_c_nA=_f32(layer.b_c.signed_nA()),
        beta1_nA=_f32(beta2 - delta),
        delta_nA=_f32(delta),
        alpha_nA=_f32(alpha),
        s0=_f32(cells.initial_state),
        W_p=_f32(layer.W_p.signed_gain()),
        b_p_nA=_f32(layer.b_p.signed_nA()),
    )


def _realised_nA(current_pA, slope: float, offset_pA: float) -> np.ndarray:
    # A parameter cannot be negative: the linear fit's offset ends at zero current.
    return (
        np.maximum(slope * np.asarray(current_pA, np.float64) + offset_pA, 0.0) * 1e-3
    )


def die_from_model(
    model: HardwareBackbone,
    settings: CircuitSettings = CircuitSettings(),
    nonideal: NonIdealities = NonIdealities(),
) -> Die:
    """The nominal die of ``model`` from its arrays (traceable, differentiable).

    Equal to ``nominal_die(describe(model, settings))`` when nothing is out of range
    or the policy is ``"keep"``, but without the report, so it runs inside ``jit`` and
    ``grad`` flows from a simulation back to the model's parameters.

    Example:
        >>> import jax
        >>> die = die_from_model(HardwareBackbone(width=4, key=jax.random.key(0)))
        >>> die.layers[1].alpha_nA.shape
        (4,)
    """
    unit = settings.unit_current_nA
    layers = tuple(
        DieLayer(
            W_c=layer.W_c,
            b_c_nA=layer.b_c * unit,
            beta1_nA=layer.beta1 * unit,
            delta_nA=layer.delta * unit,
            alpha_nA=layer.alpha * unit,
            s0=layer.initial_state,
            W_p=layer.W_p,
            b_p_nA=layer.b_p * unit,
        )
        for layer in model.layers
    )
    return _die(
        W_in=model.W_in,
        b_in_nA=model.b_in * unit,
        layers=layers,
        W_fc=model.W_fc,
        b_fc_nA=model.b_fc * unit,
        settings=settings,
        nonideal=nonideal,
    )


def _die(*, W_in, b_in_nA, layers, W_fc, b_fc_nA, settings, nonideal) -> Die:
    return Die(
        W_in=_f32(W_in),
        b_in_nA=_f32(b_in_nA),
        layers=layers,
        W_fc=_f32(W_fc),
        b_fc_nA=_f32(b_fc_nA),
        temperature_K=jnp.asarray(NOMINAL_TEMPERATURE_K, jnp.float32),
        leakage_scale=jnp.asarray(1.0, jnp.float32),
        unit_current_nA=float(settings.unit_current_nA),
        nonideal=nonideal,
        device=settings.device,
    )


def _f32(x) -> Float[Array, "..."]:
    return jnp.asarray(x, dtype=jnp.float32)
