"""Frozen per-die variation: drawn once per chip, constant in time.

Three kinds, combinable (pass a tuple); each is an Equinox module whose levels are
array fields, so ``jit``/``vmap`` run over levels without recompiling:

- :class:`Multiplicative`: the published robustness study, ``theta (1 + N(0, (p/3)^2))``
  ("+-p at 3 sigma") on every element; ``p = 10 %`` is 1x the measured analog noise.
- :class:`Pelgrom`: threshold mismatch ``sigma(dVT) = A_VT / sqrt(W L)`` per transistor,
  which in weak inversion scales a current by ``exp(dVT / (n U_T))``.
- :class:`GlobalShift`: die-wide process corner, temperature and supply.

What an element is: each mirror (its gain), each bias source (its current), and each
cell bias current ``I_gain``, ``I_thresh``, ``I_width``. A cell parameter changes
through its measured transfer: a relative change ``f`` of the bias current gives
``param' = offset + (param - offset) f`` (e.g. ``alpha' = 6 pA + (alpha - 6 pA) f``).
A relative factor is floored at zero: a mirror or source cannot reverse its current.

Every die is drawn from the immutable nominal die, never from an earlier draw. Which
component draws with which key: ``fold_in(key, kind)``, then ``fold_in(., element)``
with a fixed id per element, so a die's numbers never depend on batch size, chunking
or which other components are present.
"""

import json
import math
import pathlib

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from bmru_jax._validate import check_non_negative, is_concrete
from bmru_jax.circuit.description import CircuitDescription, CircuitSettings
from bmru_jax.circuit.devices import (
    NOMINAL_TEMPERATURE_K,
    SLOPE_FACTOR_NMOS,
    SLOPE_FACTOR_PMOS,
    ZERO_CELSIUS_K,
    NonIdealities,
    mirror_width_from_gain,
    thermal_voltage_V,
)
from bmru_jax.circuit.die import Die, DieLayer, die_from_model, nominal_die
from bmru_jax.errors import InputError
from bmru_jax.models import HardwareBackbone

# p = 10 % at 3 sigma is "1x the measured analog noise" (published robustness study).
ONE_X_NOISE_P = 0.10

# Pelgrom coefficients when no calibration file exists, fitted to the SPEC's 200-run
# GF180MCU ngspice Monte Carlo of a 5 um / 5 um mirror at 1 nA (sigma 3.8 % NMOS,
# 3.0 % PMOS: sigma = sqrt(2) A_VT / sqrt(W L) / (n U_T)). They agree with the rule
# A_VT ~ 1 mV um per nm of gate oxide (Pelgrom et al., IEEE JSSC 24(5), 1989; Kinget,
# IEEE JSSC 40(6), 2005) for the 3.3 V devices' ~5-7 nm oxide.
DEFAULT_A_VT_NMOS_MV_UM = 5.0
DEFAULT_A_VT_PMOS_MV_UM = 4.0
CALIBRATION_FILE = pathlib.Path(__file__).parent.parent / "spice" / "calibration.json"

# Threshold-voltage shift (NMOS, PMOS) in mV per process corner; first letter NMOS.
# Not published for this design: +-30 mV is typical of 180 nm corner files. Override
# with GlobalShift(vt_shift_mV=...).
CORNER_VT_SHIFT_MV = {
    "tt": (0.0, 0.0),
    "ff": (-30.0, -30.0),
    "ss": (30.0, 30.0),
    "fs": (-30.0, 30.0),
    "sf": (30.0, -30.0),
}

_MULTIPLICATIVE, _PELGROM = 0, 1


class Multiplicative(eqx.Module):
    """``theta (1 + N(0, (p/3)^2))`` on every element, independently.

    Attributes:
        p: spread at 3 sigma as a fraction (0.1 = +-10 %), traceable.

    Example:
        >>> round(float(Multiplicative.from_multiple(3.0).p), 6)
        0.3
    """

    p: Float[Array, ""]

    def __init__(self, p=ONE_X_NOISE_P):
        check_non_negative("p", p)
        self.p = jnp.asarray(p, jnp.float32)

    @classmethod
    def from_multiple(cls, multiple) -> "Multiplicative":
        """``multiple`` times the measured analog noise (1x is ``p = 10 %``)."""
        check_non_negative("multiple", multiple)
        return cls(jnp.asarray(multiple, jnp.float32) * ONE_X_NOISE_P)


class Pelgrom(eqx.Module):
    """Pelgrom threshold mismatch of every transistor that sets a current.

    Per mirror: the output device (``W_out x L``) draws its own ``dVT``; the input
    device (``W_ref x L``) is shared by a column's mirrors of one polarity, so it draws
    once per column and polarity; the gain is scaled by
    ``exp((dVT_in - dVT_out) / (n U_T))``.
    A bias source is a ``W_ref`` copy of a reference (two devices); a cell's bias
    current is copied by a pair of the cell's area (``DeviceParameters``). Sourcing
    devices are PMOS, sinking and cell devices NMOS.

    Attributes:
        A_VT_nmos_mV_um, A_VT_pmos_mV_um: Pelgrom coefficients, mV um; default from
            the ``"pelgrom"`` section of ``bmru_jax/spice/calibration.json`` when it
            holds them, else 5.0 and 4.0 (module constants).
        scale: factor on both coefficients (the sweep level), traceable.

    Example:
        >>> Pelgrom(scale=2.0).scale.shape
        ()
    """

    A_VT_nmos_mV_um: Float[Array, ""]
    A_VT_pmos_mV_um: Float[Array, ""]
    scale: Float[Array, ""]

    def __init__(self, A_VT_nmos_mV_um=None, A_VT_pmos_mV_um=None, scale=1.0):
        default_n, default_p = calibrated_A_VT_mV_um()
        nmos = default_n if A_VT_nmos_mV_um is None else A_VT_nmos_mV_um
        pmos = default_p if A_VT_pmos_mV_um is None else A_VT_pmos_mV_um
        for name, value in (
            ("A_VT_nmos_mV_um", nmos),
            ("A_VT_pmos_mV_um", pmos),
            ("scale", scale),
        ):
            check_non_negative(name, value)
        self.A_VT_nmos_mV_um = jnp.asarray(nmos, jnp.float32)
        self.A_VT_pmos_mV_um = jnp.asarray(pmos, jnp.float32)
        self.scale = jnp.asarray(scale, jnp.float32)


def calibrated_A_VT_mV_um(path: pathlib.Path = CALIBRATION_FILE) -> tuple[float, float]:
    """``(A_VT NMOS, A_VT PMOS)`` in mV um.

    From the ``"pelgrom"`` section of the SPICE calibration file
    (``A_VT_nmos_mV_um``, ``A_VT_pmos_mV_um``) when it holds them, else the defaults.
    """
    if not path.is_file():
        return DEFAULT_A_VT_NMOS_MV_UM, DEFAULT_A_VT_PMOS_MV_UM
    try:
        pelgrom = json.loads(path.read_text()).get("pelgrom", {})
    except json.JSONDecodeError as error:
        raise InputError(f"{path}: not valid JSON ({error.msg})") from None
    names = ("A_VT_nmos_mV_um", "A_VT_pmos_mV_um")
    if not all(name in pelgrom for name in names):
        return DEFAULT_A_VT_NMOS_MV_UM, DEFAULT_A_VT_PMOS_MV_UM
    values = tuple(pelgrom[name] for name in names)
    if not all(
        isinstance(v, int | float) and math.isfinite(v) and v >= 0 for v in values
    ):
        raise InputError(f"{path}: pelgrom.A_VT_*_mV_um must be non-negative numbers")
    return values


class GlobalShift(eqx.Module):
    """Die-wide process corner, temperature and supply.

    Effects (the circuit is current-mode: a shift common to both devices of a mirror
    cancels in its gain, so the weights, thresholds and levels are corner-insensitive
    to first order, as the published 45-corner check found):

    - corner: shifts ``VT``; the cells' leakage (off-current of an NMOS) scales by
      ``exp(-dVT_n / (n U_T))``;
    - temperature: sets ``U_T = k T / q`` (mismatch and noise bandwidth) and doubles
      the leakage every ``leakage_doubling_K``;
    - supply: every copied current changes by ``(V_DD - 1.8 V) / V_A`` (Early effect).

    Attributes:
        corner: ``"tt"``, ``"ff"``, ``"ss"``, ``"fs"`` or ``"sf"`` (static).
        temperature_C: die temperature, traceable.
        vdd_V: supply, traceable.
        vt_shift_mV: (NMOS, PMOS) threshold shift, from the corner unless given.

    Example:
        >>> GlobalShift(corner="ss", temperature_C=85.0).vt_shift_mV.tolist()
        [30.0, 30.0]
    """

    temperature_C: Float[Array, ""]
    vdd_V: Float[Array, ""]
    vt_shift_mV: Float[Array, " 2"]
    corner: str = eqx.field(static=True)

    def __init__(self, corner="tt", temperature_C=27.0, vdd_V=1.8, vt_shift_mV=None):
        if corner not in CORNER_VT_SHIFT_MV:
            raise InputError(
                f"corner: must be one of {tuple(CORNER_VT_SHIFT_MV)}, got {corner!r}"
            )
        if is_concrete(temperature_C):
            kelvin = float(temperature_C) + ZERO_CELSIUS_K
            if not kelvin > 0:  # also catches NaN
                raise InputError(
                    "temperature_C: must be above -273.15 and not NaN, "
                    f"got {temperature_C!r}"
                )
        if is_concrete(vdd_V) and not float(vdd_V) > 0:
            raise InputError(f"vdd_V: must be positive and not NaN, got {vdd_V!r}")
        shift = CORNER_VT_SHIFT_MV[corner] if vt_shift_mV is None else vt_shift_mV
        self.corner = corner
        self.temperature_C = jnp.asarray(temperature_C, jnp.float32)
        self.vdd_V = jnp.asarray(vdd_V, jnp.float32)
        self.vt_shift_mV = jnp.asarray(shift, jnp.float32)


Variation = Multiplicative | Pelgrom | GlobalShift


def sample_die(
    source: CircuitDescription | Die,
    variation: Variation | tuple[Variation, ...],
    *,
    key: PRNGKeyArray,
    nonideal: NonIdealities = NonIdealities(),
) -> Die:
    """Draw one die: the nominal circuit with frozen variation.

    Args:
        source: a description, or a nominal die (faster inside a Monte Carlo loop:
            build it once with :func:`~bmru_jax.circuit.die.nominal_die`).
        variation: one variation or a tuple (applied global shift first, then
            Pelgrom, then multiplicative).
        key: this die's key (:func:`~bmru_jax.circuit.simulate.die_key`).
        nonideal: non-idealities of the die (only when ``source`` is a description).

    Returns:
        The sampled :class:`~bmru_jax.circuit.die.Die`.

    Example:
        >>> import jax
        >>> from bmru_jax.circuit.description import describe
        >>> import warnings
        >>> model = HardwareBackbone(width=4, key=jax.random.key(0))
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")  # the report is in desc.out_of_range
        ...     desc = describe(model)
        >>> die = sample_die(desc, Multiplicative(0.3), key=jax.random.key(1))
        >>> die.layers[0].W_c.shape
        (4, 4)
    """
    die = source if isinstance(source, Die) else nominal_die(source, nonideal)
    return perturb_die(die, variation, key=key)


def perturb_die(
    die: Die, variation: Variation | tuple[Variation, ...], *, key: PRNGKeyArray
) -> Die:
    """Apply frozen variation to a nominal die (pure, traceable, vmappable)."""
    variations = variation if isinstance(variation, tuple) else (variation,)
    order = {GlobalShift: 0, Pelgrom: 1, Multiplicative: 2}
    for item in variations:
        if type(item) not in order:
            raise InputError(
                "variation: must be Multiplicative, Pelgrom, GlobalShift or a tuple of "
                f"them, got {type(item).__name__}"
            )
    seen = {Multiplicative: 0, Pelgrom: 0, GlobalShift: 0}
    for item in sorted(variations, key=lambda v: order[type(v)]):
        if isinstance(item, GlobalShift):
            die = _global_shift(die, item)
            continue
        kind = _PELGROM if isinstance(item, Pelgrom) else _MULTIPLICATIVE
        item_key = jax.random.fold_in(jax.random.fold_in(key, kind), seen[type(item)])
        seen[type(item)] += 1
        apply = _pelgrom if kind == _PELGROM else _multiplicative
        die = apply(die, item, item_key)
    return die


def _rebuild(die: Die, gain, source, cell) -> Die:
    """A copy of ``die`` with every element passed through its kind's function.

    ``gain(id, W)``, ``source(id, b_nA)`` return new arrays; ``cell(id, kind, shape)``
    returns the relative factor of a cell bias current (``kind`` in gain/thresh/width).
    ``id`` is a fixed number per element, the place of its random draws.
    """
    device = die.device
    layers = []
    for index, layer in enumerate(die.layers):
        base = 16 * (index + 1)
        shape = layer.alpha_nA.shape
        alpha = _through_transfer(
            layer.alpha_nA, cell(base + 2, "gain", shape), device.gain_offset_pA
        )
        beta2 = _through_transfer(
            layer.beta2_nA, cell(base + 3, "thresh", shape), device.thresh_offset_pA
        )
        delta = _through_transfer(
            layer.delta_nA, cell(base + 4, "width", shape), device.width_offset_pA
        )
        layers.append(
            DieLayer(
                W_c=gain(base, layer.W_c),
                b_c_nA=source(base + 1, layer.b_c_nA),
                beta1_nA=beta2 - delta,
                delta_nA=delta,
                alpha_nA=alpha,
                s0=layer.s0,
                W_p=gain(base + 5, layer.W_p),
                b_p_nA=source(base + 6, layer.b_p_nA),
            )
        )
    return eqx.tree_at(
        lambda d: (d.W_in, d.b_in_nA, d.layers, d.W_fc, d.b_fc_nA),
        die,
        (
            gain(0, die.W_in),
            source(1, die.b_in_nA),
            tuple(layers),
            gain(2, die.W_fc),
            source(3, die.b_fc_nA),
        ),
    )


def _through_transfer(param_nA, factor, offset_pA):
    offset_nA = offset_pA * 1e-3
    return jnp.maximum(offset_nA + (param_nA - offset_nA) * factor, 0.0)


def _element_shapes(die: Die) -> dict[int, tuple[str, tuple[int, ...]]]:
    """``{id: (kind, shape)}`` of every element, in ``_rebuild``'s order."""
    shapes = {}

    def note(i, kind, shape, value):
        shapes[i] = (kind, shape)
        return value

    _rebuild(
        die,
        gain=lambda i, w: note(i, "gain", w.shape, w),
        source=lambda i, b: note(i, "source", b.shape, b),
        cell=lambda i, kind, shape: note(i, "cell", shape, 1.0),
    )
    return shapes


def _normals(key, shapes: dict[int, tuple[int, ...]]) -> dict:
    """Standard normals for every entry of ``shapes``, from one draw.

    One ``jax.random.normal`` per die instead of one per element keeps the compiled
    Monte Carlo small; the layout is fixed by the network, so a die's numbers still do
    not depend on how dies are batched.
    """
    sizes = [math.prod(shape) for shape in shapes.values()]
    flat = jax.random.normal(key, (sum(sizes),))
    out, start = {}, 0
    for (element, shape), size in zip(shapes.items(), sizes):
        out[element] = flat[start : start + size].reshape(shape)
        start += size
    return out


def _multiplicative(die: Die, variation: Multiplicative, key) -> Die:
    shapes = {i: shape for i, (_, shape) in _element_shapes(die).items()}
    z = _normals(key, shapes)
    sigma = variation.p / 3.0
    factor = lambda i: jnp.maximum(1.0 + sigma * z[i], 0.0)  # noqa: E731
    return _rebuild(
        die,
        gain=lambda i, w: w * factor(i),
        source=lambda i, b: b * factor(i),
        cell=lambda i, kind, shape: factor(i),
    )


# Offset of the ids of a bank's shared input devices (one per column and polarity).
_INPUT_DEVICES = 1 << 20


def _pelgrom(die: Die, variation: Pelgrom, key) -> Die:
    device = die.device
    u_t_mV = 1e3 * thermal_voltage_V(die.temperature_K)
    a_n = variation.scale * variation.A_VT_nmos_mV_um
    a_p = variation.scale * variation.A_VT_pmos_mV_um
    ref_area = device.reference_width_um * device.mirror_length_um
    elements = _element_shapes(die)
    shapes = {i: shape for i, (_, shape) in elements.items()}
    for i, (kind, shape) in elements.items():
        if kind == "gain":
            shapes[i + _INPUT_DEVICES] = (2, shape[1])
    z = _normals(key, shapes)

    def polarity(pmos):
        return jnp.where(pmos, a_p, a_n), jnp.where(
            pmos, SLOPE_FACTOR_PMOS, SLOPE_FACTOR_NMOS
        )

    def gain(element, w):
        a_vt, n = polarity(w > 0)
        width = mirror_width_from_gain(jnp.abs(w), device, sink=w < 0)
        width = jnp.maximum(width, device.mirror_widths_um[0])
        dvt_out = a_vt / jnp.sqrt(width * device.mirror_length_um) * z[element]
        # Input devices: one per column and polarity, shared by that column's mirrors.
        z_in = z[element + _INPUT_DEVICES]
        dvt_in = a_vt / math.sqrt(ref_area) * jnp.where(w > 0, z_in[0], z_in[1])
        return w * jnp.exp((dvt_in - dvt_out) / (n * u_t_mV))

    def source(element, b):
        a_vt, n = polarity(b > 0)
        sigma_mV = math.sqrt(2.0) * a_vt / math.sqrt(ref_area)
        return b * jnp.exp(sigma_mV * z[element] / (n * u_t_mV))

    def cell(element, kind, shape):
        area = getattr(device, f"cell_{kind}_area_um2")
        sigma_mV = math.sqrt(2.0) * a_n / math.sqrt(area)
        return jnp.exp(sigma_mV * z[element] / (SLOPE_FACTOR_NMOS * u_t_mV))

    return _rebuild(die, gain=gain, source=source, cell=cell)


def _global_shift(die: Die, shift: GlobalShift) -> Die:
    device = die.device
    temperature_K = shift.temperature_C + ZERO_CELSIUS_K
    u_t_mV = 1e3 * thermal_voltage_V(temperature_K)
    early = 1.0 + (shift.vdd_V - device.nominal_vdd_V) / device.early_voltage_V
    warming = 2.0 ** (
        (temperature_K - NOMINAL_TEMPERATURE_K) / device.leakage_doubling_K
    )
    corner = jnp.exp(-shift.vt_shift_mV[0] / (SLOPE_FACTOR_NMOS * u_t_mV))
    die = _rebuild(
        die,
        gain=lambda i, w: w * early,
        source=lambda i, b: b * early,
        cell=lambda i, kind, shape: early,
    )
    return eqx.tree_at(
        lambda d: (d.temperature_K, d.leakage_scale),
        die,
        (temperature_K, die.leakage_scale * corner * warming),
    )


def perturb_model(
    model: HardwareBackbone,
    variation: Variation | tuple[Variation, ...],
    *,
    key: PRNGKeyArray,
    settings: CircuitSettings = CircuitSettings(),
) -> HardwareBackbone:
    """The model as a sampled die would realise it, for noise-aware training.

    Each parameter is multiplied by its element's realised-to-nominal ratio (added to,
    where the nominal value is 0), with the ratio held constant for ``grad``: the
    forward pass is the perturbed die, and gradients flow to the nominal parameters.
    Jittable and vmappable over keys and levels.

    Example:
        >>> import jax
        >>> model = HardwareBackbone(width=4, key=jax.random.key(0))
        >>> noisy = perturb_model(model, Multiplicative(0.3), key=jax.random.key(1))
        >>> noisy.layers[0].W_c.shape
        (4, 4)
    """
    nominal = die_from_model(model, settings, NonIdealities.ideal())
    sampled = perturb_die(nominal, variation, key=key)
    unit = settings.unit_current_nA

    def apply(param, before, after):
        ratio = jnp.where(before != 0, after / jnp.where(before != 0, before, 1.0), 1.0)
        extra = jnp.where(before != 0, 0.0, after) / unit
        return param * jax.lax.stop_gradient(ratio) + jax.lax.stop_gradient(extra)

    layers = tuple(
        eqx.tree_at(
            lambda m: (m.W_c, m.b_c, m.p1, m.p2, m.p3, m.W_p, m.b_p),
            layer,
            (
                apply(layer.W_c, old.W_c, new.W_c),
                apply(layer.b_c, old.b_c_nA, new.b_c_nA),
                apply(layer.p1, old.beta1_nA, _thresholds(new)[0]),
                apply(layer.p2, old.delta_nA, _thresholds(new)[1]),
                apply(layer.p3, old.alpha_nA, new.alpha_nA),
                apply(layer.W_p, old.W_p, new.W_p),
                apply(layer.b_p, old.b_p_nA, new.b_p_nA),
            ),
        )
        for layer, old, new in zip(model.layers, nominal.layers, sampled.layers)
    )
    return eqx.tree_at(
        lambda m: (m.W_in, m.b_in, m.layers, m.W_fc, m.b_fc),
        model,
        (
            apply(model.W_in, nominal.W_in, sampled.W_in),
            apply(model.b_in, nominal.b_in_nA, sampled.b_in_nA),
            layers,
            apply(model.W_fc, nominal.W_fc, sampled.W_fc),
            apply(model.b_fc, nominal.b_fc_nA, sampled.b_fc_nA),
        ),
    )


def _thresholds(layer):
    """A die's ``(beta1, delta)`` as non-negative values that switch the same way.

    On a die ``beta1 = beta2 - delta`` can fall below zero (the cell never resets) and
    ``delta`` below zero (a comparator at ``beta2``). The model takes ``|p1|`` and
    ``|p2|``, which would fold such values back up; for a candidate that is never
    negative, clamping both into ``[0, max(beta2, 0)]`` gives the same states.
    """
    beta2 = jnp.maximum(layer.beta1_nA + layer.delta_nA, 0.0)
    beta1 = jnp.clip(layer.beta1_nA, 0.0, beta2)
    return beta1, beta2 - beta1
