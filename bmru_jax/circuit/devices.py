"""Behavioural models of the circuit's devices: mirrors, bias transfer, Schmitt cell.

Every element works on currents in nA and is written for one die with no batch axis.
Each non-ideality can be switched on its own (:class:`NonIdealities`); with all of them
off the elements are the software model's operations exactly.

Measured numbers (SPEC section 3, transistor level, GF180MCU 180 nm, 1.8 V):

- bias current to cell parameter, linear fits: ``alpha = 1.017 I_gain + 6 pA``,
  ``beta2 = 0.983 I_thresh - 11 pA``, ``delta = 0.986 I_width - 12 pA``;
- mirror gain against output width (reference ``W_ref = 5 um``): 0.14 at 0.5 um, 1.0 at
  5 um, 2.8 at 15 um (about 0.18 per um); the gain falls a few % from 0.1 to 3 nA;
- cell low output level 3-7 pA of leakage, high level droops ~2 % across the input
  range; switching takes several ms within ~1 pA of a threshold;
- subthreshold slope factor ``n = 1.42`` (NMOS), ``1.48`` (PMOS).
"""

import dataclasses

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from bmru_jax.errors import require
from bmru_jax.models import heaviside

ELEMENTARY_CHARGE_C = 1.602176634e-19
BOLTZMANN_J_PER_K = 1.380649e-23
ZERO_CELSIUS_K = 273.15
NOMINAL_TEMPERATURE_K = 300.15  # 27 C, where the SPEC figures were measured
SLOPE_FACTOR_NMOS = 1.42  # SPEC section 3, ngspice on the GF180MCU models
SLOPE_FACTOR_PMOS = 1.48

# The SPEC's nominal cell (section 3): on at ~350 pA (beta2), off at ~150 pA (beta1),
# alpha ~500 pA. The measured transfers and the 4.9 nW static figure are for a cell
# biased like this.
NOMINAL_CELL_ALPHA_PA = 500.0
NOMINAL_CELL_BETA2_PA = 350.0
NOMINAL_CELL_DELTA_PA = 200.0


@dataclasses.dataclass(frozen=True)
class NonIdealities:
    """Which departures from the ideal software model the simulation includes.

    Attributes:
        mirror_gain_dependence: mirror gain falls with its input current (~3 % from
            0.1 to 3 nA).
        leakage: a reset cell still sources 3-7 pA instead of 0.
        droop: a set cell's output falls ~2 % across the input range.
        settling: a cell needs time to switch (longer near a threshold) and is sampled
            at ~9 ms of the 10 ms frame, so a marginal switch lands a frame late.

    Example:
        >>> NonIdealities.ideal().leakage
        False
    """

    mirror_gain_dependence: bool = True
    leakage: bool = True
    droop: bool = True
    settling: bool = False

    @classmethod
    def ideal(cls) -> "NonIdealities":
        """Every non-ideality off: the simulation is the software model exactly."""
        return cls(False, False, False, False)


@dataclasses.dataclass(frozen=True)
class DeviceParameters:
    """Measured and assumed device constants; every one can be overridden.

    Attributes:
        gain_slope, gain_offset_pA: ``alpha = slope I_gain + offset`` (SPEC sec. 3).
        thresh_slope, thresh_offset_pA: ``beta2 = slope I_thresh + offset``.
        width_slope, width_offset_pA: ``delta = slope I_width + offset``.
        mirror_widths_um, mirror_gains_source, mirror_gains_sink: measured gain
            against output width, per polarity; the default points (0.5, 0.14),
            (5, 1.0), (15, 2.8) are the SPEC's, joined linearly, extended linearly
            above and proportionally below (``bmru_jax.spice`` measures finer ones).
        reference_width_um: ``W_ref``, the width of a mirror's input device.
        mirror_length_um: channel length of mirror devices (the 5 um / 5 um mirror
            of the SPEC's Monte Carlo).
        mirror_saturation_nA: ``I_sat`` in the gain's input dependence
            ``(1 + I_ref/I_sat) / (1 + I/I_sat)``; 96.6 nA makes the gain fall 3 % from
            0.1 to 3 nA ("a few percent", SPEC).
        mirror_reference_nA: input current at which the width-to-gain points hold.
        leakage_low_pA, leakage_high_pA: a reset cell's output leakage, rising from
            ``low`` at zero candidate to ``high`` at the set threshold (SPEC: 3-7 pA).
        droop_fraction, droop_range_nA: a set cell's output falls by ``droop_fraction``
            as its candidate rises from 0 to ``droop_range_nA`` (SPEC: ~2 % across the
            input range; 3 nA is the range the mirrors were characterised over).
        switch_charge_fC: charge the latch integrates before it flips; the switch time
            is ``switch_charge / overdrive`` (5 fC: 5 ms at 1 pA overdrive, the SPEC's
            "several ms within ~1 pA").
        frame_ms, sample_ms: frame length and the instant the state is read.
        early_voltage_V: output-conductance of a mirror output, for supply changes.
        nominal_vdd_V: supply at which the gains above hold.
        leakage_doubling_K: the cells' leakage doubles every this many kelvin. Not
            measured: 20 K is an assumption gentler than the ~10 K of a fully-off
            device, since the 3-7 pA floor is a residual of biased devices and the
            published 45-corner check found no failure.
        cell_gain_area_um2, cell_thresh_area_um2, cell_width_area_um2: gate area of each
            transistor of the mirror pair that copies a cell's bias current; chosen so
            that the Pelgrom model with the default ``A_VT`` reproduces the SPEC's
            200-run cell Monte Carlo (sigma ~22 pA on alpha 515 pA, ~21 pA on the
            345 pA on-threshold).

    Example:
        >>> DeviceParameters().reference_width_um
        5.0
    """

    gain_slope: float = 1.017
    gain_offset_pA: float = 6.0
    thresh_slope: float = 0.983
    thresh_offset_pA: float = -11.0
    width_slope: float = 0.986
    width_offset_pA: float = -12.0
    mirror_widths_um: tuple[float, ...] = (0.5, 5.0, 15.0)
    mirror_gains_source: tuple[float, ...] = (0.14, 1.0, 2.8)
    mirror_gains_sink: tuple[float, ...] = (0.14, 1.0, 2.8)
    reference_width_um: float = 5.0
    mirror_length_um: float = 5.0
    mirror_saturation_nA: float = 96.6
    mirror_reference_nA: float = 1.0
    leakage_low_pA: float = 3.0
    leakage_high_pA: float = 7.0
    droop_fraction: float = 0.02
    droop_range_nA: float = 3.0
    switch_charge_fC: float = 5.0
    frame_ms: float = 10.0
    sample_ms: float = 9.0
    early_voltage_V: float = 20.0
    nominal_vdd_V: float = 1.8
    leakage_doubling_K: float = 20.0
    cell_gain_area_um2: float = 20.0
    cell_thresh_area_um2: float = 10.0
    cell_width_area_um2: float = 10.0

    def __post_init__(self):
        widths = self.mirror_widths_um
        for name in ("mirror_widths_um", "mirror_gains_source", "mirror_gains_sink"):
            points = getattr(self, name)
            require(
                len(points) == len(widths) >= 2,
                f"{name}: needs {len(widths)} points (one per width), at least 2",
            )
            require(
                all(0 < a < b for a, b in zip(points, points[1:])),
                f"{name}: must be positive and strictly increasing",
            )

    def gain_limits(self, sink) -> tuple:
        """(smallest, largest) realisable gain of a sinking (else sourcing) mirror."""
        source, sinking = self.mirror_gains_source, self.mirror_gains_sink
        low = jnp.where(sink, sinking[0], source[0])
        return low, jnp.where(sink, sinking[-1], source[-1])


def thermal_voltage_V(temperature_K: Float[ArrayLike, "..."]) -> Float[Array, "..."]:
    """``U_T = k T / q`` in volts (25.87 mV at 27 C)."""
    return BOLTZMANN_J_PER_K * jnp.asarray(temperature_K) / ELEMENTARY_CHARGE_C


def mirror_gain_from_width(
    width_um: Float[ArrayLike, "..."], device: DeviceParameters, *, sink=False
) -> Float[Array, "..."]:
    """Gain of a mirror whose output device is ``width_um`` wide (``W_ref`` input).

    Piecewise linear through the measured points of its polarity (``sink``: bool or
    boolean array like ``width_um``), extended linearly above them and proportionally
    (through zero) below them.

    Example:
        >>> float(mirror_gain_from_width(jnp.asarray(5.0), DeviceParameters()))
        1.0
    """
    widths = device.mirror_widths_um
    source = _piecewise_linear(width_um, widths, device.mirror_gains_source)
    return jnp.where(
        sink, _piecewise_linear(width_um, widths, device.mirror_gains_sink), source
    )


def mirror_width_from_gain(
    gain: Float[ArrayLike, "..."], device: DeviceParameters, *, sink=False
) -> Float[Array, "..."]:
    """Output width (um) that realises mirror gain ``gain``: the inverse transfer.

    Example:
        >>> float(mirror_width_from_gain(jnp.asarray(2.8), DeviceParameters()))
        15.0
    """
    widths = device.mirror_widths_um
    source = _piecewise_linear(gain, device.mirror_gains_source, widths)
    return jnp.where(
        sink, _piecewise_linear(gain, device.mirror_gains_sink, widths), source
    )


def _piecewise_linear(x, xs: tuple[float, ...], ys: tuple[float, ...]):
    # Segment i holds x in [xs[i], xs[i+1]]; the top segment extends beyond the data.
    # Below the first point the curve runs proportionally to the origin (an ideal
    # width ratio), so that a small gain still gets a positive width.
    segment = jnp.clip(jnp.searchsorted(jnp.asarray(xs), x) - 1, 0, len(xs) - 2)
    x0, x1 = jnp.asarray(xs)[segment], jnp.asarray(xs)[segment + 1]
    y0, y1 = jnp.asarray(ys)[segment], jnp.asarray(ys)[segment + 1]
    inside = y0 + (x - x0) * (y1 - y0) / (x1 - x0)
    return jnp.where(x < xs[0], x * (ys[0] / xs[0]), inside)


def mirror_input(
    current_nA: Float[Array, "..."],
    nonideal: NonIdealities,
    device: DeviceParameters,
) -> Float[Array, "..."]:
    """Current a mirror bank effectively copies from its input ``current_nA``.

    Every output of a bank shares the input device, so the gain's dependence on the
    input current is a per-input factor and the bank stays one matrix product:

        out_i = sum_j g_ij I_j (1 + I_ref/I_sat) / (1 + I_j/I_sat)

    With ``mirror_gain_dependence`` off this returns ``current_nA`` unchanged.

    Example:
        >>> dev = DeviceParameters()
        >>> round(float(mirror_input(jnp.asarray(3.0), NonIdealities(), dev)), 3)
        2.94
    """
    if not nonideal.mirror_gain_dependence:
        return current_nA
    i_sat = device.mirror_saturation_nA
    return (
        current_nA
        * (1.0 + device.mirror_reference_nA / i_sat)
        / (1.0 + current_nA / i_sat)
    )


def cell_output_nA(
    states: Float[Array, "time cells"],
    candidates_nA: Float[Array, "time cells"],
    alpha_nA: Float[Array, " cells"],
    beta2_nA: Float[Array, " cells"],
    leakage_scale: Float[ArrayLike, ""],
    nonideal: NonIdealities,
    device: DeviceParameters,
) -> Float[Array, "time cells"]:
    """Output current of each cell: ``alpha`` when set, leakage when reset.

        y = s alpha (1 - droop min(c / range, 1)) + (1 - s) leak(c)
        leak(c) = leakage_scale (low + (high - low) min(c / beta2, 1))

    The set level is re-created from the bias current ``I_gain``, so the candidate
    only reaches the output through the small droop and leakage slopes.

    Args:
        states: cell states in {0, 1}, ``(time, cells)``.
        candidates_nA: candidate currents, ``(time, cells)``, nA.
        alpha_nA: set output level per cell, nA.
        beta2_nA: upper threshold per cell, nA (scales the leakage rise).
        leakage_scale: global factor on the leakage (corner, temperature).
        nonideal: which non-idealities apply.
        device: device constants.

    Returns:
        Output currents, ``(time, cells)``, nA.
    """
    high = alpha_nA * jnp.ones_like(candidates_nA)
    if nonideal.droop:
        fraction = jnp.minimum(candidates_nA / device.droop_range_nA, 1.0)
        high = high * (1.0 - device.droop_fraction * fraction)
    y = states * high
    if nonideal.leakage:
        rise = jnp.minimum(candidates_nA / jnp.maximum(beta2_nA, 1e-6), 1.0)
        span_pA = device.leakage_high_pA - device.leakage_low_pA
        leak_nA = leakage_scale * (device.leakage_low_pA + span_pA * rise) * 1e-3
        y = y + (1.0 - states) * leak_nA
    return y


def schmitt_states(
    candidates_nA: Float[Array, "time cells"],
    beta1_nA: Float[Array, " cells"],
    delta_nA: Float[Array, " cells"],
    s0: Float[Array, " cells"],
    nonideal: NonIdealities,
    device: DeviceParameters,
    *,
    slope: float = 1.0,
) -> Float[Array, "time cells"]:
    """Sampled states of the Schmitt-trigger cells, differentiable by the surrogate.

    Without ``settling`` this is the software recurrence
    ``s_t = A_t (1 - B_t) s_{t-1} + B_t`` (as :func:`bmru_jax.models.fq_bmru_scan`).
    With it, a cell whose switching condition holds integrates its overdrive (the
    distance of the candidate past the threshold) and flips once the charge reaches
    ``switch_charge_fC``; the state is read at ``sample_ms``, and charge gathered in a
    frame without a flip carries into the next frame while the condition persists.

    Args:
        candidates_nA: ``(time, cells)``, nA.
        beta1_nA, delta_nA: thresholds, ``(cells,)``, nA.
        s0: initial states in {0, 1}, ``(cells,)``.
        nonideal, device: as elsewhere.
        slope: surrogate-gradient slope of the Heaviside steps.

    Returns:
        States in {0, 1}, ``(time, cells)``.
    """
    if not nonideal.settling:
        return _schmitt_scan(candidates_nA, beta1_nA, delta_nA, s0, slope)
    return _settling_scan(candidates_nA, beta1_nA, delta_nA, s0, device, slope)


def _schmitt_scan(candidates, beta1, delta, s0, slope):
    # The same steps as bmru_jax.models.fq_bmru_scan at eps = 0 (so the same states),
    # with the comparisons inside the scan body: one pass over the candidates instead
    # of building the per-frame coefficients first, about twice as fast when batched.
    beta2 = beta1 + delta

    def step(s, c):
        above_low = heaviside(c - beta1, slope)
        above_high = heaviside(c - beta2, slope)
        s = above_low * (1.0 - above_high) * s + above_high
        return s, s

    _, states = jax.lax.scan(step, s0.astype(candidates.dtype), candidates)
    return states


def _settling_scan(candidates, beta1, delta, s0, device, slope):
    # Charge in fC from an overdrive in nA held for a time in ms: 1 nA ms = 1000 fC.
    fC_per_nA_to_sample = 1e3 * device.sample_ms
    fC_per_nA_per_frame = 1e3 * device.frame_ms

    def step(carry, c):
        s, charge = carry
        up = heaviside(c - (beta1 + delta), slope)
        down = 1.0 - heaviside(c - beta1, slope)
        overdrive = (1.0 - s) * (c - (beta1 + delta)) + s * (beta1 - c)
        wants = (1.0 - s) * up + s * down
        done = wants * heaviside(
            charge + overdrive * fC_per_nA_to_sample - device.switch_charge_fC, slope
        )
        s_new = s + (1.0 - 2.0 * s) * done
        charge = wants * (1.0 - done) * (charge + overdrive * fC_per_nA_per_frame)
        return (s_new, charge), s_new

    init = (s0.astype(candidates.dtype), jnp.zeros_like(beta1))
    _, states = jax.lax.scan(step, init, candidates)
    return states


def bias_current_pA(param_pA, slope: float, offset_pA: float):
    """Bias current that realises a cell parameter: ``I = (param - offset) / slope``.

    Example:
        >>> round(bias_current_pA(500.0, 1.017, 6.0), 2)
        485.74
    """
    return (param_pA - offset_pA) / slope
